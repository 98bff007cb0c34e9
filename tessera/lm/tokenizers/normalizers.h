// Hugging Face `tokenizers` normalizers: NFC/NFD/NFKC/NFKD, Lowercase, Replace, Prepend, Strip, Sequence, ...
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace tessera::lm::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& s) const = 0;  // s: valid UTF-8, rewritten in place
};

// Unicode normal forms through utf8proc ("NFC", "NFD", "NFKC", "NFKD"); ASCII passes unchanged.
std::string unicode_normalize(const std::string& s, const std::string& form);

// Builds a normalizer from its tokenizer.json object; null json gives nullptr. Unknown types throw.
std::unique_ptr<Normalizer> normalizer_from_json(const nlohmann::json& j);

}  // namespace tessera::lm::tok
