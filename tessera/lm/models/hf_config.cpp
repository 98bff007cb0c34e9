// Common config.json readers for the Llama-family architectures (transformers 4 and 5 layouts).
#include "tessera/lm/models/hf_config.h"

#include <stdexcept>

namespace tessera::lm {

nlohmann::json parse_config_json(const std::string& json_text, const std::string& area) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const std::exception& e) {
    throw std::invalid_argument("[" + area + "] config.json is not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw std::invalid_argument("[" + area + "] config.json must hold an object.");
  return j;
}

void read_rope_scaling(const nlohmann::json& r, LlamaConfig& c, const std::string& area) {
  if (r.is_null()) return;
  if (!r.is_object()) throw std::invalid_argument("[" + area + "] rope_scaling must be an object: " + r.dump());
  std::string type = value_or<std::string>(r, "rope_type", value_or<std::string>(r, "type", "default", area), area);
  if (r.contains("rope_theta")) c.rope_theta = value_or<float>(r, "rope_theta", c.rope_theta, area);
  if (r.contains("partial_rotary_factor")) {
    c.partial_rotary_factor = value_or<float>(r, "partial_rotary_factor", c.partial_rotary_factor, area);
  }
  if (type == "default") return;
  if (type != "linear" && type != "llama3") {
    throw std::invalid_argument("[" + area + "] rope_scaling type \"" + type +
                                "\" is not supported (default, linear, llama3): " + r.dump());
  }
  c.rope_type = type;
  if (!r.contains("factor")) throw std::invalid_argument("[" + area + "] rope_scaling needs a factor: " + r.dump());
  c.rope_factor = value_or<float>(r, "factor", 1.0f, area);
  if (type == "llama3") {
    c.rope_low_freq_factor = value_or<float>(r, "low_freq_factor", 1.0f, area);
    c.rope_high_freq_factor = value_or<float>(r, "high_freq_factor", 4.0f, area);
    c.rope_original_max_position_embeddings = value_or<int>(r, "original_max_position_embeddings", 8192, area);
  }
}

bool read_layer_types(const nlohmann::json& j, LlamaConfig& c, const std::string& area) {
  if (!j.contains("layer_types") || j["layer_types"].is_null()) return false;
  const auto& t = j["layer_types"];
  if (!t.is_array()) throw std::invalid_argument("[" + area + "] layer_types must be a list.");
  c.sliding_layers.clear();
  for (const auto& e : t) {
    if (e == "sliding_attention") {
      c.sliding_layers.push_back(true);
    } else if (e == "full_attention") {
      c.sliding_layers.push_back(false);
    } else {
      throw std::invalid_argument("[" + area + "] layer type " + e.dump() + " is not supported.");
    }
  }
  return true;
}

LlamaConfig read_llama_fields(const nlohmann::json& j, const std::string& area) {
  LlamaConfig c;
  for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                          "vocab_size"}) {
    if (!j.contains(key) || j[key].is_null()) {
      throw std::invalid_argument("[" + area + "] config.json lacks " + key + ".");
    }
  }
  c.model_type = value_or<std::string>(j, "model_type", "llama", area);
  c.hidden_size = value_or<int>(j, "hidden_size", 0, area);
  c.intermediate_size = value_or<int>(j, "intermediate_size", 0, area);
  c.num_hidden_layers = value_or<int>(j, "num_hidden_layers", 0, area);
  c.num_attention_heads = value_or<int>(j, "num_attention_heads", 0, area);
  c.num_key_value_heads = value_or<int>(j, "num_key_value_heads", 0, area);
  c.vocab_size = value_or<int>(j, "vocab_size", 0, area);
  c.rms_norm_eps = value_or<float>(j, "rms_norm_eps", c.rms_norm_eps, area);
  c.rope_theta = value_or<float>(j, "rope_theta", c.rope_theta, area);
  c.max_position_embeddings = value_or<int>(j, "max_position_embeddings", c.max_position_embeddings, area);
  c.tie_word_embeddings = value_or<bool>(j, "tie_word_embeddings", c.tie_word_embeddings, area);
  c.head_dim = value_or<int>(j, "head_dim", 0, area);
  c.partial_rotary_factor = value_or<float>(j, "partial_rotary_factor", 1.0f, area);
  if (j.contains("rope_scaling")) read_rope_scaling(j["rope_scaling"], c, area);
  // transformers 5: {"rope_type": ..., "rope_theta": ..., ...}
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object() &&
      !j["rope_parameters"].contains("full_attention")) {
    read_rope_scaling(j["rope_parameters"], c, area);
  }
  return c;
}

}  // namespace tessera::lm
