// Random-weight Llama models: named shapes, parameter counts, weights drawn on the target device.
#include "tessera/lm/random_model.h"

#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/random.h"
#include "tessera/scheduler.h"

namespace tessera::lm {

namespace {

LlamaConfig make(int vocab, int hidden, int layers, int heads, int kv_heads, int ffn, bool tied, int ctx) {
  LlamaConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.intermediate_size = ffn;
  c.tie_word_embeddings = tied;
  c.max_position_embeddings = ctx;
  return c;
}

}  // namespace

std::vector<std::string> llama_shape_names() { return {"7b", "1b", "smol", "stories"}; }

LlamaConfig llama_shape(const std::string& name) {
  LlamaConfig c;
  if (name == "7b") {
    c = make(32000, 4096, 32, 32, 32, 11008, false, 4096);
  } else if (name == "1b") {
    c = make(32000, 2048, 16, 32, 8, 8192, false, 131072);
    c.rope_theta = 500000.0f;
  } else if (name == "smol") {
    c = make(49152, 576, 30, 9, 3, 1536, false, 8192);
    c.rope_theta = 100000.0f;
  } else if (name == "stories") {
    c = make(512, 64, 5, 8, 4, 172, true, 512);  // the stories260K.bin header
  } else {
    throw std::invalid_argument("[random_model] unknown shape '" + name + "' (known: 7b, 1b, smol, stories)");
  }
  c.validate();
  return c;
}

size_t llama_parameter_count(const LlamaConfig& c) {
  const size_t H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const size_t D = c.head_dim_or_default();
  const size_t q = c.num_attention_heads * D, kv = c.kv_heads() * D;
  const size_t layer = 2 * H + H * q + 2 * H * kv + q * H + 3 * H * I;
  return V * H + c.num_hidden_layers * layer + H + (c.tie_word_embeddings ? 0 : V * H);
}

WeightMap random_llama_weights(const LlamaConfig& config, Dtype dtype, uint64_t seed, StreamOrDevice s) {
  config.validate();
  if (!is_floating_point(dtype)) {
    throw std::invalid_argument("[random_model] dtype must be floating, got " + dtype_name(dtype) + ".");
  }
  const int H = config.hidden_size, I = config.intermediate_size, V = config.vocab_size;
  const int D = config.head_dim_or_default();
  const int q = config.num_attention_heads * D, kv = config.kv_heads() * D;
  array key = random::key(seed);
  WeightMap w;
  auto matrix = [&](const std::string& name, int rows, int cols) {
    auto [next, sub] = random::split(key, s);
    key = next;
    array m = random::normal({rows, cols}, dtype, 0.0f, 0.02f, sub, s);
    eval(m);
    w.insert_or_assign(name, m);
  };
  auto norm = [&](const std::string& name) {
    array n = ones({H}, dtype, s);
    eval(n);
    w.insert_or_assign(name, n);
  };
  matrix("model.embed_tokens.weight", V, H);
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    norm(p + "input_layernorm.weight");
    matrix(p + "self_attn.q_proj.weight", q, H);
    matrix(p + "self_attn.k_proj.weight", kv, H);
    matrix(p + "self_attn.v_proj.weight", kv, H);
    matrix(p + "self_attn.o_proj.weight", H, q);
    norm(p + "post_attention_layernorm.weight");
    matrix(p + "mlp.gate_proj.weight", I, H);
    matrix(p + "mlp.up_proj.weight", I, H);
    matrix(p + "mlp.down_proj.weight", H, I);
  }
  norm("model.norm.weight");
  if (!config.tie_word_embeddings) matrix("lm_head.weight", V, H);
  return w;
}

size_t llama_decode_weight_bytes(const LlamaConfig& config, const WeightMap& weights) {
  size_t total = 0;
  for (const auto& [name, a] : weights) {
    if (name == "model.embed_tokens.weight" && !config.tie_word_embeddings) continue;
    total += a.nbytes();
  }
  return total;
}

}  // namespace tessera::lm
