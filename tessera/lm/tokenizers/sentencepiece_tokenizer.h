// SentencePiece tokenization (BPE with score-ordered merges, or Unigram), from tokenizer.model or plain vectors.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "tessera/lm/tokenizer.h"
#include "tessera/lm/tokenizers/model.h"
#include "tessera/lm/tokenizers/precompiled_charsmap.h"
#include "tessera/lm/tokenizers/sentencepiece_model.h"
#include "tessera/lm/tokenizers/space_chunker.h"
#include "tessera/lm/tokenizers/unigram.h"

namespace tessera::lm {

class SentencePieceTokenizer : public Tokenizer {
 public:
  // model may come from parse_sentencepiece_model or be filled from another format (GGUF "llama" vocab).
  explicit SentencePieceTokenizer(SpmModel model);

  // Control tokens written in the text stay text (as in sentencepiece); user-defined pieces are matched whole.
  // add_special_tokens prepends BOS (as Llama/Mistral tokenizers do); EOS is never appended.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const override;
  // Control tokens print their text unless skip_special_tokens (sentencepiece itself always drops them).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const override;

  int32_t vocab_size() const override { return static_cast<int32_t>(m_.pieces.size()); }
  std::string id_to_token(int32_t id) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::optional<int32_t> bos_id() const override;
  std::vector<int32_t> eos_ids() const override;
  bool is_special(int32_t id) const override;

  // The normalized text the model sees (dummy prefix, whitespace escaping, ...).
  std::string normalize(std::string_view text) const;
  const SpmModel& model() const { return m_; }

 private:
  void encode_bpe(std::string_view s, std::vector<int32_t>& out) const;
  void encode_bpe_cached(std::string_view s, std::vector<int32_t>& out) const;
  void emit_piece(std::string_view piece, std::vector<int32_t>& out) const;
  size_t match_user_defined(std::string_view s, size_t i) const;

  SpmModel m_;
  tok::VocabMap pieces_;    // normal, user-defined and unused pieces (mergeable)
  tok::VocabMap reserved_;  // control, unknown and byte pieces
  std::vector<std::string> user_defined_;
  size_t max_user_defined_ = 0;
  std::array<int32_t, 256> byte_ids_{};
  std::vector<int16_t> byte_value_;  // per id: the byte of a <0xXX> piece, else -1
  std::unique_ptr<tok::UnigramModel> unigram_;
  std::unique_ptr<tok::PrecompiledCharsmap> charsmap_;
  std::unique_ptr<tok::SpaceChunker> chunker_;  // BPE merges chunk by chunk (exact, see space_chunker.h)
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, tok::StringHash, std::equal_to<>> cache_;
};

}  // namespace tessera::lm
