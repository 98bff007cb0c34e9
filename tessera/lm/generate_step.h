// Token-by-token decoding (MLX-LM's generate_step / speculative_generate_step) as an iterator: prefill
// after a prompt cache's prefix, then one token per step, or several when a draft model speculates.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tessera/lm/decode_graph.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/models/llama.h"
#include "tessera/lm/sample.h"

namespace tessera::lm {

class PromptCache;

struct GenerateStepOptions {
  SamplerConfig sampler;               // temp 0 = greedy
  int max_kv_size = 0;                 // own cache only (0: grows)
  PromptCache* prompt_cache = nullptr; // reused across calls; holds the decoded sequence afterwards
  const Llama* draft_model = nullptr;  // speculative decoding when set (same vocabulary size)
  int num_draft_tokens = 3;
  // Quantized KV cache (MLX-LM's --kv-bits): 0 = full precision; else the bits of the keys/values
  // (see KVCache::set_quantization), for the model's cache (own or the prompt cache's) and the draft's.
  int kv_bits = 0;
  int kv_group_size = 64;
  int quantized_kv_start = 0;  // positions kept in full precision before the cache is quantized
  // Pipelined decoding (as MLX-LM's generate_step): while the device computes step t, the host builds
  // and queues step t + 1 on the lazy token of step t, so graph building and kernel launches overlap
  // the device's work. Same tokens as unpipelined. Used when there is no draft model, no prompt cache
  // and no repetition penalty (which needs the token values before the next step is built).
  bool pipelined = true;
  // Decode steps replayed as a CUDA graph (DecodeGraph) on the GPU when the model and cache allow it
  // and at least this many tokens may still come (a capture costs about two steps). 0: never.
  int decode_graph_min_tokens = 8;
};

struct StepToken {
  int32_t token;
  bool from_draft;  // proposed by the draft model (and accepted)
};

class GenerateStep {
 public:
  // prompt: non-empty valid token ids (see checked_prompt). Throws "[generate] ..." for a draft of
  // another vocabulary size, num_draft_tokens < 1 or a prompt cache of another model.
  GenerateStep(const Llama& model, std::vector<int32_t> prompt, const GenerateStepOptions& options = {});

  // The next decided tokens, at least one and at most `room` (> 0): the first call prefills the prompt
  // and returns one token; later calls run the last token (plus a draft's proposals) and return one
  // token, or the accepted proposals and the model's own next token.
  std::vector<StepToken> next(int room = 1);

  // The prompt and every token returned so far.
  const std::vector<int32_t>& history() const { return history_; }
  int prompt_tokens() const { return prompt_tokens_; }
  int cached_prompt_tokens() const { return cached_prompt_tokens_; }
  int draft_tokens() const { return draft_tokens_; }
  int accepted_draft_tokens() const { return accepted_draft_tokens_; }

 private:
  array run(const std::vector<int32_t>& ids);  // -> logits (1, L, V), recorded in the prompt cache
  int32_t sample(const array& logits, int position, const std::vector<int32_t>& context);
  std::vector<StepToken> speculate(int k);
  int32_t next_pipelined(int room);
  bool can_pipeline() const;
  // Logits (1, 1, V) of one token (1, 1) int32 at the cache's offset: through the decode graph when
  // it serves, else Llama::forward. room: tokens that may still come.
  array decode(const array& token, int room);

  const Llama& model_;
  GenerateStepOptions options_;
  Sampler sampler_;
  std::optional<KVCache> own_cache_;
  KVCache* cache_;
  std::optional<KVCache> draft_cache_;
  std::vector<int32_t> prefill_, history_, draft_pending_;  // draft_pending_: decided, not seen by the draft
  int prompt_tokens_ = 0, cached_prompt_tokens_ = 0, draft_tokens_ = 0, accepted_draft_tokens_ = 0;
  bool started_ = false;
  std::optional<array> queued_;  // pipelined: the next token (1,) int32, already queued
  std::optional<DecodeGraph> graph_;
};

}  // namespace tessera::lm
