// Text generation: prefill the prompt, then decode token by token with a KV cache, streaming text.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/lm/models/llama.h"
#include "tessera/lm/sample.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

struct GenerationConfig {
  int max_tokens = 256;                         // generated tokens at most
  SamplerConfig sampler;                        // temp 0 = greedy
  std::optional<std::vector<int32_t>> eos_ids;  // stop ids; default: the tokenizer's eos_ids()
  std::vector<std::string> stop_strings;        // generation stops before the first occurrence of any
  int max_kv_size = 0;                          // 0: grow the cache as needed
};

struct GenerationStats {
  int prompt_tokens = 0;
  double prompt_tps = 0;  // prompt tokens / time to the first generated token
  int generation_tokens = 0;
  double generation_tps = 0;  // tokens after the first / time after the first
  double peak_memory_mb = 0;  // tessera::get_peak_memory() / 1e6
  double prompt_time_s = 0, generation_time_s = 0;
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids (without the prompt; a final stop id excluded)
  std::string text;             // their text (cut before a stop string)
  std::string finish_reason;    // "length", "stop" (eos id) or "stop_string"
  GenerationStats stats;
};

// Called with each piece of text as soon as it is complete (UTF-8 safe, never part of a stop string).
using PieceCallback = std::function<void(std::string_view)>;

// prompt: token ids (an empty prompt starts from the tokenizer's BOS). The prompt is run in one
// forward pass, then one token per step through the cache.
GenerationResult generate(const Llama& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                          const GenerationConfig& config = {}, const PieceCallback& on_piece = {});

}  // namespace tessera::lm
