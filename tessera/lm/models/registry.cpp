// The table of supported Hugging Face model_types.
#include "tessera/lm/models/registry.h"

namespace tessera::lm {

namespace {

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> table = {
      {"llama", llama_hf_config, nullptr},
      {"mistral", mistral_config, nullptr},
      {"qwen2", qwen2_config, nullptr},
      {"qwen3", qwen3_config, nullptr},
      {"phi3", phi3_config, phi3_sanitize},
      {"gemma", gemma_config, gemma_sanitize},
      {"gemma2", gemma2_config, gemma_sanitize},
      {"gemma3_text", gemma3_text_config, gemma_sanitize},
  };
  return table;
}

}  // namespace

const Architecture* find_architecture(const std::string& model_type) {
  for (const auto& a : architectures()) {
    if (a.model_type == model_type) return &a;
  }
  return nullptr;
}

std::vector<std::string> supported_model_types() {
  std::vector<std::string> out;
  for (const auto& a : architectures()) out.push_back(a.model_type);
  return out;
}

}  // namespace tessera::lm
