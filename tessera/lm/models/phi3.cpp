// Phi-3: Llama with fused qkv_proj and gate_up_proj weights (split at load, quantized ones too) and partial rotary dims.
#include <stdexcept>

#include "tessera/lm/models/hf_config.h"
#include "tessera/lm/models/registry.h"
#include "tessera/ops.h"

namespace tessera::lm {

LlamaConfig phi3_config(const nlohmann::json& j) {
  LlamaConfig c = read_llama_fields(j, "phi3");
  c.sliding_window = value_or<int>(j, "sliding_window", 0, "phi3");
  read_layer_types(j, c, "phi3");
  c.validate();
  return c;
}

void phi3_sanitize(WeightMap& w, const LlamaConfig& c) {
  const int D = c.head_dim_or_default();
  const int q_out = c.num_attention_heads * D, kv_out = c.kv_heads() * D, I = c.intermediate_size;
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    auto split_rows = [&](const std::string& fused, const std::vector<std::string>& names, const Shape& rows) {
      auto it = w.find(p + fused);
      if (it == w.end()) return;  // already split (or missing: the model reports it)
      int total = 0;
      for (int r : rows) total += r;
      if (it->second.ndim() != 2 || it->second.shape(0) != total) {
        throw std::invalid_argument("[phi3] weight " + p + fused + " has shape " + shape_str(it->second.shape()) +
                                    ", expected " + std::to_string(total) + " rows.");
      }
      Shape cuts;
      int at = 0;
      for (size_t k = 0; k + 1 < rows.size(); ++k) cuts.push_back(at += rows[k]);
      auto parts = split(it->second, cuts, 0);
      w.erase(it);
      for (size_t k = 0; k < names.size(); ++k) w.insert_or_assign(p + names[k], parts[k]);
    };
    // MLX-affine quantized matrices split the same rows of their packed weight, scales and biases.
    for (std::string part : {".weight", ".scales", ".biases"}) {
      split_rows("self_attn.qkv_proj" + part,
                 {"self_attn.q_proj" + part, "self_attn.k_proj" + part, "self_attn.v_proj" + part},
                 {q_out, kv_out, kv_out});
      split_rows("mlp.gate_up_proj" + part, {"mlp.gate_proj" + part, "mlp.up_proj" + part}, {I, I});
    }
  }
}

}  // namespace tessera::lm
