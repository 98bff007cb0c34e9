// The Llama decoder: embedding, n x (RMSNorm -> GQA attention with RoPE -> RMSNorm -> SwiGLU MLP), RMSNorm,
// head.
#include "tessera/lm/models/llama.h"

#include <cmath>
#include <limits>
#include <vector>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "tessera/fast.h"
#include "tessera/env.h"
#include "tessera/lm/kv_cache.h"
#include "tessera/lm/models/fused_decode.h"
#include "tessera/lm/models/hf_config.h"
#include "tessera/scheduler.h"
#include "tessera/lm/models/registry.h"
#include "tessera/lm/quantized_attention.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

array silu(const array& x) { return x * sigmoid(x); }

// The tanh approximation of GELU (PyTorch's gelu(approximate="tanh")).
array gelu_tanh(const array& x) {
  const float c = std::sqrt(2.0f / static_cast<float>(M_PI));
  return array(0.5f) * x * (array(1.0f) + tanh(array(c) * (x + array(0.044715f) * x * x * x)));
}

array gelu_erf(const array& x) {
  return array(0.5f) * x * (array(1.0f) + erf(x * array(static_cast<float>(M_SQRT1_2))));
}

// x: any shape; cap * tanh(x / cap).
array softcap(const array& x, float cap) { return array(cap) * tanh(x / array(cap)); }

std::optional<array> get_optional(const WeightMap& weights, bool wanted, const std::string& name,
                                  const Shape& shape);

int rotary_dims(const LlamaConfig& c) {
  int dims = static_cast<int>(c.head_dim_or_default() * c.partial_rotary_factor);
  return dims - dims % 2;
}

array get_weight(const WeightMap& weights, const std::string& name, const Shape& shape) {
  auto it = weights.find(name);
  if (it == weights.end()) throw std::invalid_argument("[llama] missing weight " + name + ".");
  if (it->second.shape() != shape) {
    throw std::invalid_argument("[llama] weight " + name + " has shape " + shape_str(it->second.shape()) +
                                ", expected " + shape_str(shape) + ".");
  }
  return it->second;
}

std::optional<array> get_optional(const WeightMap& weights, bool wanted, const std::string& name,
                                  const Shape& shape) {
  if (!wanted) return std::nullopt;
  return get_weight(weights, name, shape);
}

// The llama3 rope_scaling periods 1/inv_freq (dims/2,) for rotary dims `dims`.
array llama3_rope_freqs(const LlamaConfig& c, int dims) {
  const double pi = M_PI;
  const double low_wavelen = c.rope_original_max_position_embeddings / c.rope_low_freq_factor;
  const double high_wavelen = c.rope_original_max_position_embeddings / c.rope_high_freq_factor;
  std::vector<float> periods(dims / 2);
  for (int i = 0; i < dims / 2; ++i) {
    double inv = 1.0 / std::pow(static_cast<double>(c.rope_theta), 2.0 * i / dims);
    double wavelen = 2 * pi / inv;
    double scaled = inv;
    if (wavelen > low_wavelen) {
      scaled = inv / c.rope_factor;
    } else if (wavelen >= high_wavelen) {
      double smooth = (c.rope_original_max_position_embeddings / wavelen - c.rope_low_freq_factor) /
                      (c.rope_high_freq_factor - c.rope_low_freq_factor);
      scaled = (1 - smooth) * inv / c.rope_factor + smooth * inv;
    }
    periods[i] = static_cast<float>(1.0 / scaled);
  }
  return array(periods, {dims / 2}, float32);
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
  if (hidden_act != "silu" && hidden_act != "gelu_pytorch_tanh" && hidden_act != "gelu") {
    fail("hidden activation " + hidden_act + " is not supported (silu, gelu_pytorch_tanh, gelu).");
  }
  if (rope_type != "default" && rope_type != "linear" && rope_type != "llama3") {
    fail("rope_scaling type " + rope_type + " is not supported (linear, llama3).");
  }
  if (!(rope_factor > 0) || !(partial_rotary_factor > 0) || partial_rotary_factor > 1) {
    fail("rope_scaling factor and partial_rotary_factor must be positive (the latter at most 1).");
  }
  if (rope_type == "llama3" && !(rope_high_freq_factor > rope_low_freq_factor)) {
    fail("llama3 rope_scaling needs high_freq_factor > low_freq_factor.");
  }
  if (sliding_window < 0 || attn_logit_softcapping < 0 || final_logit_softcapping < 0 ||
      query_pre_attn_scalar < 0 || embedding_scale < 0) {
    fail("sliding_window, softcapping, query_pre_attn_scalar and embedding scale must not be negative.");
  }
  if (!sliding_layers.empty() && static_cast<int>(sliding_layers.size()) != num_hidden_layers) {
    fail("layer_types has " + std::to_string(sliding_layers.size()) + " entries for " +
         std::to_string(num_hidden_layers) + " layers.");
  }
}

