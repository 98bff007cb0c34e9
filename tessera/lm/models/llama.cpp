// The Llama decoder: embedding, n x (RMSNorm -> GQA attention with RoPE -> RMSNorm -> SwiGLU MLP), RMSNorm,
// head.
#include "tessera/lm/models/llama.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "tessera/fast.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

// x: (..., in); w_t: (in, out), the transposed (out, in) weight -> (..., out).
array linear(const array& x, const array& w_t) { return matmul(x, w_t); }

// The (in, out) view of an (out, in) weight, evaluated once so forward passes reuse it as is.
array transposed(const array& w) {
  array t = transpose(w);
  t.eval();
  return t;
}

array silu(const array& x) { return x * sigmoid(x); }

array get_weight(const WeightMap& weights, const std::string& name, const Shape& shape) {
  auto it = weights.find(name);
  if (it == weights.end()) throw std::invalid_argument("[llama] missing weight " + name + ".");
  if (it->second.shape() != shape) {
    throw std::invalid_argument("[llama] weight " + name + " has shape " + shape_str(it->second.shape()) +
                                ", expected " + shape_str(shape) + ".");
  }
  return it->second;
}

}  // namespace

void LlamaConfig::validate() const {
  auto fail = [](const std::string& msg) { throw std::invalid_argument("[llama] " + msg); };
  if (hidden_size <= 0 || intermediate_size <= 0 || num_hidden_layers <= 0 || num_attention_heads <= 0 ||
      vocab_size <= 0 || num_key_value_heads < 0 || head_dim < 0) {
    fail("config sizes must be positive.");
  }
  if (head_dim == 0 && hidden_size % num_attention_heads != 0) {
    fail("hidden_size " + std::to_string(hidden_size) + " is not a multiple of num_attention_heads " +
         std::to_string(num_attention_heads) + ".");
  }
  if (num_attention_heads % kv_heads() != 0) {
    fail("num_attention_heads must be a multiple of num_key_value_heads.");
  }
  if (head_dim_or_default() % 2 != 0) fail("head_dim must be even for RoPE.");
  if (!(rms_norm_eps > 0) || !(rope_theta > 0)) fail("rms_norm_eps and rope_theta must be positive.");
}

LlamaConfig llama_config_from_json(const std::string& json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("[llama] config.json is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw std::invalid_argument("[llama] config.json must hold an object.");
  if (j.contains("model_type") && j["model_type"] != "llama") {
    throw std::invalid_argument("[llama] model_type " + j["model_type"].dump() + " is not llama.");
  }
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    throw std::invalid_argument("[llama] rope_scaling " + j["rope_scaling"].dump() +
                                " is not supported yet.");
  }
  LlamaConfig c;
  try {
    auto get = [&](const char* key, auto& field) {
      if (j.contains(key) && !j[key].is_null())
        field = j[key].get<std::remove_reference_t<decltype(field)>>();
    };
    get("hidden_size", c.hidden_size);
    get("intermediate_size", c.intermediate_size);
    get("num_hidden_layers", c.num_hidden_layers);
    get("num_attention_heads", c.num_attention_heads);
    get("num_key_value_heads", c.num_key_value_heads);
    get("vocab_size", c.vocab_size);
    get("rms_norm_eps", c.rms_norm_eps);
    get("rope_theta", c.rope_theta);
    get("max_position_embeddings", c.max_position_embeddings);
    get("tie_word_embeddings", c.tie_word_embeddings);
    get("head_dim", c.head_dim);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("[llama] config.json field of the wrong type: ") + e.what());
  }
  c.validate();
  return c;
}

