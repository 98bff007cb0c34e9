// Chat prompts: renders a conversation with a model's chat template and tokenizes it (special tokens parsed).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

// messages: a JSON list of {"role", "content"}. Renders `template_source` as transformers'
// apply_chat_template does, with bos_token / eos_token set from the tokenizer's BOS and first EOS.
std::string render_chat(const Tokenizer& tokenizer, const std::string& template_source,
                        const nlohmann::ordered_json& messages, bool add_generation_prompt = true);

// Tokenizes text written by a chat template: special tokens spelled in the text (<|im_start|>, <s>, ...)
// become their ids and the rest is encoded without adding BOS/EOS (the template writes those it wants).
std::vector<int32_t> encode_chat_text(const Tokenizer& tokenizer, std::string_view text);

}  // namespace tessera::lm
