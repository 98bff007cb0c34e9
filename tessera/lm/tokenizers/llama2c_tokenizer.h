// The llama2.c tokenizer.bin format: SentencePiece BPE pieces with scores, encoded as llama2.c's run.c does.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

// File layout: int32 max_token_length, then per token: float32 score, int32 byte length, bytes.
// Pieces use " " where SentencePiece uses "▁"; ids 0, 1, 2 are <unk>, <s> (BOS), </s> (EOS) and
// ids 3..258 the byte-fallback tokens <0x00>..<0xFF>.
class Llama2cTokenizer : public Tokenizer {
 public:
  // vocab_size > 0: read exactly that many tokens (the model's vocab); 0: read to the end of file.
  // remove_extra_whitespaces: SentencePiece's normalization (drop leading and trailing spaces,
  // collapse runs of spaces) before encoding. llama2.c's run.c does not do it (the default); the
  // SentencePiece models of llama2.c's tinyllamas (tok512.model, ...) do. tokenizer.bin does not say.
  // Throws std::runtime_error "[tokenizer] ..." for a missing or malformed file.
  explicit Llama2cTokenizer(const std::string& path, int vocab_size = 0,
                            bool remove_extra_whitespaces = false);

  // SentencePiece BPE as llama2.c: dummy-prefix space, one symbol per UTF-8 character (bytes of
  // unknown characters become <0xXX> tokens), then merges of the best-scoring adjacent pair.
  // add_special_tokens prepends BOS.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const override;
  // Concatenated pieces; <0xXX> become raw bytes; the leading space of the first piece (or of a
  // piece right after BOS) is dropped. Special tokens decode to "<s>" etc. unless skipped.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const override;

  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  std::string id_to_token(int32_t id) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::optional<int32_t> bos_id() const override { return 1; }
  // EOS, and BOS too: llama2.c models delimit training sequences with BOS, and run.c stops at it.
  std::vector<int32_t> eos_ids() const override { return {2, 1}; }
  bool is_special(int32_t id) const override { return id >= 0 && id <= 2; }

  float score(int32_t id) const;
  int max_token_length() const { return max_token_length_; }

 private:
  std::optional<int32_t> lookup(std::string_view piece) const;
  void check_id(int32_t id) const;

  std::vector<std::string> pieces_;  // as stored (" " for "▁")
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> ids_;
  int max_token_length_ = 0;
  bool remove_extra_whitespaces_ = false;
};

}  // namespace tessera::lm
