// Loading a model and its tokenizer from a path (llama2.c checkpoints and llama GGUF files).
#pragma once

#include <memory>
#include <string>

#include "tessera/lm/models/llama.h"
#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

struct LoadedModel {
  std::shared_ptr<Llama> model;
  std::shared_ptr<Tokenizer> tokenizer;
};

// path: a Hugging Face model directory (config.json + safetensors, see hf_model.h), a
// llama-architecture GGUF file (.gguf, weights dequantized to float32) or a llama2.c checkpoint
// (.bin). The tokenizer comes from tokenizer_path if given; else from the directory, the GGUF's
// tokenizer.ggml.* metadata, or a tokenizer.bin / tok*.bin next to a .bin model whose vocabulary
// size matches. Other formats throw "[load] ... not supported yet". A Hugging Face model id "org/name"
// that is not a local path loads from the Hugging Face cache (hub.h; offline, "[hub] ..." when missing).
LoadedModel load(const std::string& path, const std::string& tokenizer_path = "");

}  // namespace tessera::lm
