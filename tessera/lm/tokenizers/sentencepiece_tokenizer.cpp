// SentencePiece normalization, BPE/Unigram encoding with byte fallback, and decoding.
#include "tessera/lm/tokenizers/sentencepiece_tokenizer.h"

#include <cctype>
#include <queue>
#include <stdexcept>

#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm {

namespace {
const std::string kSpace = "\xE2\x96\x81";  // U+2581
}

SentencePieceTokenizer::SentencePieceTokenizer(SpmModel model) : m_(std::move(model)) {
  if (m_.pieces.empty()) throw std::invalid_argument("[tokenizer] SentencePiece model has no pieces");
  if (m_.model_type != SpmModel::kBpe && m_.model_type != SpmModel::kUnigram)
    throw std::invalid_argument("[tokenizer] unsupported SentencePiece model type " + std::to_string(m_.model_type) +
                                " (only unigram and BPE)");
  byte_ids_.fill(-1);
  std::vector<std::pair<std::string, double>> uni;
  std::vector<bool> in_lattice;
  float max_score = 0;
  for (const auto& p : m_.pieces)
    if (p.type == SpmPiece::kNormal) max_score = std::max(max_score, p.score);
  for (size_t i = 0; i < m_.pieces.size(); ++i) {
    const auto& p = m_.pieces[i];
    auto id = static_cast<int32_t>(i);
    bool normal = p.type == SpmPiece::kNormal || p.type == SpmPiece::kUserDefined || p.type == SpmPiece::kUnused;
    (normal ? pieces_ : reserved_).emplace(p.piece, id);
    if (p.type == SpmPiece::kUserDefined) {
      user_defined_.push_back(p.piece);
      max_user_defined_ = std::max(max_user_defined_, p.piece.size());
    }
    byte_value_.push_back(-1);
    if (p.type == SpmPiece::kByte && p.piece.size() == 6 && p.piece.compare(0, 3, "<0x") == 0 && p.piece[5] == '>' &&
        std::isxdigit(static_cast<unsigned char>(p.piece[3])) && std::isxdigit(static_cast<unsigned char>(p.piece[4]))) {
      int v = std::stoi(p.piece.substr(3, 2), nullptr, 16);
      byte_ids_[v] = id;
      byte_value_.back() = static_cast<int16_t>(v);
    }
    // Unigram: user-defined pieces score as if always preferred (length * max score - 0.1).
    double score = p.score;
    if (p.type == SpmPiece::kUserDefined) {
      size_t chars = 0;
      for (size_t k = 0; k < p.piece.size(); k += tok::utf8_len(p.piece, k)) ++chars;
      score = static_cast<double>(chars) * max_score - 0.1;
    }
    uni.emplace_back(p.piece, score);
    in_lattice.push_back(p.type == SpmPiece::kNormal || p.type == SpmPiece::kUserDefined);
  }
  if (m_.model_type == SpmModel::kUnigram) {
    std::optional<int32_t> unk;
    if (m_.unk_id >= 0) unk = m_.unk_id;
    unigram_ = std::make_unique<tok::UnigramModel>(std::move(uni), unk, m_.byte_fallback, std::move(in_lattice), true);
  }
  // User-defined pieces are whole symbols that never merge: any one containing the space marker disables chunking.
  bool ud_space = false;
  for (const auto& u : user_defined_) ud_space = ud_space || u.find(kSpace) != std::string::npos;
  if (m_.model_type == SpmModel::kBpe && !ud_space) chunker_ = std::make_unique<tok::SpaceChunker>(pieces_, kSpace);
  if (!m_.precompiled_charsmap.empty()) charsmap_ = std::make_unique<tok::PrecompiledCharsmap>(m_.precompiled_charsmap);
}

