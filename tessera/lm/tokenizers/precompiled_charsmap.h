// SentencePiece's precompiled normalization map (a darts-clone double-array trie + replacement strings).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::lm::tok {

class PrecompiledCharsmap {
 public:
  // blob: [uint32 trie bytes][trie units][NUL-separated replacement strings]; malformed blobs throw.
  explicit PrecompiledCharsmap(std::string blob);
  // Longest-prefix replacement at each position; unmatched characters pass through (SentencePiece semantics).
  std::string normalize(std::string_view s) const;

 private:
  // Longest key in the trie that prefixes s: returns its byte length (0 if none) and sets value.
  size_t longest_prefix(std::string_view s, uint32_t& value) const;
  std::vector<uint32_t> units_;
  std::string normalized_;
};

std::string base64_decode(std::string_view in);

}  // namespace tessera::lm::tok
