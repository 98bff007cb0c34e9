// Prompt cache: common-prefix reuse and trimming, and its safetensors file.
#include "tessera/lm/prompt_cache.h"

#include <algorithm>
#include <stdexcept>

#include "tessera/io/safetensors.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

const char* kFormatKey = "tessera_prompt_cache";  // reserved metadata key marking our files: "layers,heads,dim"
const char* kWindowsKey = "tessera_prompt_cache_windows";  // "window:keep,..." per layer (0:0 = full)

}  // namespace

PromptCache::PromptCache(int num_layers, int kv_heads, int head_dim, int max_kv_size)
    : kv_(num_layers, max_kv_size), kv_heads_(kv_heads), head_dim_(head_dim) {
  if (num_layers <= 0 || kv_heads <= 0 || head_dim <= 0) {
    throw std::invalid_argument("[prompt_cache] kv_heads and head_dim must be positive.");
  }
}

PromptCache::PromptCache(const Llama& model, int max_kv_size)
    : PromptCache(model.num_layers(), model.config().kv_heads(), model.config().head_dim_or_default(),
                  max_kv_size) {
  kv_ = model_kv_cache(model, max_kv_size, kTrimSlack);
}

void PromptCache::check_model(const Llama& model) const {
  const auto& c = model.config();
  if (c.num_hidden_layers != num_layers() || c.kv_heads() != kv_heads_ || c.head_dim_or_default() != head_dim_) {
    throw std::invalid_argument("[prompt_cache] the cache is for " + std::to_string(num_layers()) + " layers of " +
                                std::to_string(kv_heads_) + " x " + std::to_string(head_dim_) +
                                " keys, the model has " + std::to_string(c.num_hidden_layers) + " layers of " +
                                std::to_string(c.kv_heads()) + " x " + std::to_string(c.head_dim_or_default()) +
                                ".");
  }
  for (int i = 0; i < num_layers(); ++i) {
    const int want = c.layer_slides(i) ? c.sliding_window : 0;
    if (kv_.window(i) != want) {
      throw std::invalid_argument("[prompt_cache] layer " + std::to_string(i) + " has sliding window " +
                                  std::to_string(kv_.window(i)) + ", the model's " + std::to_string(want) + ".");
    }
  }
  for (int t : tokens_) {
    if (t < 0 || t >= c.vocab_size) {
      throw std::invalid_argument("[prompt_cache] the cache holds token " + std::to_string(t) +
                                  " outside the model's vocabulary.");
    }
  }
}

const std::vector<int32_t>& PromptCache::tokens() {
  const size_t held = static_cast<size_t>(kv_.offset());
  if (tokens_.size() > held) tokens_.resize(held);
  return tokens_;
}

std::vector<int32_t> PromptCache::prepare(const Llama& model, const std::vector<int32_t>& prompt) {
  check_model(model);
  if (!kv_.left_padding().empty()) throw std::invalid_argument("[prompt_cache] the cache holds a padded batch.");
  if (static_cast<size_t>(kv_.offset()) > tokens_.size()) reset();  // positions of unknown tokens
  tokens();
  size_t common = 0;
  while (common < tokens_.size() && common < prompt.size() && tokens_[common] == prompt[common]) ++common;
  if (common == prompt.size() && common > 0) --common;  // the last prompt token is run again for its logits
  const int drop = kv_.offset() - static_cast<int>(common);
  if (kv_.can_trim(drop)) {
    kv_.trim(drop);
    tokens_.resize(common);
  } else {  // a sliding-window layer no longer holds the keys the common prefix needs
    reset();
    common = 0;
  }
  return std::vector<int32_t>(prompt.begin() + static_cast<long>(common), prompt.end());
}

void PromptCache::append(const std::vector<int32_t>& tokens) {
  // Tokens past what the cache held before these (dropped by a KVCache::trim) are gone.
  const long before = std::max<long>(0, static_cast<long>(kv_.offset()) - static_cast<long>(tokens.size()));
  if (static_cast<long>(tokens_.size()) > before) tokens_.resize(before);
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
}

void PromptCache::reset() {
  kv_.reset();
  tokens_.clear();
}

