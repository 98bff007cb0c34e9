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

// path: a llama2.c checkpoint (.bin) or a llama-architecture GGUF file (.gguf, weights dequantized to
// float32). The tokenizer comes from tokenizer_path (for .bin a llama2.c tokenizer, for .gguf any format
// load_tokenizer reads), else for .bin from a tokenizer.bin or tok*.bin next to the model whose
// vocabulary size matches, for .gguf from its tokenizer.ggml.* metadata. Other formats (directories,
// .safetensors) throw "[load] ... not supported yet".
LoadedModel load(const std::string& path, const std::string& tokenizer_path = "");

}  // namespace tessera::lm
