// Qwen3: Llama with RMSNorm on each query and key head (q_norm, k_norm) and optional attention biases.
#include "tessera/lm/models/hf_config.h"
#include "tessera/lm/models/registry.h"

namespace tessera::lm {

void read_qwen_sliding(const nlohmann::json& j, LlamaConfig& c, const std::string& area);  // qwen2.cpp

LlamaConfig qwen3_config(const nlohmann::json& j) {
  LlamaConfig c = read_llama_fields(j, "qwen3");
  c.qk_norm = true;
  c.attention_bias = c.o_proj_bias = value_or<bool>(j, "attention_bias", false, "qwen3");
  read_qwen_sliding(j, c, "qwen3");
  c.validate();
  return c;
}

}  // namespace tessera::lm
