// Reading Hugging Face config.json fields shared by the Llama-family architectures.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tessera/lm/models/llama.h"

namespace tessera::lm {

// Parses config.json text; throws "[<area>] ..." when it is not a JSON object.
nlohmann::json parse_config_json(const std::string& json_text, const std::string& area);

// The LlamaConfig fields every architecture shares (sizes, eps, rope_theta, tie_word_embeddings, head_dim,
// rope_scaling / rope_parameters: default, linear, llama3; others throw). Both the transformers 4
// layout (rope_theta, rope_scaling) and the 5 layout (rope_parameters) are read. Throws "[<area>] ..."
// on fields of the wrong type or a missing required size (hidden_size, intermediate_size,
// num_hidden_layers, num_attention_heads, vocab_size).
LlamaConfig read_llama_fields(const nlohmann::json& j, const std::string& area);

// Reads rope_scaling-like object `r` (rope_type/type, factor, ...) into c.
void read_rope_scaling(const nlohmann::json& r, LlamaConfig& c, const std::string& area);

// Reads "layer_types" (["sliding_attention", "full_attention", ...]) into c.sliding_layers if present;
// returns whether it was present.
bool read_layer_types(const nlohmann::json& j, LlamaConfig& c, const std::string& area);

// j[key] as T, or fallback when absent or null; throws "[<area>] ..." on a wrong type.
template <class T>
T value_or(const nlohmann::json& j, const char* key, T fallback, const std::string& area) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument("[" + area + "] config.json field " + key + " has the wrong type: " +
                                j[key].dump() + ".");
  }
}

}  // namespace tessera::lm
