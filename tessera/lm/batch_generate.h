// Batched generation (MLX-LM's batch_generate): several prompts decoded together, left-padded, each
// row stopping on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tessera/lm/models/llama.h"
#include "tessera/lm/sample.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

struct BatchGenerationConfig {
  int max_tokens = 256;                         // generated tokens per prompt at most
  SamplerConfig sampler;                        // temp 0 = greedy; applied to each row on its own
  std::optional<std::vector<int32_t>> eos_ids;  // default: the tokenizer's eos_ids() (none without one)
  std::vector<std::string> stop_strings;        // needs a tokenizer; a row stops before the first one
  int batch_size = 0;                           // rows decoded together; 0: batch_size_for_memory
  // Quantized KV cache (see KVCache::set_quantization); kv_bits 0: full precision.
  int kv_bits = 0;
  int kv_group_size = 64;
  int quantized_kv_start = 0;
};

struct BatchGenerationResult {  // MLX-LM's BatchResponse
  std::vector<std::vector<int32_t>> tokens;  // per prompt, generated ids (a final stop id excluded)
  std::vector<std::string> texts;            // per prompt (empty without a tokenizer)
  std::vector<std::string> finish_reasons;   // per prompt: "length", "stop" or "stop_string"
  int batch_size = 0;                        // rows decoded together
  int prompt_tokens = 0, generation_tokens = 0;  // totals over the prompts
  double prompt_time_s = 0, generation_time_s = 0;
  double prompt_tps = 0, generation_tps = 0;
  double peak_memory_mb = 0;
};

// Bytes of keys and values one position of one sequence takes in the KV cache (float32 activations).
size_t kv_bytes_per_token(const LlamaConfig& config);

// Rows that fit in half the free memory (get_memory_limit() - get_active_memory()) with sequences of
// seq_len positions (KV cache plus prefill logits), between 1 and max_rows.
int batch_size_for_memory(const LlamaConfig& config, int seq_len, int max_rows);

// prompts: token ids per prompt (an empty one starts from the tokenizer's BOS). Prompts are sorted
// by length and run in chunks of batch_size rows: one left-padded prefill per chunk, then one token
// per step for the rows still running (finished rows leave the batch). With greedy sampling each
// result equals generate() on that prompt alone. tokenizer may be null (no texts, no stop strings).
// Throws "[batch_generate] ..." for no prompts or a token out of range.
BatchGenerationResult batch_generate(const Llama& model, const Tokenizer* tokenizer,
                                     const std::vector<std::vector<int32_t>>& prompts,
                                     const BatchGenerationConfig& config = {});

}  // namespace tessera::lm