void save_prompt_cache(const std::string& path, PromptCache& cache, const PromptCacheMetadata& metadata) {
  if (metadata.count(kFormatKey) || metadata.count(kWindowsKey)) {
    throw std::invalid_argument(std::string("[prompt_cache] metadata keys ") + kFormatKey + "* are reserved.");
  }
  const auto& toks = cache.tokens();
  const int T = static_cast<int>(toks.size());
  ArrayMap arrays;
  arrays.emplace("tokens", array(toks, {T}, int32));
  if (T > 0) {
    for (int i = 0; i < cache.num_layers(); ++i) {
      auto [k, v] = cache.kv().state(i);
      if (k.shape(0) != 1) throw std::invalid_argument("[prompt_cache] only a batch of one row can be saved.");
      arrays.emplace("layers." + std::to_string(i) + ".keys", k);
      arrays.emplace("layers." + std::to_string(i) + ".values", v);
    }
  }
  StringMap meta(metadata.begin(), metadata.end());
  meta[kFormatKey] = std::to_string(cache.num_layers()) + "," + std::to_string(cache.kv_heads()) + "," +
                     std::to_string(cache.head_dim());
  std::string windows;
  for (int i = 0; i < cache.num_layers(); ++i) {
    windows += (i ? "," : "") + std::to_string(cache.kv().window(i)) + ":" + std::to_string(cache.kv().keep(i));
  }
  meta[kWindowsKey] = windows;
  save_safetensors(path, arrays, meta);
}

std::pair<PromptCache, PromptCacheMetadata> load_prompt_cache(const std::string& path) {
  auto [arrays, meta] = load_safetensors(path);
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("[prompt_cache] " + path + " is not a prompt cache: " + why);
  };
  auto f = meta.find(kFormatKey);
  if (f == meta.end()) fail(std::string("no ") + kFormatKey + " metadata.");
  int layers = 0, heads = 0, dim = 0;
  if (std::sscanf(f->second.c_str(), "%d,%d,%d", &layers, &heads, &dim) != 3 || layers <= 0 || layers > 100000 ||
      heads <= 0 || dim <= 0) {
    fail("bad shape " + f->second + ".");
  }
  auto tok = arrays.find("tokens");
  if (tok == arrays.end() || tok->second.ndim() != 1 || tok->second.dtype() != int32) fail("no int32 tokens.");
  const int T = tok->second.shape(0);
  PromptCache cache(layers, heads, dim);
  auto w = meta.find(kWindowsKey);
  if (w != meta.end()) {
    const std::string& text = w->second;
    size_t pos = 0;
    for (int i = 0; i < layers; ++i) {
      int window = 0, keep = 0, used = 0;
      if (pos >= text.size() || std::sscanf(text.c_str() + pos, "%d:%d%n", &window, &keep, &used) != 2 ||
          window < 0 || keep < window) {
        fail("bad sliding windows " + text + ".");
      }
      if (window > 0) cache.kv().set_window(i, window, keep);
      pos += used + 1;
    }
  }
  if (T > 0) {
    for (int i = 0; i < layers; ++i) {
      auto k = arrays.find("layers." + std::to_string(i) + ".keys");
      auto v = arrays.find("layers." + std::to_string(i) + ".values");
      // A sliding-window layer holds its last positions (at most keep), the others all T.
      if (k == arrays.end() || v == arrays.end() || k->second.ndim() != 4) fail("layer " + std::to_string(i) + " missing.");
      const int held = k->second.shape(2);
      const bool windowed = cache.kv().window(i) > 0;
      const Shape want{1, heads, held, dim};
      if (k->second.shape() != want || v->second.shape() != want || held < 1 ||
          (windowed ? held > std::min(T, cache.kv().keep(i)) : held != T)) {
        fail("layer " + std::to_string(i) + " keys/values are " + shape_str(k->second.shape()) + " for " +
             std::to_string(T) + " tokens.");
      }
      cache.kv().set_state(i, k->second, v->second, T - held);
    }
  }
  cache.append(tok->second.to_vector<int32_t>());
  meta.erase(kFormatKey);
  meta.erase(kWindowsKey);
  return {std::move(cache), PromptCacheMetadata(meta.begin(), meta.end())};
}

}  // namespace tessera::lm
