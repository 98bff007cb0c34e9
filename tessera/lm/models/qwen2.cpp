// Qwen2 / Qwen2.5: Llama with q/k/v projection biases (sliding window only with use_sliding_window).
#include "tessera/lm/models/hf_config.h"
#include "tessera/lm/models/registry.h"

namespace tessera::lm {

// Qwen2 and Qwen3 share the sliding-window settings: layers from max_window_layers on slide.
void read_qwen_sliding(const nlohmann::json& j, LlamaConfig& c, const std::string& area) {
  if (!value_or<bool>(j, "use_sliding_window", false, area)) return;
  c.sliding_window = value_or<int>(j, "sliding_window", 0, area);
  if (read_layer_types(j, c, area)) return;
  int first = value_or<int>(j, "max_window_layers", c.num_hidden_layers, area);
  c.sliding_layers.assign(c.num_hidden_layers, false);
  for (int i = std::max(first, 0); i < c.num_hidden_layers; ++i) c.sliding_layers[i] = true;
}

LlamaConfig qwen2_config(const nlohmann::json& j) {
  LlamaConfig c = read_llama_fields(j, "qwen2");
  c.attention_bias = true;
  read_qwen_sliding(j, c, "qwen2");
  c.validate();
  return c;
}

}  // namespace tessera::lm