Llama::Llama(LlamaConfig config, const WeightMap& w)
    : config_(std::move(config)), embed_tokens_(zeros({1})), norm_(zeros({1})), lm_head_(zeros({1})) {
  config_.validate();
  const int H = config_.hidden_size, I = config_.intermediate_size, V = config_.vocab_size;
  const int D = config_.head_dim_or_default();
  const int q_out = config_.num_attention_heads * D, kv_out = config_.kv_heads() * D;
  embed_tokens_ = get_weight(w, "model.embed_tokens.weight", {V, H});
  for (int i = 0; i < config_.num_hidden_layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    layers_.push_back(Layer{
        get_weight(w, p + "input_layernorm.weight", {H}),
        transposed(get_weight(w, p + "self_attn.q_proj.weight", {q_out, H})),
        transposed(get_weight(w, p + "self_attn.k_proj.weight", {kv_out, H})),
        transposed(get_weight(w, p + "self_attn.v_proj.weight", {kv_out, H})),
        transposed(get_weight(w, p + "self_attn.o_proj.weight", {H, q_out})),
        get_weight(w, p + "post_attention_layernorm.weight", {H}),
        transposed(get_weight(w, p + "mlp.gate_proj.weight", {I, H})),
        transposed(get_weight(w, p + "mlp.up_proj.weight", {I, H})),
        transposed(get_weight(w, p + "mlp.down_proj.weight", {H, I})),
    });
  }
  norm_ = get_weight(w, "model.norm.weight", {H});
  lm_head_ =
      transposed(config_.tie_word_embeddings ? embed_tokens_ : get_weight(w, "lm_head.weight", {V, H}));
}

// x: (B, L, hidden) -> (B, L, hidden).
array Llama::attention(const array& x, const Layer& layer, int layer_index, KVCache* cache,
                       int offset) const {
  const int B = x.shape(0), L = x.shape(1);
  const int Hq = config_.num_attention_heads, Hkv = config_.kv_heads(), D = config_.head_dim_or_default();
  // (B, L, heads * D) -> (B, heads, L, D)
  auto heads = [&](const array& t, int n) { return transpose(reshape(t, {B, L, n, D}), {0, 2, 1, 3}); };
  array q = heads(linear(x, layer.q_proj), Hq);
  array k = heads(linear(x, layer.k_proj), Hkv);
  array v = heads(linear(x, layer.v_proj), Hkv);
  q = fast::rope(q, D, config_.rope_traditional, config_.rope_theta, 1.0f, offset);
  k = fast::rope(k, D, config_.rope_traditional, config_.rope_theta, 1.0f, offset);
  if (cache) std::tie(k, v) = cache->update_and_fetch(layer_index, k, v);
  float scale = 1.0f / std::sqrt(static_cast<float>(D));
  array out = fast::scaled_dot_product_attention(q, k, v, scale, L > 1 ? "causal" : "");
  out = reshape(transpose(out, {0, 2, 1, 3}), {B, L, Hq * D});
  return linear(out, layer.o_proj);
}

// SwiGLU: down(silu(gate(x)) * up(x)).
array Llama::mlp(const array& x, const Layer& layer) const {
  return linear(silu(linear(x, layer.gate_proj)) * linear(x, layer.up_proj), layer.down_proj);
}

array Llama::block(const array& x, const Layer& layer, int layer_index, KVCache* cache, int offset) const {
  const float eps = config_.rms_norm_eps;
  array h = x + attention(fast::rms_norm(x, layer.input_layernorm, eps), layer, layer_index, cache, offset);
  return h + mlp(fast::rms_norm(h, layer.post_attention_layernorm, eps), layer);
}

array Llama::forward(const array& tokens, KVCache* cache) const {
  if (tokens.ndim() != 2) {
    throw std::invalid_argument("[llama] tokens must be (B, L), got " + shape_str(tokens.shape()) + ".");
  }
  if (cache && cache->num_layers() != num_layers()) {
    throw std::invalid_argument("[llama] the cache has " + std::to_string(cache->num_layers()) +
                                " layers, the model " + std::to_string(num_layers()) + ".");
  }
  const int offset = cache ? cache->offset() : 0;
  array x = take(embed_tokens_, astype(tokens, int32), 0);  // (B, L, hidden)
  for (int i = 0; i < num_layers(); ++i) x = block(x, layers_[i], i, cache, offset);
  x = fast::rms_norm(x, norm_, config_.rms_norm_eps);
  return astype(linear(x, lm_head_), float32);  // (B, L, vocab)
}

}  // namespace tessera::lm