LlamaConfig llama_config_from_json(const std::string& json_text) {
  nlohmann::json j = parse_config_json(json_text, "llama");
  if (j.contains("model_type") && j["model_type"] != "llama") {
    throw std::invalid_argument("[llama] model_type " + j["model_type"].dump() + " is not llama.");
  }
  LlamaConfig c = read_llama_fields(j, "llama");
  c.validate();
  return c;
}

LlamaConfig llama_hf_config(const nlohmann::json& j) {
  LlamaConfig c = read_llama_fields(j, "llama");
  c.attention_bias = c.o_proj_bias = value_or<bool>(j, "attention_bias", false, "llama");
  if (value_or<bool>(j, "mlp_bias", false, "llama")) {
    throw std::invalid_argument("[llama] mlp_bias is not supported.");
  }
  c.validate();
  return c;
}

namespace {

// Stacked q/k/v and gate/up matmuls (on unless the environment sets TESSERA_STACK_PROJECTIONS=0).
bool stack_projections() {
  static const bool on = env_switch_on("TESSERA_STACK_PROJECTIONS");
  return on;
}

}  // namespace

Llama::Llama(LlamaConfig config, WeightMap w)
    : config_(std::move(config)), norm_(zeros({1})) {
  config_.validate();
  const int H = config_.hidden_size, I = config_.intermediate_size, V = config_.vocab_size;
  const int D = config_.head_dim_or_default();
  const int q_out = config_.num_attention_heads * D, kv_out = config_.kv_heads() * D;
  auto linear_w = [&](const std::string& prefix, int out, int in) {
    return linear_weight_from(w, prefix, out, in, "llama");
  };
  embed_tokens_ = linear_w("model.embed_tokens", V, H);
  for (int i = 0; i < config_.num_hidden_layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    layers_.push_back(Layer{
        get_weight(w, p + "input_layernorm.weight", {H}),
        linear_w(p + "self_attn.q_proj", q_out, H),
        linear_w(p + "self_attn.k_proj", kv_out, H),
        linear_w(p + "self_attn.v_proj", kv_out, H),
        linear_w(p + "self_attn.o_proj", H, q_out),
        get_weight(w, p + "post_attention_layernorm.weight", {H}),
        linear_w(p + "mlp.gate_proj", I, H),
        linear_w(p + "mlp.up_proj", I, H),
        linear_w(p + "mlp.down_proj", H, I),
        get_optional(w, config_.attention_bias, p + "self_attn.q_proj.bias", {q_out}),
        get_optional(w, config_.attention_bias, p + "self_attn.k_proj.bias", {kv_out}),
        get_optional(w, config_.attention_bias, p + "self_attn.v_proj.bias", {kv_out}),
        get_optional(w, config_.o_proj_bias, p + "self_attn.o_proj.bias", {H}),
        get_optional(w, config_.qk_norm, p + "self_attn.q_norm.weight", {D}),
        get_optional(w, config_.qk_norm, p + "self_attn.k_norm.weight", {D}),
        get_optional(w, config_.sandwich_norms, p + "pre_feedforward_layernorm.weight", {H}),
        get_optional(w, config_.sandwich_norms, p + "post_feedforward_layernorm.weight", {H}),
        LinearWeight(),  // qkv_proj and gate_up_proj: stacked below
        LinearWeight(),
    });
    Layer& l = layers_.back();
    std::optional<LinearWeight> qkv, gate_up;
    if (stack_projections()) {
      qkv = LinearWeight::stacked({l.q_proj, l.k_proj, l.v_proj});
      gate_up = LinearWeight::stacked({l.gate_proj, l.up_proj});
    }
    if (qkv) {
      l.qkv_proj = std::move(*qkv);
      l.q_proj = l.k_proj = l.v_proj = LinearWeight();
    }
    if (gate_up) {
      l.gate_up_proj = std::move(*gate_up);
      l.gate_proj = l.up_proj = LinearWeight();
    }
    // The layer's own entries are no longer needed: a map passed by value (moved) frees them now.
    for (auto it = w.begin(); it != w.end();) {
      it = it->first.rfind(p, 0) == 0 ? w.erase(it) : std::next(it);
    }
  }
  if (config_.rope_type == "llama3") rope_freqs_ = llama3_rope_freqs(config_, rotary_dims(config_));
  norm_ = get_weight(w, "model.norm.weight", {H});
  // fast::rms_norm reads its weight in float32 (exact for f16/bf16): cast once here, not in every step.
  std::vector<array> cast;
  auto to_f32 = [&](array& a) {
    if (a.dtype() == float16 || a.dtype() == bfloat16) cast.push_back(a = astype(a, float32));
  };
  for (auto& l : layers_) {
    to_f32(l.input_layernorm);
    to_f32(l.post_attention_layernorm);
    for (auto* o : {&l.q_norm, &l.k_norm, &l.pre_feedforward_layernorm, &l.post_feedforward_layernorm}) {
      if (*o) to_f32(**o);
    }
  }
  to_f32(norm_);
  eval(cast);
  lm_head_ = config_.tie_word_embeddings ? embed_tokens_ : linear_w("lm_head", V, H);
}

