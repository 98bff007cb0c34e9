// Loading Hugging Face model directories (config.json + safetensors + tokenizer.json).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tessera/dtype.h"
#include "tessera/lm/models/llama.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

struct HFLoadOptions {
  // Weights are cast to this dtype (float32 by default, for the CPU); nullopt keeps the checkpoint's
  // dtypes (bf16/f16 stay as they are).
  std::optional<Dtype> dtype = float32;
  bool load_tokenizer = true;  // false: HFModel::tokenizer stays null (a directory without tokenizer files)
};

struct HFModel {
  std::shared_ptr<Llama> model;
  std::shared_ptr<Tokenizer> tokenizer;
  std::string model_type;
};

// The decoder settings of a config.json text, through the model_type registry. Throws "[load] ..." for an
// unknown or missing model_type, and the architecture's own "[<model_type>] ..." errors for bad fields.
LlamaConfig hf_config_from_json(const std::string& json_text);

// The config, config.json and weights of a directory (sanitized, floating arrays cast to dtype; packed
// quantized weights stay uint32). MLX-quantized directories (config.json "quantization" section, .weight
// uint32 + .scales + .biases) are checked against their section (throws "[quantize] ..." on a mismatch).
struct HFWeights {
  LlamaConfig config;
  WeightMap weights;
  nlohmann::json config_json;
};
// sanitize = false keeps the checkpoint's own names and values (for re-saving; the Llama model needs them
// sanitized).
HFWeights load_hf_weights(const std::string& dir, std::optional<Dtype> dtype = float32, bool sanitize = true);

// dir: config.json plus model.safetensors or a sharded model.safetensors.index.json. The tokenizer comes
// from tokenizer_path if given, else the directory (tokenizer.json or tokenizer.model). Throws "[load] ..."
// on missing files, and the model's errors for missing or misshapen weights.
HFModel load_hf_model(const std::string& dir, const HFLoadOptions& options = {},
                      const std::string& tokenizer_path = "");

}  // namespace tessera::lm
