// Loading a Llama-architecture GGUF file: config from `llama.*` metadata, HF-named weights, tokenizer, chat
// template.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "tessera/dtype.h"
#include "tessera/io/gguf.h"
#include "tessera/lm/models/llama.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

struct GGUFModelOptions {
  // Block-quantized tensors (Q4_1, Q8_0, ...) are dequantized to this dtype at load (float32, float16 or
  // bfloat16); F32/F16/BF16 tensors are converted to it too. Norm weights always stay float32. float32 is the
  // fastest on the CPU today (OpenBLAS).
  Dtype dtype = float32;
  // Linear and embedding weights of the block types the quantized matmul reads (Q4_0, Q4_1, Q8_0, Q4_K,
  // Q5_K, Q6_K) stay as raw blocks (see linear_weight.h); other block types are dequantized to dtype.
  bool keep_quantized = true;
};

// LlamaConfig from `{arch}.*` metadata (general.architecture must be "llama"). vocab_size falls back to the
// number of tokens. rope_traditional is true: llama.cpp's converter permutes the q/k rows so that RoPE
// rotates adjacent pairs, which is the same computation as HF's rotate-half on the unpermuted weights. Throws
// "[gguf] ..." when keys are missing or name an unsupported variant (e.g. RoPE scaling).
LlamaConfig llama_config_from_gguf(const GGUFMetadata& metadata);

// The Hugging Face name of a llama.cpp tensor name ("blk.3.attn_q.weight" ->
// "model.layers.3.self_attn.q_proj.weight", "token_embd.weight" -> "model.embed_tokens.weight", ...); nullopt
// for names it does not know.
std::optional<std::string> hf_name_from_gguf(const std::string& gguf_name);

// One weight as a dense array (block types dequantized to options.dtype, norms float32).
array gguf_weight(const GGUFTensor& tensor, const std::string& hf_name, const GGUFModelOptions& options);

// The HF-named weights of a llama GGUF file. A missing output.weight means tied embeddings (config updated).
// With options.keep_quantized, supported block tensors are stored as uint8 blocks (out, bytes per row) plus a
// "<prefix>.gguf_type" marker (linear_weight.h).
// Throws "[gguf] ..." on unknown tensor names.
WeightMap llama_weights_from_gguf(const GGUFFile& file, LlamaConfig& config,
                                  const GGUFModelOptions& options = {});

struct GGUFModel {
  LlamaConfig config;
  std::shared_ptr<Llama> model;
  std::shared_ptr<Tokenizer>
      tokenizer;  // from tokenizer.ggml.*; chat_template() from tokenizer.chat_template
};

GGUFModel load_gguf_model(const std::string& path, const GGUFModelOptions& options = {});

}  // namespace tessera::lm
