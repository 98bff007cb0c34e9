// Gemma 2: Gemma with sandwich norms, attention and final logit soft-capping, alternating sliding-window
// layers and the query_pre_attn_scalar attention scale.
#include "tessera/lm/models/hf_config.h"
#include "tessera/lm/models/registry.h"

namespace tessera::lm {

LlamaConfig read_gemma_fields(const nlohmann::json& j, const std::string& area);  // gemma.cpp

LlamaConfig gemma2_config(const nlohmann::json& j) {
  const std::string area = "gemma2";
  LlamaConfig c = read_gemma_fields(j, area);
  c.sandwich_norms = true;
  c.attn_logit_softcapping = value_or<float>(j, "attn_logit_softcapping", 0.0f, area);
  c.final_logit_softcapping = value_or<float>(j, "final_logit_softcapping", 0.0f, area);
  c.query_pre_attn_scalar = value_or<float>(j, "query_pre_attn_scalar", 256.0f, area);
  c.sliding_window = value_or<int>(j, "sliding_window", 4096, area);
  if (!read_layer_types(j, c, area)) {
    c.sliding_layers.assign(c.num_hidden_layers, false);
    for (int i = 0; i < c.num_hidden_layers; i += 2) c.sliding_layers[i] = true;  // even layers slide
  }
  c.validate();
  return c;
}

}  // namespace tessera::lm
