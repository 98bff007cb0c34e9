// A boundary X|▁ is safe when X is a known single-character piece and no piece contains "X▁": no merge can
// then produce a symbol spanning it, and unknown characters (byte fallback / fused <unk>) never sit at an edge.
#include "tessera/lm/tokenizers/space_chunker.h"

#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm::tok {

namespace {
size_t prev_char_start(std::string_view s, size_t i) {
  size_t k = i - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  return k;
}
}  // namespace

SpaceChunker::SpaceChunker(const VocabMap& vocab, std::string space) : vocab_(&vocab), space_(std::move(space)) {
  if (space_.empty() || vocab.find(space_) == vocab.end()) return;
  for (const auto& [piece, id] : vocab) {
    for (size_t p = piece.find(space_, 1); p != std::string::npos; p = piece.find(space_, p + 1)) {
      size_t k = prev_char_start(piece, p);
      unsafe_prev_.insert(piece.substr(k, p - k));
    }
  }
  enabled_ = true;
}

std::vector<std::pair<size_t, size_t>> SpaceChunker::chunks(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> out;
  size_t start = 0;
  if (enabled_) {
    for (size_t p = text.find(space_, 1); p != std::string_view::npos; p = text.find(space_, p + 1)) {
      if (p <= start) continue;
      size_t k = prev_char_start(text, p);
      if (utf8_valid_len(text, k) != p - k) continue;
      std::string_view x = text.substr(k, p - k);
      if (vocab_->find(x) == vocab_->end() || unsafe_prev_.count(std::string(x))) continue;
      out.emplace_back(start, p);
      start = p;
    }
  }
  if (start < text.size()) out.emplace_back(start, text.size());
  return out;
}

}  // namespace tessera::lm::tok
