// Writes a plain-vector vocabulary (VocabSpec: from GGUF metadata or a llama2.c tokenizer.bin) as a Hugging Face
// `tokenizers` tokenizer.json plus tokenizer_config.json / generation_config.json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tessera/lm/tokenizers/llama2c_tokenizer.h"
#include "tessera/lm/tokenizers/vocab_tokenizer.h"

namespace tessera::lm {

// SentencePiece BPE as HF BPE merges: every split of a normal piece into two vocabulary pieces (at UTF-8
// character boundaries), ranked by the merged piece's score (highest first; ties in id order, then by the
// left part's id). [left, right] pairs in rank order.
std::vector<std::pair<std::string, std::string>> sentencepiece_merges(const VocabSpec& spec);

// The tokenizer.json document. SentencePiece BPE: Llama's layout (normalizer Prepend "▁" + Replace " " -> "▁",
// BPE with byte_fallback and fuse_unk, decoder Replace/ByteFallback/Fuse/Strip); byte-level BPE: Split
// pre-tokenizers for spec's regexes then ByteLevel, ByteLevel decoder. Control / unknown tokens are special
// added tokens, user-defined ones non-special added tokens; a BOS post-processor when spec.add_bos.
// Throws "[tokenizer] ..." for a Unigram spec (not written yet) or bad special ids.
nlohmann::json tokenizer_json_from_vocab(const VocabSpec& spec);

// tokenizer_config.json: bos/eos/unk/pad token texts, add_bos_token, add_eos_token (false), chat_template.
nlohmann::json tokenizer_config_from_vocab(const VocabSpec& spec);

// A llama2.c tokenizer.bin as a VocabSpec: SentencePiece BPE, "▁" for spaces, <unk> unknown, <s>/</s> control,
// <0xXX> byte pieces, scores as stored; eos_id 2 and BOS as an extra end of generation (run.c stops at it).
VocabSpec vocab_spec_from_llama2c(const Llama2cTokenizer& tokenizer);

// Writes tokenizer.json, tokenizer_config.json and (when spec has end-of-generation ids) generation_config.json
// into dir, skipping files that already exist there. Returns the names written.
std::vector<std::string> write_tokenizer_files(const VocabSpec& spec, const std::string& dir);

}  // namespace tessera::lm
