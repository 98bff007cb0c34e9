// UTF-8 helpers shared by the tokenizers: code point iteration, lossy repair and the GPT-2 byte<->unicode map.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::lm::tok {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not valid UTF-8.
size_t utf8_valid_len(std::string_view s, size_t i);

// Length of the character at s[i]; invalid bytes count as one character of length 1.
inline size_t utf8_len(std::string_view s, size_t i) {
  size_t n = utf8_valid_len(s, i);
  return n == 0 ? 1 : n;
}

// Decodes the code point at s[i] (U+FFFD for invalid bytes); sets len to the bytes consumed.
char32_t utf8_decode(std::string_view s, size_t i, size_t& len);

void utf8_append(std::string& out, char32_t cp);

bool utf8_is_valid(std::string_view s);

// Bytes to skip for one U+FFFD at an invalid position i (the maximal subpart of a truncated sequence).
size_t invalid_subpart_len(std::string_view s, size_t i);

// Replaces invalid sequences with U+FFFD, one per maximal subpart (as Python's errors="replace" / Rust's from_utf8_lossy do).
std::string utf8_repair(std::string_view s);

// Unicode White_Space (as Rust's char::is_whitespace).
bool is_unicode_whitespace(char32_t c);

// The GPT-2 byte-level alphabet: byte -> its printable code point, encoded as UTF-8.
const std::array<std::string, 256>& byte_to_unicode();
// Code point -> byte, or -1 when the code point is not in the alphabet.
int unicode_to_byte(char32_t cp);

}  // namespace tessera::lm::tok
