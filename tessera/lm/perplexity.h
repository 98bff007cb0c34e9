// Perplexity of a model on a token stream, and the KL divergence of a model from a reference model.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tessera/array.h"
#include "tessera/lm/models/llama.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

struct PerplexityOptions {
  int context = 512;  // tokens per forward pass (window length)
  int stride = 0;     // window start step; 0: context (windows do not overlap)
  int64_t max_tokens = 0;  // > 0: only the first max_tokens tokens of the stream are used
  // > 0: each window of the model (not of a KL reference) runs through a KV cache quantized to kv_bits
  // from its first token (KVCache::set_quantization), to measure what --kv-bits costs.
  int kv_bits = 0;
  int kv_group_size = 64;
};

// The ids of text with the tokenizer's special tokens (BOS), the first max_tokens of them when
// max_tokens > 0; then only a prefix of a long text (cut at a line end) is tokenized.
std::vector<int32_t> perplexity_tokens(const Tokenizer& tokenizer, std::string_view text, int64_t max_tokens = 0);

// One forward pass over tokens [begin, end) that scores tokens [first_scored, end): each scored token i
// is predicted from the logits at i - 1 with the window's tokens [begin, i) as context.
struct Window {
  int64_t begin = 0, end = 0, first_scored = 0;
};

// The windows over n tokens: window k starts at k * stride and spans up to `context` tokens; it scores
// its tokens after its first that no earlier window scored. With stride == context the first token of
// every window (and token 0) is not scored; a smaller stride scores them with more context. Throws
// std::invalid_argument "[perplexity] ..." unless context >= 2 and 1 <= stride <= context.
std::vector<Window> perplexity_windows(int64_t n_tokens, int context, int stride);

// logits (L, V), targets (L,) int32 -> (L,) float32: -log softmax(logits[i])[targets[i]] (lazy).
array token_nll(const array& logits, const array& targets);

struct PerplexityResult {
  double nll_sum = 0;        // sum of the scored tokens' negative log-likelihoods (nats)
  int64_t tokens = 0;        // scored tokens
  int64_t windows = 0;       // forward passes
  double mean_nll() const;   // nll_sum / tokens
  double perplexity() const; // exp(mean_nll())
};

// tokens: the text's ids (usually BOS first). Throws "[perplexity] ..." on fewer than 2 tokens, bad
// options, or an id outside the model's vocabulary.
PerplexityResult perplexity(const Llama& model, const std::vector<int32_t>& tokens,
                            const PerplexityOptions& options = {});

struct KLResult {
  double mean_kl = 0;          // mean over scored positions of KL(P_reference || P_model) (nats)
  double max_kl = 0;           // the largest per-position KL
  double top1_agreement = 0;   // fraction of positions where both argmaxes agree
  PerplexityResult model;      // the model's perplexity on the same tokens
  PerplexityResult reference;  // the reference's
};

// Per scored position i (as perplexity's windows): sum_v p_ref(v) (log p_ref(v) - log p_model(v)) of the
// next-token distributions, and whether argmax agrees. Throws "[perplexity] ..." when the vocabulary
// sizes differ, and as perplexity().
KLResult kl_divergence(const Llama& model, const Llama& reference, const std::vector<int32_t>& tokens,
                       const PerplexityOptions& options = {});

}  // namespace tessera::lm
