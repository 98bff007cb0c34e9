// Converting checkpoints (HF / MLX directories, llama GGUF files, llama2.c .bin) into a Hugging Face style
// directory or a GGUF file, with dtype casts, MLX affine quantization or dequantization on the way.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tessera/dtype.h"
#include "tessera/lm/progress.h"
#include "tessera/lm/quantize_weights.h"

namespace tessera::lm {

struct ConvertOptions {
  std::optional<Dtype> dtype;  // floating weights cast to it (nullopt: as stored; GGUF blocks dequantize to f32)
  bool quantize = false;       // MLX affine (directory output) / ggml block types (GGUF output), see below
  QuantizeOptions quantization;
  bool dequantize = false;  // quantized weights (affine or GGUF blocks) become dense
  std::string tokenizer_path;  // optional tokenizer file or directory to copy into a directory output
  int64_t max_shard_bytes = int64_t{5} << 30;  // directory output: safetensors shards at most this big
  std::function<void(const std::string&)> progress;  // one line per step (nullptr: silent)
  ProgressFn tensor_progress;  // per tensor computed and written (nullptr: silent)
};

// The config.json of a Llama-architecture model (model_type llama, architectures LlamaForCausalLM and the
// LlamaConfig fields under their HF names). Throws "[convert] ..." for a config that is not plain Llama.
nlohmann::json llama_hf_config_json(const LlamaConfig& config);

// Converts `input` (anything load() reads) into `output`:
//  - a directory (created; must not hold a config.json unless empty of it): config.json, model.safetensors
//    (or model-0000i-of-0000n.safetensors + model.safetensors.index.json), and tokenizer files (copied from
//    an HF source or tokenizer_path; a GGUF source's tokenizer.ggml.* metadata and a llama2.c source's
//    tokenizer.bin are written as tokenizer.json + tokenizer_config.json + generation_config.json, see
//    tokenizer_json_writer.h; a llama2.c source's SentencePiece tok*.model next to it becomes tokenizer.model). GGUF q/k rows are permuted back to HF's rotate-half layout. quantize writes MLX
//    affine weights and the "quantization" section; GGUF blocks are dequantized (or requantized).
//  - a GGUF file (output ends in .gguf; llama architecture only): llama.cpp tensor names and q/k order,
//    tokenizer.* metadata copied from a GGUF source. quantize maps bits to ggml types (4 -> Q4_0, 5 -> Q5_K,
//    6 -> Q6_K, 8 -> Q8_0, also per layer for recipes); group_size does not apply (ggml blocks are fixed).
// Throws "[convert] ..." on bad options (e.g. quantize with dequantize) and the loaders' errors.
void convert(const std::string& input, const std::string& output, const ConvertOptions& options = {});

}  // namespace tessera::lm