// x: (B, L, hidden) -> (B, L, hidden).
// x: (B, heads, L, D) rotated at positions offset.. (per row, less its left padding) with this layer's
// base and scaling.
// One array for every layer of a forward pass: a decode step uploads it once, not twice a layer.
array Llama::rope_offsets(int offset, const KVCache* cache) {
  if (!cache || cache->left_padding().empty()) return array(offset, int32);
  std::vector<int32_t> rows;
  for (int p : cache->left_padding()) rows.push_back(offset - p);
  return array(rows, {static_cast<int>(rows.size())}, int32);
}

array Llama::rope(const array& x, int layer_index, const array& offsets) const {
  const int dims = rotary_dims(config_);
  if (config_.rope_local_theta > 0 && config_.layer_slides(layer_index)) {
    return fast::rope(x, dims, config_.rope_traditional, config_.rope_local_theta, 1.0f, offsets);
  }
  if (rope_freqs_) {
    return fast::rope(x, dims, config_.rope_traditional, std::nullopt, 1.0f, offsets, rope_freqs_);
  }
  float scale = config_.rope_type == "linear" ? 1.0f / config_.rope_factor : 1.0f;
  return fast::rope(x, dims, config_.rope_traditional, config_.rope_theta, scale, offsets);
}

float Llama::attention_scale(int head_dim) const {
  return 1.0f / std::sqrt(config_.query_pre_attn_scalar > 0 ? config_.query_pre_attn_scalar
                                                          : static_cast<float>(head_dim));
}

// The mask (true = keep) of L queries over T keys: (L, T), or (B, 1, L, T) with left padding; none when
// plain causal attention (or, with `causal` false, L == 1) needs none.
std::optional<array> Llama::attention_mask(int L, int T, int layer_index, const KVCache* cache, bool causal) const {
  const bool slides = config_.layer_slides(layer_index) && T > config_.sliding_window;
  const bool padded = cache && !cache->left_padding().empty();
  if (!slides && !padded && !(causal && L > 1)) return std::nullopt;
  array qpos = reshape(arange(T - L, T), {L, 1});
  array kpos = reshape(arange(0, T), {1, T});
  array keep = kpos <= qpos;
  if (slides) keep = logical_and(keep, kpos > qpos - array(config_.sliding_window));
  if (padded) {
    // Key slot j holds position fetched_start + j (a sliding-window cache drops old positions).
    std::vector<int32_t> first_slot;
    for (int p : cache->left_padding()) first_slot.push_back(p - cache->fetched_start(layer_index));
    const int B = static_cast<int>(first_slot.size());
    array first = reshape(array(first_slot, {B}, int32), {B, 1, 1, 1});
    keep = logical_or(logical_and(keep, kpos >= first), kpos == qpos);
  }
  return keep;
}

