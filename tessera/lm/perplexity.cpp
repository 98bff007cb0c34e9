// Perplexity and KL divergence over strided windows of a token stream, accumulated in float64.
#include "tessera/lm/perplexity.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>

#include "tessera/lm/kv_cache.h"
#include "tessera/ops.h"
#include "tessera/scheduler.h"

namespace tessera::lm {

namespace {

std::vector<int32_t> checked_tokens(const Llama& model, const std::vector<int32_t>& tokens,
                                    const PerplexityOptions& o) {
  if (o.max_tokens < 0) throw std::invalid_argument("[perplexity] max_tokens must be >= 0");
  size_t n = tokens.size();
  if (o.max_tokens > 0) n = std::min<size_t>(n, static_cast<size_t>(o.max_tokens));
  if (n < 2) {
    throw std::invalid_argument("[perplexity] need at least 2 tokens to score, got " + std::to_string(n) +
                                " (is the text empty?)");
  }
  const int vocab = model.config().vocab_size;
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab) {
      throw std::out_of_range("[perplexity] token id " + std::to_string(tokens[i]) + " at position " +
                              std::to_string(i) + " is outside the model's vocabulary of " +
                              std::to_string(vocab));
    }
  }
  return {tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n)};
}

// The window's next-token logits for its scored tokens: (n_scored, V), and those tokens (n_scored,).
struct WindowLogits {
  array logits;
  array targets;
};

// kv_bits > 0: through a fresh KV cache quantized from the first token.
WindowLogits window_logits(const Llama& model, const std::vector<int32_t>& tokens, const Window& w, int kv_bits = 0,
                           int kv_group_size = 64) {
  const int len = static_cast<int>(w.end - w.begin);
  std::vector<int32_t> ids(tokens.begin() + w.begin, tokens.begin() + w.end);
  std::optional<KVCache> cache;
  if (kv_bits > 0) {
    cache.emplace(model_kv_cache(model));
    cache->set_quantization(kv_bits, kv_group_size, 0);
  }
  array logits = model(array(ids, {1, len}, int32), cache ? &*cache : nullptr);  // (1, len, V)
  const int first = static_cast<int>(w.first_scored - w.begin);  // scored tokens first..len-1
  const int vocab = logits.shape(2);
  array scored = reshape(slice(logits, {0, first - 1, 0}, {1, len - 1, vocab}), {len - first, vocab});
  std::vector<int32_t> targets(tokens.begin() + w.first_scored, tokens.begin() + w.end);
  return {astype(scored, float32), array(targets, {len - first}, int32)};
}

void add_nll(PerplexityResult& r, const array& nll) {
  array n = nll;
  n.eval();
  for (float v : n.to_vector<float>()) r.nll_sum += v;
  r.tokens += static_cast<int64_t>(n.size());
  r.windows += 1;
}

PerplexityOptions resolved(const PerplexityOptions& o) {
  PerplexityOptions r = o;
  if (r.stride == 0) r.stride = r.context;
  return r;
}

}  // namespace

std::vector<int32_t> perplexity_tokens(const Tokenizer& tokenizer, std::string_view text, int64_t max_tokens) {
  if (max_tokens < 0) throw std::invalid_argument("[perplexity] max_tokens must be >= 0");
  // A token rarely spans more than 16 bytes: tokenize 32 bytes per wanted token, to a line end; the whole
  // text when that prefix gives too few tokens.
  if (max_tokens > 0 && static_cast<uint64_t>(max_tokens) < text.size() / 32) {
    size_t cut = text.find('\n', static_cast<size_t>(max_tokens) * 32);
    if (cut != std::string_view::npos) {
      std::vector<int32_t> ids = tokenizer.encode(text.substr(0, cut + 1), true);
      if (static_cast<int64_t>(ids.size()) >= max_tokens) {
        ids.resize(static_cast<size_t>(max_tokens));
        return ids;
      }
    }
  }
  std::vector<int32_t> ids = tokenizer.encode(text, true);
  if (max_tokens > 0 && static_cast<int64_t>(ids.size()) > max_tokens) ids.resize(static_cast<size_t>(max_tokens));
  return ids;
}

