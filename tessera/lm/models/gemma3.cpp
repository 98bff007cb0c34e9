// Gemma 3 (text): Gemma 2's layout without attention soft-capping, plus q/k norms, five sliding layers per
// global one and a separate RoPE base for the sliding layers.
#include "tessera/lm/models/hf_config.h"
#include "tessera/lm/models/registry.h"

namespace tessera::lm {

LlamaConfig read_gemma_fields(const nlohmann::json& j, const std::string& area);  // gemma.cpp

LlamaConfig gemma3_text_config(const nlohmann::json& j) {
  const std::string area = "gemma3_text";
  LlamaConfig c = read_gemma_fields(j, area);
  c.sandwich_norms = true;
  c.qk_norm = true;
  c.attn_logit_softcapping = value_or<float>(j, "attn_logit_softcapping", 0.0f, area);
  c.final_logit_softcapping = value_or<float>(j, "final_logit_softcapping", 0.0f, area);
  c.query_pre_attn_scalar = value_or<float>(j, "query_pre_attn_scalar", 256.0f, area);
  c.sliding_window = value_or<int>(j, "sliding_window", 4096, area);
  c.rope_local_theta = value_or<float>(j, "rope_local_base_freq", 10000.0f, area);
  if (!read_layer_types(j, c, area)) {
    int pattern = value_or<int>(j, "sliding_window_pattern", 6, area);
    c.sliding_layers.assign(c.num_hidden_layers, false);
    for (int i = 0; i < c.num_hidden_layers; ++i) c.sliding_layers[i] = pattern <= 0 || (i + 1) % pattern != 0;
  }
  // transformers 5: {"full_attention": {...}, "sliding_attention": {...}}
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object() &&
      j["rope_parameters"].contains("full_attention")) {
    const auto& rp = j["rope_parameters"];
    read_rope_scaling(rp["full_attention"], c, area);
    if (rp.contains("sliding_attention")) {
      LlamaConfig local;
      read_rope_scaling(rp["sliding_attention"], local, area);
      if (local.rope_type != "default") {
        throw std::invalid_argument("[" + area + "] scaled RoPE on sliding layers is not supported.");
      }
      c.rope_local_theta = local.rope_theta;
    }
  }
  c.validate();
  return c;
}

}  // namespace tessera::lm
