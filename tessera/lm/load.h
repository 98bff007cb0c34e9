// Loading a model and its tokenizer from a path (llama2.c checkpoints and llama GGUF files).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tessera/dtype.h"
#include "tessera/io/gguf_value.h"

#include "tessera/lm/models/llama.h"
#include "tessera/lm/progress.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

struct LoadedModel {
  std::shared_ptr<Llama> model;
  std::shared_ptr<Tokenizer> tokenizer;
};

// A checkpoint's config and HF-named weights before a model is built (for load() and convert).
struct ModelWeights {
  std::string format;  // "hf", "gguf" or "llama2c"
  std::string path;
  LlamaConfig config;
  WeightMap weights;            // quantized ones as in linear_weight.h
  nlohmann::json config_json;   // "hf": the directory's config.json
  GGUFMetadata gguf_metadata;   // "gguf": the file's metadata
};

// Reads path as load() does. dtype: floating HF / llama2.c weights and dequantized GGUF tensors are cast
// to it (nullopt keeps the checkpoint's dtypes); GGUF blocks of supported types stay native unless
// keep_gguf_blocks is false. sanitize: HF weights are renamed / adjusted for the Llama decoder (false keeps
// the checkpoint's own).
ModelWeights load_weights(const std::string& path, std::optional<Dtype> dtype = float32, bool keep_gguf_blocks = true,
                          bool sanitize = true);

// The tokenizer of loaded weights: tokenizer_path if given (a .bin path is read as a llama2.c tokenizer of
// the model's vocabulary size), else as load() finds it.
std::shared_ptr<Tokenizer> find_tokenizer(const ModelWeights& weights, const std::string& tokenizer_path = "");

// path: a Hugging Face model directory (config.json + safetensors, see hf_model.h; MLX-quantized
// directories included), a llama-architecture GGUF file (.gguf; Q4_0, Q4_1, Q8_0, Q4_K, Q5_K and Q6_K
// weights stay quantized, other block types are dequantized to float32) or a llama2.c checkpoint
// (.bin). The tokenizer comes from tokenizer_path if given; else from the directory, the GGUF's
// tokenizer.ggml.* metadata, or a tokenizer.bin / tok*.bin next to a .bin model whose vocabulary
// size matches. quantization: "" keeps the weights as stored; "int8" / "int4" quantize linear and
// embedding weights (MLX affine, group 64) at load; "f16" / "bf16" / "f32" dequantize and cast (see
// quantize_weights.h). Other formats throw "[load] ... not supported yet". A Hugging Face model id
// "org/name" that is not a local path loads from the Hugging Face cache (hub.h; offline, "[hub] ..." when missing).
// progress (optional): with a quantization, the weights are computed one by one at load (instead of at
// the first forward pass) and reported as the stage "quantizing".
LoadedModel load(const std::string& path, const std::string& tokenizer_path = "",
                 const std::string& quantization = "", const ProgressFn& progress = nullptr);

}  // namespace tessera::lm
