// BPE: symbols in a linked list over the word, merged lowest rank first (leftmost on ties) through a heap.
#include "tessera/lm/tokenizers/bpe.h"

#include <cstdio>
#include <queue>
#include <stdexcept>

#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm::tok {

std::string byte_piece(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
  return buf;
}

namespace {
inline uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
constexpr size_t kCacheMaxWordBytes = 256;
constexpr size_t kCacheMaxEntries = 1 << 18;
}  // namespace

BpeModel::BpeModel(VocabMap vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions opts)
    : vocab_(std::move(vocab)), opts_(std::move(opts)) {
  int32_t max_id = -1;
  for (const auto& [t, id] : vocab_) {
    if (id < 0) throw std::invalid_argument("[tokenizer] negative token id for '" + t + "'");
    max_id = std::max(max_id, id);
  }
  if (max_id > (1 << 26)) throw std::invalid_argument("[tokenizer] token id too large");
  id_to_tok_.assign(static_cast<size_t>(max_id + 1), std::string());
  for (const auto& [t, id] : vocab_) id_to_tok_[static_cast<size_t>(id)] = t;
  merges_.reserve(merges.size());
  int32_t rank = 0;
  for (const auto& [a, b] : merges) {
    auto ia = vocab_.find(a), ib = vocab_.find(b), ic = vocab_.find(a + b);
    if (ia == vocab_.end() || ib == vocab_.end() || ic == vocab_.end())
      throw std::invalid_argument("[tokenizer] BPE merge '" + a + " " + b + "' uses a token missing from the vocabulary");
    merges_.emplace(pair_key(ia->second, ib->second), std::make_pair(rank++, ic->second));
  }
  if (opts_.unk_token) {
    auto it = vocab_.find(*opts_.unk_token);
    if (it != vocab_.end()) unk_id_ = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    auto it = vocab_.find(byte_piece(static_cast<unsigned char>(b)));
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
  }
  if (opts_.continuing_subword_prefix.empty() && opts_.end_of_word_suffix.empty())
    chunker_ = std::make_unique<SpaceChunker>(vocab_);
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

std::string BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_tok_.size()) return "";
  return id_to_tok_[static_cast<size_t>(id)];
}

void BpeModel::tokenize(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (opts_.ignore_merges) {
    auto it = vocab_.find(piece);
    if (it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (piece.size() > kCacheMaxWordBytes && chunker_ && chunker_->enabled()) {
    for (auto [b, e] : chunker_->chunks(piece)) cached_merge(piece.substr(b, e - b), out);
    return;
  }
  cached_merge(piece, out);
}

void BpeModel::cached_merge(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() > kCacheMaxWordBytes) return merge_word(piece, out);
  {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  merge_word(piece, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  std::unique_lock lock(cache_mutex_);
  if (cache_.size() < kCacheMaxEntries) cache_.emplace(std::string(piece), std::move(ids));
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  std::vector<Symbol> sym;
  sym.reserve(word.size());
  bool prev_unk = false;
  std::string buf;
  auto push = [&](int32_t id) {
    int32_t i = static_cast<int32_t>(sym.size());
    sym.push_back({id, i - 1, -1, true});
    if (i > 0) sym[static_cast<size_t>(i - 1)].next = i;
  };
  for (size_t i = 0; i < word.size();) {
    size_t n = utf8_len(word, i);
    std::string_view ch = word.substr(i, n);
    bool first = i == 0, last = i + n == word.size();
    const bool affix = (!first && !opts_.continuing_subword_prefix.empty()) || (last && !opts_.end_of_word_suffix.empty());
    VocabMap::const_iterator it;
    if (affix) {
      buf.clear();
      if (!first) buf += opts_.continuing_subword_prefix;
      buf += ch;
      if (last) buf += opts_.end_of_word_suffix;
      it = vocab_.find(buf);
    } else {
      it = vocab_.find(ch);
    }
    i += n;
    if (it != vocab_.end()) {
      push(it->second);
      prev_unk = false;
      continue;
    }
    if (opts_.byte_fallback) {
      bool all = true;
      for (char c : ch) all = all && byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all) {
        for (char c : ch) push(byte_ids_[static_cast<unsigned char>(c)]);
        prev_unk = false;
        continue;
      }
    }
    if (unk_id_) {
      if (!(opts_.fuse_unk && prev_unk)) push(*unk_id_);
      prev_unk = true;
    }
  }
  struct Cand {
    int32_t rank, pos, new_id;
    bool operator<(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand> heap;
  auto consider = [&](int32_t pos) {
    if (pos < 0) return;
    int32_t nx = sym[static_cast<size_t>(pos)].next;
    if (nx < 0) return;
    auto m = merges_.find(pair_key(sym[static_cast<size_t>(pos)].id, sym[static_cast<size_t>(nx)].id));
    if (m != merges_.end()) heap.push({m->second.first, pos, m->second.second});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(sym.size()); ++i) consider(i);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    Symbol& s = sym[static_cast<size_t>(c.pos)];
    if (!s.alive || s.next < 0) continue;
    Symbol& r = sym[static_cast<size_t>(s.next)];
    auto m = merges_.find(pair_key(s.id, r.id));
    if (m == merges_.end() || m->second.second != c.new_id || m->second.first != c.rank) continue;
    s.id = c.new_id;
    r.alive = false;
    s.next = r.next;
    if (s.next >= 0) sym[static_cast<size_t>(s.next)].prev = c.pos;
    consider(s.prev);
    consider(c.pos);
  }
  for (const auto& s : sym)
    if (s.alive) out.push_back(s.id);
}

}  // namespace tessera::lm::tok
