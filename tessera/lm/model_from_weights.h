// Building a decoder from config.json text and a weight dictionary (custom model loading, tessera.lm.models).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tessera/dtype.h"
#include "tessera/lm/models/llama.h"

namespace tessera::lm {

// config_json: a Hugging Face config.json text (any model_type of models/registry.h); weights under the
// checkpoint's names. The weights are sanitized for the architecture, cast to dtype when given, and lm_head is
// tied to the embedding when the weights have none, as load_hf_model does for a directory. Throws as
// hf_config_from_json, and the model's errors for missing or misshapen weights.
std::shared_ptr<Llama> model_from_weights(const std::string& config_json, WeightMap weights,
                                          std::optional<Dtype> dtype = float32);

}  // namespace tessera::lm
