// Architectures of Hugging Face checkpoints keyed by config.json "model_type", all run by the Llama decoder.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tessera/lm/models/llama.h"

namespace tessera::lm {

struct Architecture {
  std::string model_type;
  // config.json -> the decoder's settings; throws "[<model_type>] ..." on bad or unsupported fields.
  std::function<LlamaConfig(const nlohmann::json&)> config;
  // Rewrites checkpoint weights into the Llama names (fused projections split, norm offsets folded in).
  std::function<void(WeightMap&, const LlamaConfig&)> sanitize;
};

// nullptr when model_type is not supported.
const Architecture* find_architecture(const std::string& model_type);
std::vector<std::string> supported_model_types();

// One per architecture file (tessera/lm/models/<name>.cpp).
LlamaConfig llama_hf_config(const nlohmann::json& j);
LlamaConfig mistral_config(const nlohmann::json& j);
LlamaConfig qwen2_config(const nlohmann::json& j);
LlamaConfig qwen3_config(const nlohmann::json& j);
LlamaConfig phi3_config(const nlohmann::json& j);
void phi3_sanitize(WeightMap& weights, const LlamaConfig& c);
LlamaConfig gemma_config(const nlohmann::json& j);
LlamaConfig gemma2_config(const nlohmann::json& j);
LlamaConfig gemma3_text_config(const nlohmann::json& j);
// Gemma's RMSNorm scales by (1 + w): adds 1 to every *norm.weight.
void gemma_sanitize(WeightMap& weights, const LlamaConfig& c);

}  // namespace tessera::lm
