// load_hf_model(): config.json -> registry -> weights (cast, sanitized) -> Llama decoder, plus the tokenizer.
#include "tessera/lm/hf_model.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tessera/io.h"
#include "tessera/lm/load_tokenizer.h"
#include "tessera/lm/models/hf_config.h"
#include "tessera/lm/models/registry.h"
#include "tessera/lm/quantize_weights.h"
#include "tessera/ops.h"

namespace tessera::lm {

namespace fs = std::filesystem;

LlamaConfig hf_config_from_json(const std::string& json_text) {
  nlohmann::json j = parse_config_json(json_text, "load");
  if (!j.contains("model_type") || !j["model_type"].is_string()) {
    throw std::invalid_argument("[load] config.json has no model_type string.");
  }
  std::string type = j["model_type"].get<std::string>();
  const Architecture* arch = find_architecture(type);
  if (!arch) {
    std::string known;
    for (const auto& t : supported_model_types()) known += (known.empty() ? "" : ", ") + t;
    throw std::invalid_argument("[load] model_type \"" + type + "\" is not supported (supported: " + known + ").");
  }
  return arch->config(j);
}

HFWeights load_hf_weights(const std::string& dir, std::optional<Dtype> dtype, bool sanitize) {
  fs::path d(dir);
  std::ifstream in(d / "config.json");
  if (!in) throw std::runtime_error("[load] " + dir + " has no readable config.json.");
  std::stringstream text;
  text << in.rdbuf();
  HFWeights out;
  out.config = hf_config_from_json(text.str());
  out.config_json = parse_config_json(text.str(), "load");

  fs::path weights_path;
  if (fs::exists(d / "model.safetensors.index.json")) {
    weights_path = d / "model.safetensors.index.json";
  } else if (fs::exists(d / "model.safetensors")) {
    weights_path = d / "model.safetensors";
  } else {
    throw std::runtime_error("[load] " + dir + " has neither model.safetensors nor model.safetensors.index.json.");
  }
  auto loaded = tessera::load(weights_path.string());
  out.weights = WeightMap(loaded.begin(), loaded.end());
  // MLX writes "quantization" (and a copy as "quantization_config"); other quant_methods are not MLX's.
  for (const char* key : {"quantization", "quantization_config"}) {
    const auto it = out.config_json.find(key);
    if (it != out.config_json.end() && it->is_object() && !it->contains("quant_method")) {
      check_quantization_config(*it, out.weights);
      break;
    }
  }
  const auto& fix = find_architecture(out.config.model_type)->sanitize;
  if (sanitize && fix) fix(out.weights, out.config);
  if (dtype) cast_weights(out.weights, *dtype);
  // Checkpoints that leave out lm_head share the embedding (tie_word_embeddings is often omitted).
  if (!out.weights.count("lm_head.weight")) out.config.tie_word_embeddings = true;
  return out;
}

HFModel load_hf_model(const std::string& dir, const HFLoadOptions& options, const std::string& tokenizer_path) {
  HFWeights w = load_hf_weights(dir, options.dtype);
  HFModel out;
  out.model_type = w.config.model_type;
  out.model = std::make_shared<Llama>(w.config, std::move(w.weights));
  if (!tokenizer_path.empty()) {
    out.tokenizer = load_tokenizer(tokenizer_path);
  } else if (options.load_tokenizer) {
    out.tokenizer = load_tokenizer(dir);
  }
  return out;
}

}  // namespace tessera::lm
