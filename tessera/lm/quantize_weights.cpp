// quantize_weights / dequantize_weights / cast_weights over HF-named WeightMaps.
#include "tessera/lm/quantize_weights.h"

#include <algorithm>
#include <regex>
#include <stdexcept>
#include <vector>

#include "tessera/ops.h"
#include "tessera/scheduler.h"

namespace tessera::lm {

namespace {

const std::string kWeight = ".weight";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The (out, in) weight prefixes of a WeightMap that are linear or embedding weights (2-D, not norms).
std::vector<std::string> matrix_prefixes(const WeightMap& w) {
  std::vector<std::string> out;
  for (const auto& [name, a] : w) {
    if (!ends_with(name, kWeight) || a.ndim() != 2 || name.find("norm") != std::string::npos) continue;
    out.push_back(name.substr(0, name.size() - kWeight.size()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The recipe's (low, high) bits.
std::pair<int, int> recipe_bits(const std::string& recipe) {
  if (recipe == "mixed_2_6") return {2, 6};
  if (recipe == "mixed_3_4") return {3, 4};
  if (recipe == "mixed_3_6") return {3, 6};
  if (recipe == "mixed_4_6") return {4, 6};
  throw std::invalid_argument("[quantize] unknown quantization recipe \"" + recipe +
                              "\" (mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6).");
}

}  // namespace

int quantized_layer_bits(const std::string& prefix, const QuantizeOptions& o, int num_layers) {
  if (o.recipe.empty()) return o.bits;
  auto [low, high] = recipe_bits(o.recipe);
  if (prefix.find("lm_head") != std::string::npos || prefix.find("embed_tokens") != std::string::npos) return high;
  static const std::regex layer(R"(layers\.(\d+)\.)");
  std::smatch m;
  int index = std::regex_search(prefix, m, layer) ? std::stoi(m[1].str()) : 0;
  const int eighth = num_layers / 8;
  bool more = index < eighth || index >= 7 * num_layers / 8 || (index - eighth) % 3 == 2;
  // A fused matrix takes the higher of its roles' bits: Phi-3's qkv_proj holds v_proj (high), gate_up_proj
  // holds neither sensitive role (low).
  auto has = [&](const char* role) { return prefix.find(role) != std::string::npos; };
  bool sensitive = has("v_proj") || has("qkv_proj") || has("down_proj");
  return sensitive && more ? high : low;
}

namespace {

nlohmann::json group_bits(int group_size, int bits) { return {{"group_size", group_size}, {"bits", bits}}; }

}  // namespace

void validate_quantize_options(const QuantizeOptions& o) {
  if (o.bits != 2 && o.bits != 3 && o.bits != 4 && o.bits != 5 && o.bits != 6 && o.bits != 8) {
    throw std::invalid_argument("[quantize] bits must be 2, 3, 4, 5, 6 or 8, got " + std::to_string(o.bits) + ".");
  }
  if (o.group_size != 32 && o.group_size != 64 && o.group_size != 128) {
    throw std::invalid_argument("[quantize] group_size must be 32, 64 or 128, got " +
                                std::to_string(o.group_size) + ".");
  }
  if (!o.recipe.empty()) recipe_bits(o.recipe);
}

int in_features_of(const std::string& prefix, const LlamaConfig& c) {
  auto has = [&](const char* part) { return prefix.find(part) != std::string::npos; };
  if (has("o_proj")) return c.num_attention_heads * c.head_dim_or_default();
  if (has("down_proj")) return c.intermediate_size;
  if (has("embed_tokens") || has("lm_head") || has("q_proj") || has("qkv_proj") || has("k_proj") || has("v_proj") ||
      has("gate_proj") || has("up_proj")) {
    return c.hidden_size;
  }
  throw std::invalid_argument("[quantize] unknown linear weight " + prefix + ".");
}

nlohmann::json quantize_weights(WeightMap& w, const LlamaConfig& config, const QuantizeOptions& o) {
  validate_quantize_options(o);
  const int base_bits = o.recipe.empty() ? o.bits : recipe_bits(o.recipe).first;
  nlohmann::json section = group_bits(o.group_size, base_bits);
  for (const auto& prefix : matrix_prefixes(w)) {
    if (w.count(prefix + ".scales")) continue;  // already affine
    const array a = w.at(prefix + kWeight);
    const bool blocks = w.count(prefix + ".gguf_type") > 0;
    if (!blocks && !is_floating_point(a.dtype())) continue;
    const int in = in_features_of(prefix, config);
    if (in % o.group_size != 0) continue;  // as MLX-LM: layers that do not split into groups stay
    array dense = linear_weight_from(w, prefix, a.shape(0), in, "quantize").to_dense();
    const int bits = quantized_layer_bits(prefix, o, config.num_hidden_layers);
    auto q = quantize(dense, o.group_size, bits);
    eval(q);
    w.erase(prefix + ".gguf_type");
    w.insert_or_assign(prefix + kWeight, q[0]);
    w.insert_or_assign(prefix + ".scales", q[1]);
    w.insert_or_assign(prefix + ".biases", q[2]);
    if (bits != base_bits) section[prefix] = group_bits(o.group_size, bits);
  }
  return section;
}

void dequantize_weights(WeightMap& w, const LlamaConfig& config, std::optional<Dtype> dtype) {
  for (const auto& prefix : matrix_prefixes(w)) {
    if (!is_quantized_weight(w, prefix)) continue;
    const int in = in_features_of(prefix, config);
    array dense = linear_weight_from(w, prefix, w.at(prefix + kWeight).shape(0), in, "quantize").to_dense();
    if (dtype && dense.dtype() != *dtype) dense = astype(dense, *dtype);
    dense.eval();
    w.erase(prefix + ".gguf_type");
    w.erase(prefix + ".scales");
    w.erase(prefix + ".biases");
    w.insert_or_assign(prefix + kWeight, dense);
  }
}

void cast_weights(WeightMap& w, Dtype dtype) {
  for (auto& [name, a] : w) {
    if (is_floating_point(a.dtype()) && a.dtype() != dtype) {
      a = astype(a, dtype);
      a.eval();
    }
  }
}

void check_quantization_config(const nlohmann::json& q, const WeightMap& w) {
  if (!q.is_object()) throw std::invalid_argument("[quantize] the quantization section must be an object.");
  auto read = [](const nlohmann::json& j, const std::string& where) {
    if (!j.is_object() || !j.contains("bits") || !j.contains("group_size") || !j["bits"].is_number_integer() ||
        !j["group_size"].is_number_integer()) {
      throw std::invalid_argument("[quantize] " + where + " needs integer group_size and bits.");
    }
    QuantizeOptions o;
    o.bits = j["bits"].get<int>();
    o.group_size = j["group_size"].get<int>();
    validate_quantize_options(o);
    return o;
  };
  const QuantizeOptions global = read(q, "the quantization section");
  for (const auto& [name, a] : w) {
    if (!ends_with(name, ".scales")) continue;
    const std::string prefix = name.substr(0, name.size() - 7);
    QuantizeOptions o = global;
    if (q.contains(prefix)) {
      if (q[prefix].is_boolean() && !q[prefix].get<bool>()) {
        throw std::invalid_argument("[quantize] " + prefix + " is marked unquantized but has scales.");
      }
      if (!q[prefix].is_boolean()) o = read(q[prefix], prefix);
    }
    auto it = w.find(prefix + kWeight);
    if (it == w.end()) throw std::invalid_argument("[quantize] " + name + " has no " + prefix + ".weight.");
    const int64_t from_w = static_cast<int64_t>(it->second.shape(-1)) * 32 / o.bits;
    const int64_t from_scales = static_cast<int64_t>(a.shape(-1)) * o.group_size;
    if (it->second.dtype() != uint32 || from_w != from_scales) {
      throw std::invalid_argument("[quantize] " + prefix + " (weight " + shape_str(it->second.shape()) + ", scales " +
                                  shape_str(a.shape()) + ") is not " + std::to_string(o.bits) + "-bit with group_size " +
                                  std::to_string(o.group_size) + " as config.json says.");
    }
  }
}

void apply_load_quantization(WeightMap& w, const LlamaConfig& config, const std::string& quantization) {
  if (quantization.empty() || quantization == "none") return;
  if (quantization == "int8" || quantization == "int4") {
    QuantizeOptions o;
    o.bits = quantization == "int8" ? 8 : 4;
    quantize_weights(w, config, o);
    return;
  }
  Dtype dtype = float32;
  if (quantization == "f16") {
    dtype = float16;
  } else if (quantization == "bf16") {
    dtype = bfloat16;
  } else if (quantization != "f32") {
    throw std::invalid_argument("[load] unknown quantization \"" + quantization +
                                "\" (int8, int4, f16, bf16, f32).");
  }
  dequantize_weights(w, config, dtype);
  cast_weights(w, dtype);
}

}  // namespace tessera::lm
