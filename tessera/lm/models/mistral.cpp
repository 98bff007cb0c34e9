// Mistral: Llama with an optional sliding attention window on every layer.
#include "tessera/lm/models/hf_config.h"
#include "tessera/lm/models/registry.h"

namespace tessera::lm {

LlamaConfig mistral_config(const nlohmann::json& j) {
  LlamaConfig c = read_llama_fields(j, "mistral");
  c.sliding_window = value_or<int>(j, "sliding_window", 0, "mistral");
  read_layer_types(j, c, "mistral");
  c.validate();
  return c;
}

}  // namespace tessera::lm
