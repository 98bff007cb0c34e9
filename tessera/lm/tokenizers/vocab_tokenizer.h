// Builds a tokenizer from plain vectors (as GGUF `tokenizer.ggml.*` metadata holds them), without reparsing files.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

struct VocabSpec {
  enum class Kind { kSentencePieceBpe, kSentencePieceUnigram, kByteLevelBpe };
  Kind kind = Kind::kSentencePieceBpe;
  std::vector<std::string> tokens;  // id = index
  std::vector<float> scores;        // SentencePiece kinds (empty: all 0)
  // GGUF / SentencePiece types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte (empty: all normal).
  std::vector<int32_t> token_types;
  std::vector<std::string> merges;  // byte-level BPE: "a b" in rank order
  // Byte-level BPE: the pre-tokenizer regex (empty: the GPT-2 pattern).
  std::string pre_tokenizer_regex;
  // Byte-level BPE: when non-empty, these regexes split in turn (each an "Isolated" split of the pieces the
  // previous one left, as llama.cpp's pre-tokenizer regex lists and HF Sequence pre-tokenizers do); replaces
  // pre_tokenizer_regex.
  std::vector<std::string> pre_tokenizer_regexes;
  // Byte-level BPE: a word that is itself in the vocabulary is not split (Llama-3's `ignore_merges`).
  bool ignore_merges = false;
  std::optional<int32_t> bos_id, eos_id, unk_id, pad_id;
  std::vector<int32_t> extra_eos_ids;  // e.g. end-of-turn tokens
  bool add_bos = true;
  bool add_space_prefix = true;  // SentencePiece kinds: the dummy "▁" prefix
  bool byte_fallback = true;     // SentencePiece kinds
  std::optional<std::string> chat_template;
};

// Throws std::invalid_argument("[tokenizer] ...") when the vocabulary is empty, the vectors disagree in length
// or special ids are out of range.
void validate_vocab_spec(const VocabSpec& spec);

// Throws as validate_vocab_spec.
std::shared_ptr<Tokenizer> make_tokenizer_from_vocab(const VocabSpec& spec);

}  // namespace tessera::lm
