// Unigram language-model tokenization (Viterbi over all vocabulary segmentations), as SentencePiece / `tokenizers`.
#pragma once

#include <array>

#include "tessera/lm/tokenizers/model.h"

namespace tessera::lm::tok {

class UnigramModel : public Model {
 public:
  // pieces[i] = (text, score) for id i; in_lattice[i]: the piece may be matched in text (empty = all pieces).
  // float32_paths: accumulate path scores in float as sentencepiece does (`tokenizers` uses f64).
  UnigramModel(std::vector<std::pair<std::string, double>> pieces, std::optional<int32_t> unk_id, bool byte_fallback,
               std::vector<bool> in_lattice = {}, bool float32_paths = false);

  void tokenize(std::string_view piece, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }

 private:
  std::vector<std::pair<std::string, double>> pieces_;
  VocabMap lattice_vocab_;  // matchable pieces
  VocabMap all_vocab_;
  std::optional<int32_t> unk_id_;
  bool byte_fallback_;
  double unk_score_ = 0;
  size_t max_piece_bytes_ = 1;
  std::array<int32_t, 256> byte_ids_{};
  bool float32_paths_ = false;

  template <typename Real>
  void viterbi(std::string_view text, std::vector<int64_t>& from, std::vector<int32_t>& tok) const;
};

class WordPieceModel : public Model {
 public:
  WordPieceModel(VocabMap vocab, std::string unk_token, std::string prefix, size_t max_chars);
  void tokenize(std::string_view piece, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(id_to_tok_.size()); }

 private:
  VocabMap vocab_;
  std::vector<std::string> id_to_tok_;
  std::string unk_, prefix_;
  size_t max_chars_;
};

}  // namespace tessera::lm::tok
