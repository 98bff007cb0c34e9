// Dtype names, kinds and promotion rules.
#include "tessera/dtype.h"

#include <ostream>

namespace tessera {

namespace {
constexpr Dtype all_dtypes[num_dtypes] = {bool_, uint8,   uint16,   uint32,  uint64,
                                          int8,  int16,   int32,    int64,   float16,
                                          bfloat16, float32, float64, complex64};
constexpr const char* names[num_dtypes] = {"bool",    "uint8",    "uint16",  "uint32",  "uint64",
                                           "int8",    "int16",    "int32",   "int64",   "float16",
                                           "bfloat16", "float32", "float64", "complex64"};
int index_of(Dtype d) { return static_cast<int>(d.val); }

Dtype signed_of_size(int bytes) {
  switch (bytes) {
    case 1: return int8;
    case 2: return int16;
    case 4: return int32;
    default: return int64;
  }
}
Dtype float_of_size(int bytes) {
  switch (bytes) {
    case 2: return float16;
    case 4: return float32;
    default: return float64;
  }
}
}  // namespace

Dtype dtype_from_index(int i) {
  if (i < 0 || i >= num_dtypes) throw std::out_of_range("[dtype] index out of range");
  return all_dtypes[i];
}

Dtype::Kind kind(Dtype d) {
  switch (d.val) {
    case Dtype::Val::bool_: return Dtype::Kind::b;
    case Dtype::Val::uint8:
    case Dtype::Val::uint16:
    case Dtype::Val::uint32:
    case Dtype::Val::uint64: return Dtype::Kind::u;
    case Dtype::Val::int8:
    case Dtype::Val::int16:
    case Dtype::Val::int32:
    case Dtype::Val::int64: return Dtype::Kind::i;
    case Dtype::Val::bfloat16: return Dtype::Kind::V;
    case Dtype::Val::float16:
    case Dtype::Val::float32:
    case Dtype::Val::float64: return Dtype::Kind::f;
    case Dtype::Val::complex64: return Dtype::Kind::c;
  }
  return Dtype::Kind::b;
}

bool is_floating_point(Dtype d) {
  auto k = kind(d);
  return k == Dtype::Kind::f || k == Dtype::Kind::V;
}
bool is_complex(Dtype d) { return kind(d) == Dtype::Kind::c; }
bool is_inexact(Dtype d) { return is_floating_point(d) || is_complex(d); }
bool is_unsigned(Dtype d) { return kind(d) == Dtype::Kind::u; }
bool is_signed_integer(Dtype d) { return kind(d) == Dtype::Kind::i; }
bool is_integral(Dtype d) { return !is_inexact(d); }

std::string dtype_name(Dtype d) { return names[index_of(d)]; }

Dtype dtype_from_name(const std::string& name) {
  for (int i = 0; i < num_dtypes; ++i) {
    if (name == names[i]) return all_dtypes[i];
  }
  throw std::invalid_argument("[dtype] unknown dtype name '" + name + "'.");
}

std::ostream& operator<<(std::ostream& os, Dtype d) { return os << dtype_name(d); }

Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  auto ka = kind(a), kb = kind(b);
  if (ka == Dtype::Kind::b) return b;
  if (kb == Dtype::Kind::b) return a;
  if (ka == Dtype::Kind::c || kb == Dtype::Kind::c) return complex64;
  bool fa = is_floating_point(a), fb = is_floating_point(b);
  if (fa && fb) {
    // float16 with bfloat16 has no common 16-bit type.
    if (a.size == 2 && b.size == 2) return float32;
    return a.size >= b.size ? a : b;
  }
  // Integer with float: the float wins (MLX's rule; numpy would widen int32+float32 to float64).
  if (fa) return a;
  if (fb) return b;
  // Both integers.
  if (ka == kb) return a.size >= b.size ? a : b;
  Dtype u = ka == Dtype::Kind::u ? a : b;
  Dtype s = ka == Dtype::Kind::u ? b : a;
  if (s.size > u.size) return s;
  if (u.size == 8) return float_of_size(8);  // uint64 with any signed int: numpy gives float64
  return signed_of_size(u.size * 2);
}

Dtype to_inexact(Dtype d) {
  if (is_inexact(d)) return d;
  return float32;
}

}  // namespace tessera
