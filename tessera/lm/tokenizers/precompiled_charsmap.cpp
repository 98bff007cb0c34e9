// Double-array trie lookups for SentencePiece's precompiled charsmap.
#include "tessera/lm/tokenizers/precompiled_charsmap.h"

#include <cstring>
#include <stdexcept>

#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm::tok {

PrecompiledCharsmap::PrecompiledCharsmap(std::string blob) {
  if (blob.size() < 4) throw std::invalid_argument("[tokenizer] precompiled charsmap too short");
  uint32_t trie_size;
  std::memcpy(&trie_size, blob.data(), 4);
  if (trie_size % 4 != 0 || trie_size > blob.size() - 4)
    throw std::invalid_argument("[tokenizer] precompiled charsmap has a bad trie size");
  units_.resize(trie_size / 4);
  std::memcpy(units_.data(), blob.data() + 4, trie_size);
  normalized_ = blob.substr(4 + trie_size);
}

size_t PrecompiledCharsmap::longest_prefix(std::string_view s, uint32_t& value) const {
  auto offset = [](uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); };
  auto label = [](uint32_t u) { return u & ((1u << 31) | 0xFFu); };
  auto has_leaf = [](uint32_t u) { return ((u >> 8) & 1u) == 1u; };
  if (units_.empty()) return 0;
  size_t best = 0;
  size_t pos = offset(units_[0]);
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    pos ^= c;
    if (pos >= units_.size()) break;
    uint32_t u = units_[pos];
    if (label(u) != c) break;
    pos ^= offset(u);
    if (pos >= units_.size()) break;
    if (has_leaf(u)) {
      best = i + 1;
      value = units_[pos] & 0x7FFFFFFFu;
    }
  }
  return best;
}

std::string PrecompiledCharsmap::normalize(std::string_view s) const {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t v = 0;
    size_t n = longest_prefix(s.substr(i), v);
    if (n > 0 && v < normalized_.size()) {
      out.append(normalized_.c_str() + v);
      i += n;
    } else {
      size_t m = utf8_len(s, i);
      out.append(s.substr(i, m));
      i += m;
    }
  }
  return out;
}

std::string base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = val(c);
    if (v < 0) throw std::invalid_argument("[tokenizer] bad base64 data");
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace tessera::lm::tok