// q: (B, Hq, L, D); k, v: (B, Hkv, offset + L, D) -> (B, Hq, L, D). Causal, windowed on sliding layers,
// and blind to each row's left padding (a padded query sees only itself, so no row is empty).
array Llama::attend(const array& q, const array& k, const array& v, int layer_index, const KVCache* cache,
                    const array* keep) const {
  const int L = q.shape(2), T = k.shape(2);
  const float scale = attention_scale(q.shape(3));
  std::optional<array> mask = keep ? std::optional<array>(*keep)
                                   : attention_mask(L, T, layer_index, cache,
                                                    config_.attn_logit_softcapping > 0);  // (L, T) or (B, 1, L, T)
  if (config_.attn_logit_softcapping <= 0) {
    if (mask) return fast::scaled_dot_product_attention(q, k, v, scale, "", mask);
    return fast::scaled_dot_product_attention(q, k, v, scale, L > 1 ? "causal" : "");
  }
  // Soft-capped scores need the unfused path. Key/value heads are repeated for grouped queries.
  const int groups = q.shape(1) / k.shape(1);
  array kk = groups > 1 ? repeat(k, groups, 1) : k;
  array vv = groups > 1 ? repeat(v, groups, 1) : v;
  array scores = matmul(q, transpose(kk, {0, 1, 3, 2})) * array(scale);  // (B, Hq, L, T)
  scores = softcap(scores, config_.attn_logit_softcapping);
  if (mask) scores = where(*mask, scores, array(-std::numeric_limits<float>::infinity()));
  return matmul(softmax(astype(scores, float32), -1, true), astype(vv, float32));
}

array Llama::attention(const array& x, const Layer& layer, int layer_index, KVCache* cache,
                       const array& offsets, const StaticStep* at) const {
  const int B = x.shape(0), L = x.shape(1);
  const int Hq = config_.num_attention_heads, Hkv = config_.kv_heads(), D = config_.head_dim_or_default();
  // (B, L, heads * D) -> (B, heads, L, D)
  auto heads = [&](const array& t, int n) { return transpose(reshape(t, {B, L, n, D}), {0, 2, 1, 3}); };
  auto biased = [](const array& t, const std::optional<array>& b) { return b ? t + *b : t; };
  auto project = [&](const LinearWeight& w, const std::optional<array>& b) { return biased(w.apply(x), b); };
  array q = x, k = x, v = x;
  if (!layer.qkv_proj.empty()) {
    // One matmul for q, k and v: (B, L, (Hq + 2 Hkv) * D), split into views.
    auto parts = split(layer.qkv_proj.apply(x), {Hq * D, (Hq + Hkv) * D}, -1);
    q = heads(biased(parts[0], layer.q_bias), Hq);
    k = heads(biased(parts[1], layer.k_bias), Hkv);
    v = heads(biased(parts[2], layer.v_bias), Hkv);
  } else {
    q = heads(project(layer.q_proj, layer.q_bias), Hq);
    k = heads(project(layer.k_proj, layer.k_bias), Hkv);
    v = heads(project(layer.v_proj, layer.v_bias), Hkv);
  }
  if (layer.q_norm) {
    q = fast::rms_norm(q, layer.q_norm, config_.rms_norm_eps);
    k = fast::rms_norm(k, layer.k_norm, config_.rms_norm_eps);
  }
  q = rope(q, layer_index, offsets);
  k = rope(k, layer_index, offsets);
  array out = q;
  if (cache && cache->quantizes(layer_index)) {
    // A quantized cache: attention straight on the packed keys and values.
    KVCache::QuantizedKV kv = cache->update_and_fetch_quantized(layer_index, k, v);
    out = quantized_attention(q, kv, attention_scale(D), attention_mask(L, kv.keys.shape(2), layer_index, cache, true),
                              config_.attn_logit_softcapping);
  } else if (at) {
    std::tie(k, v) = cache->update_at(layer_index, k, v, at->write_pos);  // (B, Hkv, capacity, D)
    out = attend(q, k, v, layer_index, cache, &at->key_mask);
  } else {
    if (cache) std::tie(k, v) = cache->update_and_fetch(layer_index, k, v);
    out = attend(q, k, v, layer_index, cache);
  }
  out = reshape(transpose(out, {0, 2, 1, 3}), {B, L, Hq * D});
  out = layer.o_proj.apply(out);
  return layer.o_bias ? out + *layer.o_bias : out;
}

