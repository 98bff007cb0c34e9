// GGUF llama files -> LlamaConfig + HF-named WeightMap (dequantized at load) + tokenizer -> Llama.
#include "tessera/lm/gguf_model.h"

#include <regex>
#include <stdexcept>

#include "tessera/lm/gguf_tokenizer.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace {

const GGUFValue* find(const GGUFMetadata& md, const std::string& key) {
  auto it = md.find(key);
  return it == md.end() ? nullptr : &it->second;
}

const GGUFValue& require(const GGUFMetadata& md, const std::string& key) {
  const GGUFValue* v = find(md, key);
  if (!v) throw std::invalid_argument("[gguf] missing metadata key " + key);
  return *v;
}

int positive_int(const GGUFValue& v, const std::string& key) {
  int64_t x = v.as_int();
  if (x <= 0 || x > (int64_t{1} << 30))
    throw std::invalid_argument("[gguf] " + key + " = " + std::to_string(x) + " is out of range");
  return static_cast<int>(x);
}

// A 2-D tensor of a block type the GGUF quantized matmul reads directly.
bool is_native_block(const GGUFTensor& t) {
  if (t.shape.size() != 2 || t.shape[0] <= 0) return false;
  for (GGMLType g : {GGMLType::Q4_0, GGMLType::Q4_1, GGMLType::Q8_0, GGMLType::Q4_K, GGMLType::Q5_K,
                     GGMLType::Q6_K}) {
    if (t.type == g) return true;
  }
  return false;
}

}  // namespace

LlamaConfig llama_config_from_gguf(const GGUFMetadata& md) {
  const std::string arch = require(md, "general.architecture").as_string();
  if (arch != "llama") {
    throw std::invalid_argument("[gguf] general.architecture '" + arch +
                                "' is not supported yet (llama only)");
  }
  const std::string p = arch + ".";
  auto req_int = [&](const std::string& k) { return positive_int(require(md, p + k), p + k); };
  LlamaConfig c;
  c.hidden_size = req_int("embedding_length");
  c.intermediate_size = req_int("feed_forward_length");
  c.num_hidden_layers = req_int("block_count");
  c.num_attention_heads = req_int("attention.head_count");
  c.num_key_value_heads = find(md, p + "attention.head_count_kv") ? req_int("attention.head_count_kv") : 0;
  if (find(md, p + "vocab_size")) {
    c.vocab_size = req_int("vocab_size");
  } else if (const GGUFValue* t = find(md, "tokenizer.ggml.tokens")) {
    c.vocab_size = static_cast<int>(t->as_array().size());
  }
  if (const GGUFValue* v = find(md, p + "attention.layer_norm_rms_epsilon"))
    c.rms_norm_eps = static_cast<float>(v->as_float());
  if (const GGUFValue* v = find(md, p + "rope.freq_base")) c.rope_theta = static_cast<float>(v->as_float());
  if (find(md, p + "context_length")) c.max_position_embeddings = req_int("context_length");
  if (find(md, p + "attention.key_length")) c.head_dim = req_int("attention.key_length");
  if (const GGUFValue* v = find(md, p + "attention.value_length")) {
    if (v->as_int() != c.head_dim_or_default())
      throw std::invalid_argument("[gguf] attention.value_length differs from the key length; not supported");
  }
  if (const GGUFValue* v = find(md, p + "rope.dimension_count")) {
    if (v->as_int() != c.head_dim_or_default())
      throw std::invalid_argument(
          "[gguf] rope.dimension_count " + std::to_string(v->as_int()) + " differs from the head dimension " +
          std::to_string(c.head_dim_or_default()) + " (partial RoPE is not supported yet)");
  }
  for (const char* k : {"rope.scaling.type", "rope.scaling.factor"}) {
    if (const GGUFValue* v = find(md, p + k)) {
      bool none =
          v->is_string() ? (v->as_string() == "none" || v->as_string().empty()) : v->as_float() == 1.0;
      if (!none)
        throw std::invalid_argument(std::string("[gguf] ") + p + k + " (RoPE scaling) is not supported yet");
    }
  }
  c.rope_traditional = true;  // llama.cpp's q/k row order: adjacent pairs (see the header)
  c.validate();
  return c;
}

std::optional<std::string> hf_name_from_gguf(const std::string& n) {
  if (n == "token_embd.weight") return "model.embed_tokens.weight";
  if (n == "output_norm.weight") return "model.norm.weight";
  if (n == "output.weight") return "lm_head.weight";
  static const std::regex blk(R"(blk\.(\d+)\.(\w+)\.weight)");
  std::smatch m;
  if (!std::regex_match(n, m, blk)) return std::nullopt;
  static const std::pair<const char*, const char*> kParts[] = {
      {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"},
      {"ffn_gate", "mlp.gate_proj"},
      {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
      {"attn_norm", "input_layernorm"},
      {"ffn_norm", "post_attention_layernorm"},
  };
  for (const auto& [g, h] : kParts) {
    if (m[2] == g) return "model.layers." + m[1].str() + "." + h + ".weight";
  }
  return std::nullopt;
}

array gguf_weight(const GGUFTensor& t, const std::string& hf_name, const GGUFModelOptions& options) {
  const bool is_norm = hf_name.find("norm") != std::string::npos;
  const Dtype dt = is_norm ? float32 : options.dtype;
  array a = ggml_is_quantized(t.type) ? gguf_to_array(t, dt) : gguf_to_array(t);
  if (a.dtype() != dt) a = astype(a, dt);
  a.eval();
  return a;
}

WeightMap llama_weights_from_gguf(const GGUFFile& file, LlamaConfig& config,
                                  const GGUFModelOptions& options) {
  if (options.dtype != float32 && options.dtype != float16 && options.dtype != bfloat16)
    throw std::invalid_argument("[gguf] weights load as float32, float16 or bfloat16");
  WeightMap w;
  for (const auto& [name, t] : file.tensors) {
    if (name == "rope_freqs.weight")
      throw std::invalid_argument("[gguf] rope_freqs.weight (Llama 3.1 RoPE scaling) is not supported yet");
    auto hf = hf_name_from_gguf(name);
    if (!hf) throw std::invalid_argument("[gguf] unknown tensor " + name + " in a llama file");
    if (options.keep_quantized && is_native_block(t)) {
      const std::string prefix = hf->substr(0, hf->size() - std::string(".weight").size());
      w.emplace(*hf, reshape(t.data, {t.shape[0], static_cast<int>(t.data.size() / t.shape[0])}));
      w.emplace(prefix + ".gguf_type", array(static_cast<int32_t>(t.type)));
      continue;
    }
    w.emplace(*hf, gguf_weight(t, *hf, options));
  }
  config.tie_word_embeddings = w.find("lm_head.weight") == w.end();
  if (config.vocab_size == 0) {
    auto it = w.find("model.embed_tokens.weight");
    if (it != w.end() && it->second.ndim() == 2) config.vocab_size = it->second.shape(0);  // rows either way
  }
  return w;
}

GGUFModel load_gguf_model(const std::string& path, const GGUFModelOptions& options) {
  GGUFFile file = load_gguf_file(path);
  GGUFModel out;
  out.config = llama_config_from_gguf(file.metadata);
  WeightMap w = llama_weights_from_gguf(file, out.config, options);
  out.model = std::make_shared<Llama>(out.config, std::move(w));
  out.tokenizer = tokenizer_from_gguf(file.metadata);
  return out;
}

}  // namespace tessera::lm
