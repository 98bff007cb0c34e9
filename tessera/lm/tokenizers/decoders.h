// Hugging Face `tokenizers` decoders: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, WordPiece, Sequence.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tessera::lm::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the token strings; the decoded text is their concatenation.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

std::unique_ptr<Decoder> make_byte_level_decoder();
// From a tokenizer.json object; null gives nullptr; unknown types throw.
std::unique_ptr<Decoder> decoder_from_json(const nlohmann::json& j);

}  // namespace tessera::lm::tok
