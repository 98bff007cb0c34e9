// Shortest decimal digits (std::to_chars) -> u64 significand and exponent -> significand as f64, scaled by 10^|e|.
#include "tessera/lm/tokenizers/serde_float.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace tessera::lm::tok {

namespace {
double pow10_literal(int e) {
  static double table[309];
  static bool init = [] {
    for (int i = 0; i < 309; ++i) table[i] = std::strtod(("1e" + std::to_string(i)).c_str(), nullptr);
    return true;
  }();
  (void)init;
  return table[e];
}
}  // namespace

double serde_json_float(double d) {
  if (!std::isfinite(d) || d == 0) return d;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d);
  std::string s(buf, res.ptr);
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.erase(0, 1);
  int exp = 0;
  auto epos = s.find_first_of("eE");
  if (epos != std::string::npos) {
    exp = std::atoi(s.c_str() + epos + 1);
    s.resize(epos);
  }
  uint64_t sig = 0;
  bool frac = false;
  int digits = 0;
  for (char c : s) {
    if (c == '.') {
      frac = true;
      continue;
    }
    if (sig > (UINT64_MAX - 9) / 10) return d;  // serde's overflow path: keep the correctly rounded value
    sig = sig * 10 + static_cast<uint64_t>(c - '0');
    if (frac) --exp;
    ++digits;
  }
  double f = static_cast<double>(sig);
  if (exp >= 0) {
    if (exp > 308) return d;
    f *= pow10_literal(exp);
  } else {
    if (-exp > 308) return d;
    f /= pow10_literal(-exp);
  }
  return neg ? -f : f;
}

}  // namespace tessera::lm::tok
