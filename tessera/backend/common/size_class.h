// Block sizing shared by the host and device caching allocators, and the byte counts in their errors.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

namespace tessera::detail {

// Size classes: powers of two from min_block up to 1 MiB, then multiples of 1 MiB, so a freed block
// serves later requests of nearly the same size.
inline size_t size_class(size_t n, size_t min_block) {
  if (n <= min_block) return min_block;
  if (n <= (size_t(1) << 20)) {
    size_t c = min_block;
    while (c < n) c <<= 1;
    return c;
  }
  constexpr size_t mb = size_t(1) << 20;
  return (n + mb - 1) / mb * mb;
}

inline std::string human_bytes(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

}  // namespace tessera::detail
