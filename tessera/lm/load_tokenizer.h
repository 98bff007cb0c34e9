// Opens a tokenizer from a model directory, a tokenizer.json or a SentencePiece tokenizer.model.
#pragma once

#include <memory>
#include <string>

#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

// path: a directory (tokenizer.json preferred, else tokenizer.model), a tokenizer.json file, or a
// SentencePiece .model file. Throws std::runtime_error / std::invalid_argument starting with "[tokenizer] ".
std::shared_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace tessera::lm
