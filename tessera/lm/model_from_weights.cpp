// model_from_weights(): config.json text -> registry -> sanitized, cast weights -> Llama decoder.
#include "tessera/lm/model_from_weights.h"

#include "tessera/lm/hf_model.h"
#include "tessera/lm/models/registry.h"
#include "tessera/ops.h"

namespace tessera::lm {

std::shared_ptr<Llama> model_from_weights(const std::string& config_json, WeightMap weights,
                                          std::optional<Dtype> dtype) {
  LlamaConfig config = hf_config_from_json(config_json);
  if (const auto& sanitize = find_architecture(config.model_type)->sanitize) sanitize(weights, config);
  if (dtype) {
    for (auto& [name, a] : weights) {
      if (a.dtype() != *dtype) a = astype(a, *dtype);
    }
  }
  if (!weights.count("lm_head.weight")) config.tie_word_embeddings = true;  // lm_head left out: shared embedding
  return std::make_shared<Llama>(config, std::move(weights));
}

}  // namespace tessera::lm
