// Builds a tokenizer from GGUF `tokenizer.ggml.*` metadata (SentencePiece `llama` and byte-level BPE `gpt2`
// vocabularies).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tessera/io/gguf_value.h"
#include "tessera/lm/tokenizer.h"
#include "tessera/lm/tokenizers/vocab_tokenizer.h"

namespace tessera::lm {

// The pre-tokenizer regexes (applied in turn) for a byte-level BPE `tokenizer.ggml.pre` name such as
// "smollm", "gpt2", "llama-bpe" or "qwen2". Throws std::invalid_argument("[gguf] ...") for names it does not
// know.
std::vector<std::string> gguf_pre_tokenizer_regexes(const std::string& pre);

// The tokenizer described by the metadata: tokens, scores, token types, merges, special ids, add_bos_token,
// add_space_prefix and tokenizer.chat_template. eos_ids() holds eos_token_id, eot/eom ids and the control
// tokens that end a turn in common chat formats (<|im_end|>, <|eot_id|>, <|end|>, <end_of_turn>,
// <|endoftext|>, ...), as llama.cpp's end-of-generation list. Throws "[gguf] ..." when the metadata lacks a
// vocabulary or is inconsistent.
std::shared_ptr<Tokenizer> tokenizer_from_gguf(const GGUFMetadata& metadata);

// The plain vectors behind tokenizer_from_gguf (also what convert writes as tokenizer.json); extra_eos_ids
// holds the end-of-generation ids other than eos_id. Same errors.
VocabSpec vocab_spec_from_gguf(const GGUFMetadata& metadata);

// Reads only the metadata of a GGUF file (tensor data are not touched) and builds its tokenizer.
std::shared_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path);

}  // namespace tessera::lm
