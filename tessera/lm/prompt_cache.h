// Prompt cache (MLX-LM's make_prompt_cache / save_prompt_cache / load_prompt_cache): a KV cache kept
// across generate calls with the tokens it holds, so a shared prefix is not prefilled again.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tessera/lm/kv_cache.h"
#include "tessera/lm/models/llama.h"

namespace tessera::lm {

class PromptCache {
 public:
  // An empty cache for `model` (max_kv_size 0: grows as needed). Sliding-window layers keep their
  // window plus kTrimSlack positions; a new prompt diverging further back than that starts afresh.
  explicit PromptCache(const Llama& model, int max_kv_size = 0);
  static constexpr int kTrimSlack = 32;
  // An empty cache for a model of num_layers layers, n_kv_heads x head_dim keys.
  PromptCache(int num_layers, int kv_heads, int head_dim, int max_kv_size = 0);

  // Trims the cache to the longest common prefix of its tokens and `prompt`, keeping at least the
  // prompt's last token out (its logits are needed), and returns the tokens still to prefill.
  // Throws "[prompt_cache] ..." if the cache was made for another model shape.
  std::vector<int32_t> prepare(const Llama& model, const std::vector<int32_t>& prompt);
  // Records tokens just run through kv() (call after each forward pass with the cache; tokens the
  // cache no longer holds after a trim are dropped first).
  void append(const std::vector<int32_t>& tokens);
  // Drops tokens past kv().offset() (after KVCache::trim) and returns the tokens held.
  const std::vector<int32_t>& tokens();

  KVCache& kv() { return kv_; }
  const KVCache& kv() const { return kv_; }
  int num_layers() const { return kv_.num_layers(); }
  int kv_heads() const { return kv_heads_; }
  int head_dim() const { return head_dim_; }
  void reset();
  // Throws "[prompt_cache] ..." unless this cache fits `model`.
  void check_model(const Llama& model) const;

 private:
  KVCache kv_;
  std::vector<int32_t> tokens_;
  int kv_heads_, head_dim_;
};

using PromptCacheMetadata = std::unordered_map<std::string, std::string>;

// Writes the cache's keys and values (layers.{i}.keys / .values, (1, n_kv_heads, T, head_dim)) and
// tokens (int32 (T,)) to a safetensors file with `metadata` (string pairs) in its header.
void save_prompt_cache(const std::string& path, PromptCache& cache, const PromptCacheMetadata& metadata = {});
// Reads a file written by save_prompt_cache; throws "[prompt_cache] ..." if it is not one.
std::pair<PromptCache, PromptCacheMetadata> load_prompt_cache(const std::string& path);

}  // namespace tessera::lm
