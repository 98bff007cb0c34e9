// Sampling from logits with tessera ops: processors, then argmax or filtered categorical draws.
#include "tessera/lm/sample.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>

#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::lm {

namespace {
array neg_inf() { return array(-std::numeric_limits<float>::infinity()); }
}  // namespace

array apply_top_k(const array& logprobs, int k) {
  const int V = logprobs.shape(-1);
  if (k <= 0 || k >= V) return logprobs;
  // Indices of everything but the k largest, set to -inf.
  array idx = argpartition(-logprobs, k - 1, -1);
  Shape start(logprobs.ndim(), 0), stop = idx.shape();
  start.back() = k;
  array drop = slice(idx, start, stop);
  return put_along_axis(logprobs, drop, neg_inf(), -1);
}

array apply_top_p(const array& logprobs, float top_p) {
  if (top_p <= 0.0f || top_p >= 1.0f) return logprobs;
  // Descending order; keep a token while the mass of the tokens before it is below top_p.
  array order = argsort(-logprobs, -1);
  array sorted_probs = exp(take_along_axis(logprobs, order, -1));
  array mass_before = cumsum(sorted_probs, -1, /*reverse=*/false, /*inclusive=*/false);
  array keep_sorted = less(mass_before, array(top_p));
  array keep = put_along_axis(zeros(logprobs.shape(), bool_), order, keep_sorted, -1);
  return where(keep, logprobs, neg_inf());
}

array apply_min_p(const array& logprobs, float min_p, int min_tokens_to_keep) {
  if (min_p <= 0.0f) return logprobs;
  if (min_p > 1.0f) throw std::invalid_argument("[sample] min_p must be in [0, 1].");
  array threshold = max(logprobs, -1, /*keepdims=*/true) + array(std::log(min_p));
  array keep = greater_equal(logprobs, threshold);
  const int V = logprobs.shape(-1);
  if (min_tokens_to_keep > 1) {
    int m = std::min(min_tokens_to_keep, V);
    array mth = min(topk(logprobs, m, -1), -1, /*keepdims=*/true);  // the m-th largest
    keep = logical_or(keep, greater_equal(logprobs, mth));
  }
  return where(keep, logprobs, neg_inf());
}

array apply_repetition_penalty(const array& logits, const std::vector<int32_t>& context, float penalty) {
  if (context.empty() || penalty == 1.0f || penalty <= 0.0f) return logits;
  const int V = logits.shape(-1);
  std::set<int32_t> distinct;
  for (int32_t t : context) {
    if (t >= 0 && t < V) distinct.insert(t);
  }
  if (distinct.empty()) return logits;
  std::vector<int32_t> ids(distinct.begin(), distinct.end());
  Shape idx_shape(logits.ndim(), 1);
  idx_shape.back() = static_cast<int>(ids.size());
  Shape bshape = logits.shape();
  bshape.back() = idx_shape.back();
  array idx = broadcast_to(array(ids, idx_shape), bshape);
  array selected = take_along_axis(logits, idx, -1);
  array p(penalty);
  selected = where(less(selected, array(0.0f)), selected * p, selected / p);
  return put_along_axis(logits, idx, selected, -1);
}

array apply_logit_bias(const array& logits, const std::map<int32_t, float>& bias) {
  if (bias.empty()) return logits;
  const int V = logits.shape(-1);
  std::vector<float> dense(V, 0.0f);
  for (auto [id, b] : bias) {
    if (id < 0 || id >= V) {
      throw std::out_of_range("[sample] logit_bias id " + std::to_string(id) + " out of range [0, " +
                              std::to_string(V) + ").");
    }
    dense[id] = b;
  }
  return logits + array(dense, {V});
}

Sampler::Sampler(SamplerConfig config) : config_(std::move(config)) {
  if (config_.top_k < 0) throw std::invalid_argument("[sample] top_k must be >= 0.");
  if (config_.min_p < 0.0f || config_.min_p > 1.0f)
    throw std::invalid_argument("[sample] min_p must be in [0, 1].");
  if (config_.top_p < 0.0f) throw std::invalid_argument("[sample] top_p must be in [0, 1].");
  key_ = random::key(config_.seed);
}

array Sampler::operator()(const array& logits_in, const std::vector<int32_t>& history) {
  array logits = astype(logits_in, float32);
  if (config_.repetition_penalty != 1.0f && config_.repetition_context_size > 0) {
    size_t n = std::min<size_t>(history.size(), static_cast<size_t>(config_.repetition_context_size));
    std::vector<int32_t> ctx(history.end() - static_cast<std::ptrdiff_t>(n), history.end());
    logits = apply_repetition_penalty(logits, ctx, config_.repetition_penalty);
  }
  logits = apply_logit_bias(logits, config_.logit_bias);
  if (config_.temp <= 0.0f) return astype(argmax(logits, -1), int32);
  array logprobs = logits - logsumexp(logits, -1, /*keepdims=*/true);
  logprobs = apply_top_p(logprobs, config_.top_p);
  logprobs = apply_min_p(logprobs, config_.min_p, config_.min_tokens_to_keep);
  logprobs = apply_top_k(logprobs, config_.top_k);
  auto [next, sub] = random::split(*key_);
  key_ = next;
  return astype(random::categorical(logprobs * array(1.0f / config_.temp), -1, sub), int32);
}

}  // namespace tessera::lm
