// Element types of arrays, NumPy-style promotion, and the one dtype-dispatch helper kernels use.
#pragma once

#include <complex>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "tessera/half_types.h"

namespace tessera {

using complex64_t = std::complex<float>;

struct Dtype {
  enum class Val : uint8_t {
    bool_,
    uint8,
    uint16,
    uint32,
    uint64,
    int8,
    int16,
    int32,
    int64,
    float16,
    bfloat16,
    float32,
    float64,
    complex64,
  };
  enum class Kind : uint8_t { b, u, i, f, V, c };  // bool, unsigned, signed, float, bfloat ('V' as numpy), complex

  Val val;
  uint8_t size;  // bytes per element

  constexpr Dtype(Val v, uint8_t s) : val(v), size(s) {}
  constexpr bool operator==(const Dtype& o) const { return val == o.val; }
  constexpr bool operator!=(const Dtype& o) const { return val != o.val; }
};

inline constexpr Dtype bool_{Dtype::Val::bool_, 1};
inline constexpr Dtype uint8{Dtype::Val::uint8, 1};
inline constexpr Dtype uint16{Dtype::Val::uint16, 2};
inline constexpr Dtype uint32{Dtype::Val::uint32, 4};
inline constexpr Dtype uint64{Dtype::Val::uint64, 8};
inline constexpr Dtype int8{Dtype::Val::int8, 1};
inline constexpr Dtype int16{Dtype::Val::int16, 2};
inline constexpr Dtype int32{Dtype::Val::int32, 4};
inline constexpr Dtype int64{Dtype::Val::int64, 8};
inline constexpr Dtype float16{Dtype::Val::float16, 2};
inline constexpr Dtype bfloat16{Dtype::Val::bfloat16, 2};
inline constexpr Dtype float32{Dtype::Val::float32, 4};
inline constexpr Dtype float64{Dtype::Val::float64, 8};
inline constexpr Dtype complex64{Dtype::Val::complex64, 8};

inline constexpr int num_dtypes = 14;
Dtype dtype_from_index(int i);  // i in [0, num_dtypes), in Val order

Dtype::Kind kind(Dtype d);
bool is_floating_point(Dtype d);  // float16, bfloat16, float32, float64
bool is_inexact(Dtype d);         // floating point or complex
bool is_integral(Dtype d);        // bool or (un)signed integers
bool is_unsigned(Dtype d);
bool is_signed_integer(Dtype d);
bool is_complex(Dtype d);
std::string dtype_name(Dtype d);  // "float32", ...
Dtype dtype_from_name(const std::string& name);  // inverse; throws "[dtype] ..." on unknown names

// NumPy promotion (bool < ints < floats < complex; mixed signed/unsigned widen; float16 with
// bfloat16 gives float32).
Dtype promote_types(Dtype a, Dtype b);
// Dtype for the result of an op that needs a floating result (e.g. sqrt of an int -> float32).
Dtype to_inexact(Dtype d);

std::ostream& operator<<(std::ostream& os, Dtype d);

// C++ type <-> Dtype.
template <typename T>
struct TypeToDtype;
#define TESSERA_TYPE_TO_DTYPE(T, D) \
  template <>                       \
  struct TypeToDtype<T> {           \
    static constexpr Dtype value = D; \
  };
TESSERA_TYPE_TO_DTYPE(bool, bool_)
TESSERA_TYPE_TO_DTYPE(uint8_t, uint8)
TESSERA_TYPE_TO_DTYPE(uint16_t, uint16)
TESSERA_TYPE_TO_DTYPE(uint32_t, uint32)
TESSERA_TYPE_TO_DTYPE(uint64_t, uint64)
TESSERA_TYPE_TO_DTYPE(int8_t, int8)
TESSERA_TYPE_TO_DTYPE(int16_t, int16)
TESSERA_TYPE_TO_DTYPE(int32_t, int32)
TESSERA_TYPE_TO_DTYPE(int64_t, int64)
TESSERA_TYPE_TO_DTYPE(float16_t, float16)
TESSERA_TYPE_TO_DTYPE(bfloat16_t, bfloat16)
TESSERA_TYPE_TO_DTYPE(float, float32)
TESSERA_TYPE_TO_DTYPE(double, float64)
TESSERA_TYPE_TO_DTYPE(complex64_t, complex64)
#undef TESSERA_TYPE_TO_DTYPE
// `long`/`long long` and friends that are distinct types on some platforms map like int64.
template <>
struct TypeToDtype<long long> {
  static constexpr Dtype value = int64;
};
template <>
struct TypeToDtype<unsigned long long> {
  static constexpr Dtype value = uint64;
};

template <typename T>
inline constexpr Dtype dtype_of = TypeToDtype<std::remove_cv_t<T>>::value;

// Calls f(T{}) with T the C++ type of `d`. One switch for the whole project (STYLE habit 6).
template <typename F>
decltype(auto) dispatch_dtype(Dtype d, F&& f) {
  switch (d.val) {
    case Dtype::Val::bool_: return f(bool{});
    case Dtype::Val::uint8: return f(uint8_t{});
    case Dtype::Val::uint16: return f(uint16_t{});
    case Dtype::Val::uint32: return f(uint32_t{});
    case Dtype::Val::uint64: return f(uint64_t{});
    case Dtype::Val::int8: return f(int8_t{});
    case Dtype::Val::int16: return f(int16_t{});
    case Dtype::Val::int32: return f(int32_t{});
    case Dtype::Val::int64: return f(int64_t{});
    case Dtype::Val::float16: return f(float16_t{});
    case Dtype::Val::bfloat16: return f(bfloat16_t{});
    case Dtype::Val::float32: return f(float{});
    case Dtype::Val::float64: return f(double{});
    case Dtype::Val::complex64: return f(complex64_t{});
  }
  throw std::invalid_argument("[dispatch_dtype] unknown dtype");
}

// Same, restricted to real floating types (float16, bfloat16, float32, float64).
template <typename F>
decltype(auto) dispatch_float(Dtype d, const char* op, F&& f) {
  switch (d.val) {
    case Dtype::Val::float16: return f(float16_t{});
    case Dtype::Val::bfloat16: return f(bfloat16_t{});
    case Dtype::Val::float32: return f(float{});
    case Dtype::Val::float64: return f(double{});
    default:
      throw std::invalid_argument(std::string("[") + op + "] expected a floating point dtype, got " +
                                  dtype_name(d) + ".");
  }
}

// The type used to accumulate/compute values of T (float for 16-bit floats).
template <typename T>
struct AccType {
  using type = T;
};
template <>
struct AccType<float16_t> {
  using type = float;
};
template <>
struct AccType<bfloat16_t> {
  using type = float;
};
template <typename T>
using acc_t = typename AccType<T>::type;

}  // namespace tessera