std::string SentencePieceTokenizer::normalize(std::string_view text) const {
  std::string s = charsmap_ ? charsmap_->normalize(text) : std::string(text);
  if (m_.remove_extra_whitespaces) {
    std::string t;
    bool prev_space = true;  // drops leading spaces
    for (char c : s) {
      if (c == ' ') {
        if (!prev_space) t += ' ';
        prev_space = true;
      } else {
        t += c;
        prev_space = false;
      }
    }
    while (!t.empty() && t.back() == ' ') t.pop_back();
    s = std::move(t);
  }
  if (s.empty()) return s;
  if (m_.add_dummy_prefix) {
    if (m_.treat_whitespace_as_suffix) s.push_back(' ');
    else s.insert(s.begin(), ' ');
  }
  if (m_.escape_whitespaces) {
    std::string t;
    t.reserve(s.size() + 16);
    for (char c : s) {
      if (c == ' ') t += kSpace;
      else t += c;
    }
    s = std::move(t);
  }
  return s;
}

size_t SentencePieceTokenizer::match_user_defined(std::string_view s, size_t i) const {
  size_t best = 0;
  if (user_defined_.empty()) return 0;
  for (const auto& u : user_defined_)
    if (u.size() > best && s.compare(i, u.size(), u) == 0) best = u.size();
  return best;
}

void SentencePieceTokenizer::emit_piece(std::string_view piece, std::vector<int32_t>& out) const {
  auto it = pieces_.find(piece);
  if (it != pieces_.end()) {
    out.push_back(it->second);
    return;
  }
  auto r = reserved_.find(piece);
  if (r != reserved_.end() && m_.pieces[static_cast<size_t>(r->second)].type != SpmPiece::kControl) {
    out.push_back(r->second);
    return;
  }
  if (m_.byte_fallback) {
    bool all = true;
    for (char c : piece) all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
    if (all) {
      for (char c : piece) out.push_back(byte_ids_[static_cast<unsigned char>(c)]);
      return;
    }
  }
  // Consecutive unknown pieces fuse into one <unk>.
  if (!out.empty() && out.back() == m_.unk_id && !m_.byte_fallback) return;
  if (m_.unk_id < 0) throw std::runtime_error("[tokenizer] text has pieces outside the vocabulary and no <unk>");
  out.push_back(m_.unk_id);
}

