// Gemma: Llama with RMSNorm scale (1 + w), a GeGLU MLP (tanh GELU), embeddings scaled by sqrt(hidden_size)
// and tied embeddings.
#include <cmath>

#include "tessera/lm/models/hf_config.h"
#include "tessera/lm/models/registry.h"
#include "tessera/ops.h"

namespace tessera::lm {

// Fields common to Gemma 1/2/3.
LlamaConfig read_gemma_fields(const nlohmann::json& j, const std::string& area) {
  LlamaConfig c = read_llama_fields(j, area);
  c.rms_norm_eps = value_or<float>(j, "rms_norm_eps", 1e-6f, area);
  c.tie_word_embeddings = value_or<bool>(j, "tie_word_embeddings", true, area);
  c.hidden_act = value_or<std::string>(j, "hidden_activation",
                                       value_or<std::string>(j, "hidden_act", "gelu_pytorch_tanh", area), area);
  c.embedding_scale = std::sqrt(static_cast<float>(c.hidden_size));
  return c;
}

LlamaConfig gemma_config(const nlohmann::json& j) {
  LlamaConfig c = read_gemma_fields(j, "gemma");
  c.validate();
  return c;
}

void gemma_sanitize(WeightMap& w, const LlamaConfig&) {
  const std::string suffix = "norm.weight";
  for (auto& [name, a] : w) {
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      Dtype dtype = a.dtype();
      a = astype(astype(a, float32) + array(1.0f), dtype);
      a.eval();
    }
  }
}

}  // namespace tessera::lm
