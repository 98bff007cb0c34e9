// The Llama decoder (Llama 1/2/3, TinyLlama, llama2.c models) built from tessera ops, with HF weight names.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/array.h"
#include "tessera/lm/models/linear_weight.h"

namespace tessera::lm {

class KVCache;

// Hyperparameters under Hugging Face config.json names.
struct LlamaConfig {
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // 0: same as num_attention_heads
  int vocab_size = 0;
  float rms_norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  int max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  int head_dim = 0;  // 0: hidden_size / num_attention_heads
  // RoPE on adjacent pairs (x[2i], x[2i+1]) instead of HF's halves (x[i], x[i + d/2]). HF checkpoints
  // and llama2.c checkpoints (whose q/k rows are permuted at load) both use false.
  bool rope_traditional = false;

  // Variants of the Llama decoder used by other architectures (set from config.json by
  // tessera/lm/models/registry.h; the defaults are plain Llama).
  std::string model_type = "llama";
  bool attention_bias = false;          // q/k/v projections have biases (qwen2, llama attention_bias)
  bool o_proj_bias = false;             // o_proj has a bias (llama attention_bias)
  bool qk_norm = false;                 // RMSNorm over head_dim on queries and keys before RoPE (qwen3, gemma3)
  std::string hidden_act = "silu";      // gated MLP activation: silu, gelu_pytorch_tanh or gelu
  float embedding_scale = 0;            // > 0: embeddings are multiplied by it (gemma: sqrt(hidden_size))
  bool sandwich_norms = false;          // gemma2/3: norm after attention and pre/post feed-forward norms
  float attn_logit_softcapping = 0;     // > 0: scores = cap * tanh(scores / cap)
  float final_logit_softcapping = 0;    // > 0: logits = cap * tanh(logits / cap)
  float query_pre_attn_scalar = 0;      // > 0: attention scale 1/sqrt(it) instead of 1/sqrt(head_dim)
  int sliding_window = 0;               // > 0: sliding layers see the last sliding_window positions
  std::vector<bool> sliding_layers;     // per layer; empty: every layer slides when sliding_window > 0
  float rope_local_theta = 0;           // > 0: rope_theta of sliding layers (gemma3), unscaled
  float partial_rotary_factor = 1.0f;   // fraction of head_dim rotated
  // rope_scaling: "default", "linear" (positions / factor) or "llama3" (frequency bands).
  std::string rope_type = "default";
  float rope_factor = 1.0f;
  float rope_low_freq_factor = 1.0f;
  float rope_high_freq_factor = 4.0f;
  int rope_original_max_position_embeddings = 8192;

  int kv_heads() const { return num_key_value_heads > 0 ? num_key_value_heads : num_attention_heads; }
  int head_dim_or_default() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  bool layer_slides(int layer) const {
    return sliding_window > 0 &&
           (sliding_layers.empty() || (layer < static_cast<int>(sliding_layers.size()) && sliding_layers[layer]));
  }
  // Throws "[llama] ..." when the numbers are inconsistent.
  void validate() const;
};

// Reads the fields above from a Hugging Face config.json text (absent ones keep their defaults;
// num_key_value_heads defaults to num_attention_heads). Throws "[llama] ..." on malformed JSON, a
// model_type other than "llama" or a rope_scaling this model does not implement (llama3 and linear are).
LlamaConfig llama_config_from_json(const std::string& json_text);

// Weights keyed by Hugging Face names (model.embed_tokens.weight, model.layers.{i}.self_attn.q_proj.weight,
// ...). Linear weights are (out_features, in_features) as in PyTorch, or quantized (see linear_weight.h).
// WeightMap itself is declared in linear_weight.h.

class Llama {
 public:
  // Takes the weights it needs from `weights`; throws "[llama] ..." on a missing or misshapen one.
  // q/k/v and gate/up weights of the same kind are stacked into one matmul each (pass the map with
  // std::move so that each layer's separate weights are freed as it is stacked).
  Llama(LlamaConfig config, WeightMap weights);