void SentencePieceTokenizer::encode_bpe_cached(std::string_view s, std::vector<int32_t>& out) const {
  constexpr size_t kMaxCachedBytes = 256, kMaxEntries = 1 << 18;
  if (s.size() > kMaxCachedBytes) return encode_bpe(s, out);
  {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(s);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  encode_bpe(s, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  std::unique_lock lock(cache_mutex_);
  if (cache_.size() < kMaxEntries) cache_.emplace(std::string(s), std::move(ids));
}

void SentencePieceTokenizer::encode_bpe(std::string_view s, std::vector<int32_t>& out) const {
  struct Sym {
    size_t begin, len;
    int32_t prev, next;
    bool fixed;  // user-defined symbol: never merged
  };
  std::vector<Sym> sym;
  for (size_t i = 0; i < s.size();) {
    size_t u = match_user_defined(s, i);
    size_t n = u ? u : tok::utf8_len(s, i);
    auto k = static_cast<int32_t>(sym.size());
    sym.push_back({i, n, k - 1, -1, u > 0});
    if (k > 0) sym[static_cast<size_t>(k - 1)].next = k;
    i += n;
  }
  struct Cand {
    float score;
    int32_t left, right;
    size_t len;
    bool operator<(const Cand& o) const { return score != o.score ? score < o.score : left > o.left; }
  };
  std::priority_queue<Cand> heap;
  auto consider = [&](int32_t l) {
    if (l < 0) return;
    const Sym& a = sym[static_cast<size_t>(l)];
    if (a.next < 0 || a.fixed || a.len == 0) return;
    const Sym& b = sym[static_cast<size_t>(a.next)];
    if (b.fixed) return;
    auto it = pieces_.find(s.substr(a.begin, a.len + b.len));
    if (it == pieces_.end()) return;
    heap.push({m_.pieces[static_cast<size_t>(it->second)].score, l, a.next, a.len + b.len});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) consider(i);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    Sym& a = sym[static_cast<size_t>(c.left)];
    if (a.len == 0 || a.next != c.right) continue;
    Sym& b = sym[static_cast<size_t>(c.right)];
    if (b.len == 0 || a.len + b.len != c.len) continue;
    a.len += b.len;
    b.len = 0;
    a.next = b.next;
    if (a.next >= 0) sym[static_cast<size_t>(a.next)].prev = c.left;
    consider(a.prev);
    consider(c.left);
  }
  for (const auto& x : sym)
    if (x.len > 0) emit_piece(s.substr(x.begin, x.len), out);
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view input, bool add_special_tokens) const {
  std::string text = normalize(tok::utf8_repair(input));
  std::vector<int32_t> ids;
  if (add_special_tokens && m_.bos_id >= 0) ids.push_back(m_.bos_id);
  if (unigram_) {
    // User-defined pieces are cut out first; the lattice covers the rest.
    size_t start = 0;
    for (size_t i = 0; i < text.size();) {
      size_t u = match_user_defined(text, i);
      if (u == 0) {
        i += tok::utf8_len(text, i);
        continue;
      }
      unigram_->tokenize(std::string_view(text).substr(start, i - start), ids);
      emit_piece(std::string_view(text).substr(i, u), ids);
      i += u;
      start = i;
    }
    unigram_->tokenize(std::string_view(text).substr(start), ids);
  } else if (chunker_ && chunker_->enabled()) {
    for (auto [b, e] : chunker_->chunks(text)) encode_bpe_cached(std::string_view(text).substr(b, e - b), ids);
  } else {
    encode_bpe(text, ids);
  }
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::string out, bytes;
  // Byte pieces that do not form valid UTF-8 give one U+FFFD per byte (as sentencepiece does).
  auto flush = [&] {
    for (size_t i = 0; i < bytes.size();) {
      size_t n = tok::utf8_valid_len(bytes, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        i += 1;
      } else {
        out.append(bytes, i, n);
        i += n;
      }
    }
    bytes.clear();
  };
  bool first = true;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    const auto& p = m_.pieces[static_cast<size_t>(id)];
    if (byte_value_[static_cast<size_t>(id)] >= 0) {
      bytes += static_cast<char>(byte_value_[static_cast<size_t>(id)]);
      first = false;
      continue;
    }
    flush();
    if (p.type == SpmPiece::kControl) {
      if (!skip_special_tokens) out += p.piece;
      continue;
    }
    if (p.type == SpmPiece::kUnknown) {
      out += m_.unk_surface;
      first = false;
      continue;
    }
    std::string piece = p.piece;
    if (first && m_.add_dummy_prefix && !m_.treat_whitespace_as_suffix && piece.compare(0, kSpace.size(), kSpace) == 0)
      piece = piece.substr(kSpace.size());
    first = false;
    for (size_t pos = 0; pos < piece.size();) {
      if (piece.compare(pos, kSpace.size(), kSpace) == 0) {
        out += ' ';
        pos += kSpace.size();
      } else {
        out += piece[pos++];
      }
    }
  }
  flush();
  return out;
}

std::string SentencePieceTokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return "";
  return m_.pieces[static_cast<size_t>(id)].piece;
}

std::optional<int32_t> SentencePieceTokenizer::token_to_id(std::string_view token) const {
  auto it = pieces_.find(token);
  if (it != pieces_.end()) return it->second;
  auto r = reserved_.find(token);
  if (r != reserved_.end()) return r->second;
  return std::nullopt;
}

std::optional<int32_t> SentencePieceTokenizer::bos_id() const {
  if (m_.bos_id < 0) return std::nullopt;
  return m_.bos_id;
}

std::vector<int32_t> SentencePieceTokenizer::eos_ids() const {
  if (m_.eos_id < 0) return {};
  return {m_.eos_id};
}

bool SentencePieceTokenizer::is_special(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return false;
  int t = m_.pieces[static_cast<size_t>(id)].type;
  return t == SpmPiece::kControl || t == SpmPiece::kUnknown;
}

}  // namespace tessera::lm
