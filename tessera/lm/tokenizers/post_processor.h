// Post-processing of a single sequence (TemplateProcessing, Roberta/Bert, ByteLevel, Sequence): ids around the text.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tessera::lm::tok {

struct PostProcessor {
  std::vector<int32_t> prefix;  // added before the sequence when add_special_tokens
  std::vector<int32_t> suffix;  // added after it
};

// From a tokenizer.json "post_processor" object (null: nothing added); unknown types throw.
PostProcessor post_processor_from_json(const nlohmann::json& j);

}  // namespace tessera::lm::tok
