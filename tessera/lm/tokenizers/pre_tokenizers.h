// Hugging Face `tokenizers` pre-tokenizers: ByteLevel, Split, Metaspace, Digits, Whitespace, Bert, Sequence.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tessera::lm::tok {

// One piece of the text on its way to the model; at_origin: it starts at offset 0 of the original text.
struct Split {
  std::string text;
  bool at_origin = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(std::vector<Split>& splits) const = 0;
};

// The regex that GPT-2's ByteLevel pre-tokenizer uses.
extern const char* const kGpt2Pattern;

// Maps every byte of s to its GPT-2 byte-level character.
std::string byte_level_encode(const std::string& s);

std::unique_ptr<PreTokenizer> make_split_pre_tokenizer(const std::string& regex, const std::string& behavior,
                                                       bool invert);
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex);
std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> items);

// From a tokenizer.json object; null gives nullptr; unknown types throw.
std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const nlohmann::json& j);

}  // namespace tessera::lm::tok