  // tokens: (B, L) int32. cache: nullptr for a full-sequence pass, else positions start at
  // cache->offset() and the cache grows by L. A cache with left padding (KVCache::set_left_padding)
  // runs left-padded rows of different lengths: row b's positions start at offset - padding[b] and
  // its padded positions are masked out. Returns logits (B, L, vocab_size) float32 (lazy).
  array forward(const array& tokens, KVCache* cache = nullptr) const;
  array operator()(const array& tokens, KVCache* cache = nullptr) const { return forward(tokens, cache); }
  // One decode step with shapes that do not change from step to step (a CUDA graph replays it,
  // tessera/lm/decode_graph.cpp): tokens (B, 1) int32 at the device position `pos` (int32 scalar; the
  // cache's offset, which this does not move: KVCache::advance). The cache must hold room for pos + 1
  // positions and be static_decodable(); attention reads the whole buffers with the slots past pos
  // masked. Returns logits (B, 1, vocab_size) float32 (lazy).
  array forward_at(const array& tokens, KVCache& cache, const array& pos) const;
  // Whether forward_at serves this model: no sliding-window layer.
  bool supports_forward_at() const;

  const LlamaConfig& config() const { return config_; }
  int num_layers() const { return config_.num_hidden_layers; }

 private:
  // Linear weights (dense or quantized) applied as x W^T with W (out, in).
  struct Layer {
    array input_layernorm;                    // (hidden,)
    LinearWeight q_proj, k_proj, v_proj;      // hidden -> heads * head_dim, kv_heads * head_dim x2
    LinearWeight o_proj;                      // heads * head_dim -> hidden
    array post_attention_layernorm;           // (hidden,)
    LinearWeight gate_proj, up_proj;          // hidden -> intermediate
    LinearWeight down_proj;                   // intermediate -> hidden
    std::optional<array> q_bias, k_bias, v_bias, o_bias;  // (heads * head_dim,), (kv_heads * head_dim,) x2, (hidden,)
    std::optional<array> q_norm, k_norm;                  // (head_dim,)
    std::optional<array> pre_feedforward_layernorm, post_feedforward_layernorm;  // (hidden,)
    // q/k/v (heads * D + 2 kv_heads * D outputs) and gate/up (2 intermediate) stacked when their
    // kinds agree; the separate weights above are then empty.
    LinearWeight qkv_proj, gate_up_proj;
  };

  // forward_at's step: the cache slot written (int32 (1,)) and the keys attended, (1, capacity) bool.
  struct StaticStep {
    array write_pos, key_mask;
  };
  // tokens (B, L) -> logits (B, L, vocab); at: forward_at's static step, else the cache's own offsets.
  array run(const array& tokens, KVCache* cache, const array& offsets, const StaticStep* at) const;
  array attention(const array& x, const Layer& layer, int layer_index, KVCache* cache, const array& offsets,
                  const StaticStep* at) const;
  array mlp(const array& x, const Layer& layer, bool fused = false) const;
  // cache: its left padding (batched prompts) shifts each row's positions and masks its padding.
  array rope(const array& x, int layer_index, const array& offsets) const;
  // The RoPE positions of the first new token: a scalar, or (B,) less each row's left padding.
  static array rope_offsets(int offset, const KVCache* cache);
  // keep: the keys attended (true = keep), instead of the mask the cache implies.
  array attend(const array& q, const array& k, const array& v, int layer_index, const KVCache* cache,
               const array* keep = nullptr) const;
  float attention_scale(int head_dim) const;
  std::optional<array> attention_mask(int L, int T, int layer_index, const KVCache* cache, bool causal) const;
  array block(const array& x, const Layer& layer, int layer_index, KVCache* cache, const array& offsets,
              const StaticStep* at) const;

  LlamaConfig config_;
  LinearWeight embed_tokens_;  // (vocab, hidden); rows looked up (dequantized when quantized)
  std::vector<Layer> layers_;
  array norm_;     // (hidden,)
  LinearWeight lm_head_;  // hidden -> vocab; the embedding when tied
  std::optional<array> rope_freqs_;  // (rotary_dims / 2,) scaled periods for llama3 rope_scaling
};

}  // namespace tessera::lm
