// Unigram Viterbi segmentation (unknown characters become fused <unk> or byte pieces) and greedy WordPiece.
#include "tessera/lm/tokenizers/unigram.h"

#include <limits>
#include <stdexcept>

#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm::tok {

UnigramModel::UnigramModel(std::vector<std::pair<std::string, double>> pieces, std::optional<int32_t> unk_id,
                           bool byte_fallback, std::vector<bool> in_lattice, bool float32_paths)
    : pieces_(std::move(pieces)), unk_id_(unk_id), byte_fallback_(byte_fallback), float32_paths_(float32_paths) {
  if (unk_id_ && (*unk_id_ < 0 || static_cast<size_t>(*unk_id_) >= pieces_.size()))
    throw std::invalid_argument("[tokenizer] unigram unk id out of range");
  double min_score = std::numeric_limits<double>::max();
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const auto& [p, s] = pieces_[i];
    all_vocab_.emplace(p, static_cast<int32_t>(i));
    if (!in_lattice.empty() && !in_lattice[i]) continue;
    if (p.empty()) continue;
    lattice_vocab_.emplace(p, static_cast<int32_t>(i));
    max_piece_bytes_ = std::max(max_piece_bytes_, p.size());
    min_score = std::min(min_score, s);
  }
  unk_score_ = (min_score == std::numeric_limits<double>::max() ? 0.0 : min_score) - 10.0;
  for (int b = 0; b < 256; ++b) {
    auto it = all_vocab_.find(byte_piece(static_cast<unsigned char>(b)));
    byte_ids_[b] = it == all_vocab_.end() ? -1 : it->second;
  }
}

std::optional<int32_t> UnigramModel::token_to_id(std::string_view token) const {
  auto it = all_vocab_.find(token);
  if (it == all_vocab_.end()) return std::nullopt;
  return it->second;
}

std::string UnigramModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) return "";
  return pieces_[static_cast<size_t>(id)].first;
}

// Best segmentation ending at each byte offset; an exact tie keeps the path whose last piece starts earliest (as
// sentencepiece and `tokenizers` do). Real is the accumulation type of the reference (float or double).
template <typename Real>
void UnigramModel::viterbi(std::string_view text, std::vector<int64_t>& from, std::vector<int32_t>& tok) const {
  const size_t n = text.size();
  const Real none = -std::numeric_limits<Real>::infinity();
  std::vector<Real> best(n + 1, none);
  from.assign(n + 1, -1);
  tok.assign(n + 1, -1);  // -1: unknown character node
  best[0] = 0;
  for (size_t i = 0; i < n;) {
    size_t clen = utf8_len(text, i);
    if (best[i] != none) {
      bool single = false;
      // Every piece starting at i: candidate ends at character boundaries up to the longest piece.
      for (size_t e = i + clen; e <= n && e - i <= max_piece_bytes_; e += utf8_len(text, e)) {
        auto it = lattice_vocab_.find(text.substr(i, e - i));
        if (it != lattice_vocab_.end()) {
          if (e == i + clen) single = true;
          Real sc = best[i] + static_cast<Real>(pieces_[static_cast<size_t>(it->second)].second);
          if (sc > best[e]) {
            best[e] = sc;
            from[e] = static_cast<int64_t>(i);
            tok[e] = it->second;
          }
        }
        if (e == n) break;
      }
      if (!single) {
        Real sc = best[i] + static_cast<Real>(unk_score_);
        if (sc > best[i + clen]) {
          best[i + clen] = sc;
          from[i + clen] = static_cast<int64_t>(i);
          tok[i + clen] = -1;
        }
      }
    }
    i += clen;
  }
}

void UnigramModel::tokenize(std::string_view text, std::vector<int32_t>& out) const {
  const size_t n = text.size();
  if (n == 0) return;
  std::vector<int64_t> from;
  std::vector<int32_t> tok;
  if (float32_paths_) viterbi<float>(text, from, tok);
  else viterbi<double>(text, from, tok);
  // Backtrack, then emit (consecutive unknowns fuse into one <unk>, or become bytes with byte_fallback).
  std::vector<std::pair<size_t, int32_t>> path;  // (begin, id or -1)
  for (size_t e = n; e > 0;) {
    auto b = static_cast<size_t>(from[e]);
    path.emplace_back(b, tok[e]);
    e = b;
  }
  bool prev_unk = false;
  for (size_t k = path.size(); k-- > 0;) {
    auto [b, id] = path[k];
    size_t e = k == 0 ? n : path[k - 1].first;
    bool is_unk = id < 0 || (unk_id_ && id == *unk_id_);
    if (!is_unk) {
      out.push_back(id);
      prev_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (size_t j = b; j < e; ++j) all = all && byte_ids_[static_cast<unsigned char>(text[j])] >= 0;
      if (all) {
        for (size_t j = b; j < e; ++j) out.push_back(byte_ids_[static_cast<unsigned char>(text[j])]);
        prev_unk = false;
        continue;
      }
    }
    if (!unk_id_) throw std::runtime_error("[tokenizer] text has characters outside the vocabulary and no <unk>");
    if (!prev_unk) out.push_back(*unk_id_);
    prev_unk = true;
  }
}

WordPieceModel::WordPieceModel(VocabMap vocab, std::string unk_token, std::string prefix, size_t max_chars)
    : vocab_(std::move(vocab)), unk_(std::move(unk_token)), prefix_(std::move(prefix)), max_chars_(max_chars) {
  int32_t max_id = -1;
  for (const auto& [t, id] : vocab_) max_id = std::max(max_id, id);
  if (max_id > (1 << 26)) throw std::invalid_argument("[tokenizer] token id too large");
  id_to_tok_.assign(static_cast<size_t>(max_id + 1), std::string());
  for (const auto& [t, id] : vocab_)
    if (id >= 0) id_to_tok_[static_cast<size_t>(id)] = t;
}

std::optional<int32_t> WordPieceModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

std::string WordPieceModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_tok_.size()) return "";
  return id_to_tok_[static_cast<size_t>(id)];
}

void WordPieceModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  auto unk = [&] {
    auto it = vocab_.find(unk_);
    if (it == vocab_.end()) throw std::runtime_error("[tokenizer] WordPiece unk token missing from the vocabulary");
    out.push_back(it->second);
  };
  size_t chars = 0;
  for (size_t i = 0; i < word.size(); i += utf8_len(word, i)) ++chars;
  if (chars > max_chars_) return unk();
  std::vector<int32_t> ids;
  std::string buf;
  for (size_t start = 0; start < word.size();) {
    // Longest vocabulary entry from start (with the continuation prefix after the first piece).
    std::vector<size_t> ends;
    for (size_t e = start; e < word.size();) {
      e += utf8_len(word, e);
      ends.push_back(e);
    }
    bool found = false;
    for (size_t k = ends.size(); k-- > 0;) {
      buf.assign(start > 0 ? prefix_ : "");
      buf.append(word.substr(start, ends[k] - start));
      auto it = vocab_.find(buf);
      if (it != vocab_.end()) {
        ids.push_back(it->second);
        start = ends[k];
        found = true;
        break;
      }
    }
    if (!found) return unk();
  }
  out.insert(out.end(), ids.begin(), ids.end());
}

}  // namespace tessera::lm::tok