std::vector<Window> perplexity_windows(int64_t n_tokens, int context, int stride) {
  if (context < 2) throw std::invalid_argument("[perplexity] context must be >= 2, got " + std::to_string(context));
  if (stride < 1 || stride > context) {
    throw std::invalid_argument("[perplexity] stride must be in [1, context=" + std::to_string(context) +
                                "], got " + std::to_string(stride));
  }
  std::vector<Window> out;
  int64_t scored_until = 1;  // token 0 has no context
  for (int64_t begin = 0; scored_until < n_tokens; begin += stride) {
    Window w;
    w.begin = begin;
    w.end = std::min<int64_t>(begin + context, n_tokens);
    w.first_scored = std::max(begin + 1, scored_until);
    if (w.first_scored < w.end) {
      out.push_back(w);
      scored_until = w.end;
    }
    if (w.end == n_tokens) break;
  }
  return out;
}

array token_nll(const array& logits, const array& targets) {
  if (logits.ndim() != 2 || targets.ndim() != 1 || targets.shape(0) != logits.shape(0)) {
    throw std::invalid_argument("[perplexity] token_nll expects logits (L, V) and targets (L,)");
  }
  array idx = reshape(astype(targets, int32), {targets.shape(0), 1});
  array picked = reshape(take_along_axis(logits, idx, 1), {targets.shape(0)});
  return astype(logsumexp(logits, 1) - picked, float32);
}

double PerplexityResult::mean_nll() const { return tokens > 0 ? nll_sum / static_cast<double>(tokens) : 0.0; }
double PerplexityResult::perplexity() const { return std::exp(mean_nll()); }

PerplexityResult perplexity(const Llama& model, const std::vector<int32_t>& tokens, const PerplexityOptions& options) {
  PerplexityOptions o = resolved(options);
  std::vector<int32_t> ids = checked_tokens(model, tokens, o);
  PerplexityResult r;
  for (const Window& w : perplexity_windows(static_cast<int64_t>(ids.size()), o.context, o.stride)) {
    WindowLogits wl = window_logits(model, ids, w, o.kv_bits, o.kv_group_size);
    add_nll(r, token_nll(wl.logits, wl.targets));
  }
  return r;
}

KLResult kl_divergence(const Llama& model, const Llama& reference, const std::vector<int32_t>& tokens,
                       const PerplexityOptions& options) {
  if (model.config().vocab_size != reference.config().vocab_size) {
    throw std::invalid_argument("[perplexity] the model and the reference have different vocabularies (" +
                                std::to_string(model.config().vocab_size) + " vs " +
                                std::to_string(reference.config().vocab_size) + " tokens)");
  }
  PerplexityOptions o = resolved(options);
  std::vector<int32_t> ids = checked_tokens(model, tokens, o);
  KLResult r;
  double kl_sum = 0;
  int64_t agree = 0;
  for (const Window& w : perplexity_windows(static_cast<int64_t>(ids.size()), o.context, o.stride)) {
    WindowLogits m = window_logits(model, ids, w, o.kv_bits, o.kv_group_size);
    WindowLogits ref = window_logits(reference, ids, w);
    array lm = log_softmax(m.logits, 1, /*precise=*/true);
    array lr = log_softmax(ref.logits, 1, /*precise=*/true);
    array kl = sum(exp(lr) * (lr - lm), 1);                           // (n,)
    array same = equal(argmax(m.logits, 1), argmax(ref.logits, 1));  // (n,)
    array m_nll = token_nll(m.logits, m.targets), r_nll = token_nll(ref.logits, ref.targets);
    eval({kl, same, m_nll, r_nll});
    for (float v : kl.to_vector<float>()) {
      kl_sum += v;
      r.max_kl = std::max(r.max_kl, static_cast<double>(v));
    }
    for (int32_t s : astype(same, int32).to_vector<int32_t>()) agree += s;
    add_nll(r.model, m_nll);
    add_nll(r.reference, r_nll);
  }
  const double n = static_cast<double>(r.model.tokens);
  r.mean_kl = kl_sum / n;
  r.top1_agreement = static_cast<double>(agree) / n;
  return r;
}

}  // namespace tessera::lm
