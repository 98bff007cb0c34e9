// Loading a model and its tokenizer from a path (llama2.c checkpoints for now).
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

// path: a Hugging Face model directory (see hf_model.h) or a llama2.c checkpoint (.bin). The tokenizer comes from tokenizer_path, else from a
// tokenizer.bin or tok*.bin next to the model whose vocabulary size matches. Other formats
// (.safetensors, .gguf) throw "[load] ... not supported yet".
LoadedModel load(const std::string& path, const std::string& tokenizer_path = "");

}  // namespace tessera::lm