// Gated MLP: down(act(gate(x)) * up(x)); act is silu (SwiGLU) or gelu (GeGLU). fused: the activation
// of a stacked gate/up product is one GPU kernel (fused_decode.h).
array Llama::mlp(const array& x, const Layer& layer, bool fused) const {
  const int act = config_.hidden_act == "silu" ? 0 : config_.hidden_act == "gelu" ? 1 : 2;
  if (fused && !layer.gate_up_proj.empty()) {
    return layer.down_proj.apply(gated_activation_stacked(layer.gate_up_proj.apply(x), act));
  }
  array g = x, u = x;
  if (!layer.gate_up_proj.empty()) {
    auto parts = split(layer.gate_up_proj.apply(x), 2, -1);  // one matmul: (B, L, 2 * intermediate)
    g = parts[0];
    u = parts[1];
  } else {
    g = layer.gate_proj.apply(x);
    u = layer.up_proj.apply(x);
  }
  g = act == 0 ? silu(g) : act == 1 ? gelu_erf(g) : gelu_tanh(g);
  return layer.down_proj.apply(g * u);
}

array Llama::block(const array& x, const Layer& layer, int layer_index, KVCache* cache, const array& offsets,
                   const StaticStep* at) const {
  const float eps = config_.rms_norm_eps;
  if (config_.sandwich_norms) {
    array a = attention(fast::rms_norm(x, layer.input_layernorm, eps), layer, layer_index, cache, offsets, at);
    array h = x + fast::rms_norm(a, layer.post_attention_layernorm, eps);
    array m = mlp(fast::rms_norm(h, layer.pre_feedforward_layernorm, eps), layer);
    return h + fast::rms_norm(m, layer.post_feedforward_layernorm, eps);
  }
  array h = x + attention(fast::rms_norm(x, layer.input_layernorm, eps), layer, layer_index, cache, offsets, at);
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
  return run(tokens, cache, rope_offsets(cache ? cache->offset() : 0, cache), nullptr);
}

bool Llama::supports_forward_at() const {
  for (int i = 0; i < num_layers(); ++i) {
    if (config_.layer_slides(i)) return false;
  }
  return true;
}

array Llama::forward_at(const array& tokens, KVCache& cache, const array& pos) const {
  if (tokens.ndim() != 2 || tokens.shape(1) != 1) {
    throw std::invalid_argument("[llama] forward_at takes tokens (B, 1), got " + shape_str(tokens.shape()) + ".");
  }
  if (pos.ndim() != 0 || pos.dtype() != int32) throw std::invalid_argument("[llama] forward_at needs an int32 scalar pos.");
  if (cache.num_layers() != num_layers() || !cache.static_decodable() || !supports_forward_at()) {
    throw std::invalid_argument("[llama] forward_at needs a filled full-precision cache of this model without "
                                "windows, quantization or padding, and a model without sliding layers.");
  }
  const int T = cache.capacity();
  StaticStep at{reshape(pos, {1}), reshape(less_equal(arange(0, T), pos), {1, T})};
  return run(tokens, &cache, pos, &at);
}

array Llama::run(const array& tokens, KVCache* cache, const array& offsets, const StaticStep* at) const {
  array x = embed_tokens_.rows(tokens);  // (B, L, hidden)
  if (config_.embedding_scale > 0) x = x * astype(array(config_.embedding_scale), x.dtype());
  if (at && !config_.sandwich_norms && fused_decode_available()) {
    // The GPU decode step: each residual add and the RMSNorm after it are one kernel (the last one
    // with the final norm), and the gated activation reads the stacked gate/up product directly.
    const float eps = config_.rms_norm_eps;
    array n = fast::rms_norm(x, layers_[0].input_layernorm, eps);
    for (int i = 0; i < num_layers(); ++i) {
      const Layer& layer = layers_[i];
      auto [h, m] = add_rms_norm(x, attention(n, layer, i, cache, offsets, at), layer.post_attention_layernorm, eps);
      const array& next_norm = i + 1 < num_layers() ? layers_[i + 1].input_layernorm : norm_;
      std::tie(x, n) = add_rms_norm(h, mlp(m, layer, true), next_norm, eps);
    }
    x = n;
  } else {
    for (int i = 0; i < num_layers(); ++i) x = block(x, layers_[i], i, cache, offsets, at);
    x = fast::rms_norm(x, norm_, config_.rms_norm_eps);
  }
  array logits = astype(lm_head_.apply(x), float32);  // (B, L, vocab)
  if (config_.final_logit_softcapping > 0) logits = softcap(logits, config_.final_logit_softcapping);
  return logits;
}

}  // namespace tessera::lm
