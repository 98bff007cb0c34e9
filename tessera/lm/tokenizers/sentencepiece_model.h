// The parts of SentencePiece's ModelProto that tokenization needs, and a hand-written protobuf wire-format reader.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::lm {

struct SpmPiece {
  enum Type : int { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
  std::string piece;
  float score = 0;
  int type = kNormal;
};

struct SpmModel {
  enum ModelType : int { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };
  std::vector<SpmPiece> pieces;  // id = index
  int model_type = kUnigram;
  bool byte_fallback = false;
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  std::string unk_surface = " \xE2\x81\x87 ";
  bool treat_whitespace_as_suffix = false;
  // normalizer_spec
  std::string normalizer_name;
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
};

// Parses a serialized ModelProto (tokenizer.model); malformed data throws std::invalid_argument("[tokenizer] ...").
SpmModel parse_sentencepiece_model(std::string_view bytes);

}  // namespace tessera::lm
