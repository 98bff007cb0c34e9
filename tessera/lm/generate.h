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

class PromptCache;

struct GenerationConfig {
  int max_tokens = 256;                         // generated tokens at most
  SamplerConfig sampler;                        // temp 0 = greedy
  std::optional<std::vector<int32_t>> eos_ids;  // stop ids; default: the tokenizer's eos_ids()
  std::vector<std::string> stop_strings;        // generation stops before the first occurrence of any
  int max_kv_size = 0;                          // 0: grow the cache as needed
  // Reused across calls: only the part of the prompt after the longest prefix it already holds is
  // prefilled; afterwards it holds the prompt and the generated tokens (see prompt_cache.h).
  PromptCache* prompt_cache = nullptr;
  // Speculative decoding: the draft proposes num_draft_tokens greedy tokens per step, the model checks
  // them in one pass and keeps the longest prefix equal to its own choices (so the output is the
  // model's own). The draft must have the model's vocabulary size.
  const Llama* draft_model = nullptr;
  int num_draft_tokens = 3;
  // Quantized KV cache (MLX-LM's kv_bits, kv_group_size, quantized_kv_start): see GenerateStepOptions.
  int kv_bits = 0;
  int kv_group_size = 64;
  int quantized_kv_start = 0;
};

struct GenerationStats {
  int prompt_tokens = 0;
  double prompt_tps = 0;  // prompt tokens / time to the first generated token
  int generation_tokens = 0;
  double generation_tps = 0;  // tokens after the first / time after the first
  double peak_memory_mb = 0;  // tessera::get_peak_memory() / 1e6
  double prompt_time_s = 0, generation_time_s = 0;
  int cached_prompt_tokens = 0;  // prompt tokens found in the prompt cache (not prefilled again)
  int draft_tokens = 0;          // tokens the draft model proposed
  int accepted_draft_tokens = 0; // of those, the ones the model kept
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
// forward pass, then one token per step through the cache (or several with a draft model).
// prompt with an empty one replaced by the tokenizer's BOS (tokenizer may be null); throws
// "[area] ..." when empty without a BOS, or for an id outside the model's vocabulary.
std::vector<int32_t> checked_prompt(const Llama& model, const Tokenizer* tokenizer, const std::vector<int32_t>& prompt,
                                    const std::string& area);

// Position of the first occurrence of any of `stops` in text (npos: none).
size_t find_stop(const std::string& text, const std::vector<std::string>& stops);

GenerationResult generate(const Llama& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                          const GenerationConfig& config = {}, const PieceCallback& on_piece = {});

}  // namespace tessera::lm
