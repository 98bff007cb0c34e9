// Whole-model weight transforms on HF-named WeightMaps: MLX affine quantization (uniform or a mixed recipe),
// dequantization and dtype casts, plus the config.json "quantization" section.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tessera/dtype.h"
#include "tessera/lm/models/llama.h"

namespace tessera::lm {

struct QuantizeOptions {
  int group_size = 64;
  int bits = 4;
  // "" (every layer at `bits`) or MLX-LM's mixed recipes "mixed_2_6", "mixed_3_4", "mixed_3_6",
  // "mixed_4_6": embed_tokens, lm_head and, in MLX-LM's "use more bits" layers (the first and last eighth
  // and every third in between), v_proj and down_proj at the high bits; the rest at the low bits. Fused
  // matrices take the higher of their roles' bits (Phi-3 qkv_proj: high there, as v_proj; gate_up_proj: low).
  std::string recipe;
};

// Checks bits (2, 3, 4, 5, 6, 8), group_size (32, 64, 128) and the recipe name; throws
// "[quantize] ...".
void validate_quantize_options(const QuantizeOptions& options);

// The bits of the linear weight `prefix` under options (the recipe's choice, or options.bits).
int quantized_layer_bits(const std::string& prefix, const QuantizeOptions& options, int num_layers);

// Quantizes (MLX affine) every 2-D floating linear / embedding weight whose input size is a multiple of
// group_size (norms, biases and 1-D tensors stay); GGUF-block and dense weights alike (blocks are
// dequantized first; already affine ones are kept). Returns the config.json "quantization" section:
// {"group_size", "bits"} plus per-layer {"<prefix>": {"group_size", "bits"}} where a recipe differs.
nlohmann::json quantize_weights(WeightMap& weights, const LlamaConfig& config, const QuantizeOptions& options);

// Replaces quantized weights (affine triples, GGUF blocks) by dense ones and drops their markers. dtype:
// the dense dtype (nullopt: the scales' dtype, float32 for GGUF blocks).
void dequantize_weights(WeightMap& weights, const LlamaConfig& config, std::optional<Dtype> dtype = std::nullopt);

// The input size of the linear weight `prefix` ("model.layers.3.mlp.down_proj" -> intermediate_size);
// throws "[quantize] ..." for names that are not Llama linear weights.
int in_features_of(const std::string& prefix, const LlamaConfig& config);

// Casts every floating array (dense weights, norms, scales and biases) to dtype; packed weights stay.
void cast_weights(WeightMap& weights, Dtype dtype);

// Checks the affine weights of a WeightMap against a config.json "quantization" section (global
// group_size/bits and per-layer overrides; `false` marks an unquantized layer). Throws "[quantize] ..."
// on unsupported values or a weight whose shapes disagree.
void check_quantization_config(const nlohmann::json& quantization, const WeightMap& weights);

// Applies a load-time quantization name: "" (none), "int8" / "int4" (affine, group 64; bits 8 / 4), or
// "f16" / "bf16" / "f32" (dequantize and cast). Throws "[load] ..." for other names.
void apply_load_quantization(WeightMap& weights, const LlamaConfig& config, const std::string& quantization);

}  // namespace tessera::lm
