// Token sampling (MLX-LM's sample_utils): greedy, temperature, top-k, top-p, min-p, repetition penalty, logit
// bias.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "tessera/array.h"

namespace tessera::lm {

struct SamplerConfig {
  float temp = 0.0f;           // <= 0: greedy (argmax)
  float top_p = 1.0f;          // nucleus: keep the smallest top set with mass >= top_p; off when >= 1 or <= 0
  int top_k = 0;               // keep the k most likely; off when <= 0
  float min_p = 0.0f;          // keep p >= min_p * p_max; off when <= 0
  int min_tokens_to_keep = 1;  // for min_p
  float repetition_penalty =
      1.0f;  // > 1 discourages the last repetition_context_size tokens; off when 1 or <= 0
  int repetition_context_size = 20;
  std::map<int32_t, float> logit_bias;  // added to the logits of these ids
  uint64_t seed = 0;                    // the sampler's tessera random key
};

// Filters on log-probabilities (..., V): dropped tokens become -inf, kept ones are unchanged.
array apply_top_k(const array& logprobs, int k);
array apply_top_p(const array& logprobs, float top_p);
array apply_min_p(const array& logprobs, float min_p, int min_tokens_to_keep = 1);

// Logits processors on (B, V) logits. The penalty divides positive and multiplies negative logits of
// the distinct ids in `context`.
array apply_repetition_penalty(const array& logits, const std::vector<int32_t>& context, float penalty);
array apply_logit_bias(const array& logits, const std::map<int32_t, float>& bias);

class Sampler {
 public:
  explicit Sampler(SamplerConfig config);

  // logits: (B, V) (or (V,)); history: the tokens so far, for the repetition penalty.
  // Returns (B,) (or scalar) int32 token ids, lazy. Each sampling call advances the random key.
  array operator()(const array& logits, const std::vector<int32_t>& history = {});

  const SamplerConfig& config() const { return config_; }

 private:
  SamplerConfig config_;
  std::optional<array> key_;
};

}  // namespace tessera::lm
