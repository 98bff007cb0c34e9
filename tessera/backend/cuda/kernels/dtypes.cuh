// Device dtype helpers of the extra kernel families: dispatch over every real dtype, the compute
// (accumulation) type of each (float for 16-bit floats) and conversions to and from it.
#pragma once

#include <cstdint>
#include <type_traits>

#include "tessera/backend/cuda/kernels/common.cuh"

namespace tessera::cuda {

// Dtype::Val codes of the types the extra kernels handle beyond kernels.h's DT.
enum DTX : int { dtx_uint8 = 1, dtx_uint16 = 2, dtx_uint64 = 4, dtx_int8 = 5, dtx_int16 = 6, dtx_f64 = 12, dtx_c64 = 13 };

template <typename T>
constexpr bool is_half_v = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;
template <typename T>
constexpr bool is_float_v = is_half_v<T> || std::is_floating_point_v<T>;

template <typename T>
struct AccOf {
  using type = T;
};
template <>
struct AccOf<__half> {
  using type = float;
};
template <>
struct AccOf<__nv_bfloat16> {
  using type = float;
};
template <typename T>
using acc_of = typename AccOf<T>::type;

template <typename T>
__device__ __forceinline__ acc_of<T> to_acc(T v) {
  if constexpr (is_half_v<T>) return to_f(v);
  else return v;
}
template <typename T>
__device__ __forceinline__ T from_acc(acc_of<T> v) {
  if constexpr (is_half_v<T>) return from_f<T>(v);
  else return static_cast<T>(v);
}

// Calls f(T{}) for every real dtype (bool, all integer widths, f16, bf16, f32, f64); false otherwise.
template <typename F>
bool dispatch_real(int dt, F&& f) {
  switch (dt) {
    case dt_bool: f(bool{}); return true;
    case dtx_uint8: f(uint8_t{}); return true;
    case dtx_uint16: f(uint16_t{}); return true;
    case dt_uint32: f(uint32_t{}); return true;
    case dtx_uint64: f(uint64_t{}); return true;
    case dtx_int8: f(int8_t{}); return true;
    case dtx_int16: f(int16_t{}); return true;
    case dt_int32: f(int32_t{}); return true;
    case dt_int64: f(int64_t{}); return true;
    case dt_f16: f(__half{}); return true;
    case dt_bf16: f(__nv_bfloat16{}); return true;
    case dt_f32: f(float{}); return true;
    case dtx_f64: f(double{}); return true;
    default: return false;
  }
}

// Pure data movement by element size (1, 2, 4, else 8 bytes: complex64 moves as one 8-byte word).
template <typename F>
void dispatch_size(int elem_size, F&& f) {
  switch (elem_size) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    default: f(uint64_t{}); break;
  }
}

// A signed integer index of any integer dtype code read on the device (element i of p).
__device__ __forceinline__ int64_t load_index(const void* p, int dt, int64_t i) {
  switch (dt) {
    case dtx_uint8: return static_cast<const uint8_t*>(p)[i];
    case dtx_uint16: return static_cast<const uint16_t*>(p)[i];
    case dt_uint32: return static_cast<const uint32_t*>(p)[i];
    case dtx_uint64: return static_cast<int64_t>(static_cast<const uint64_t*>(p)[i]);
    case dtx_int8: return static_cast<const int8_t*>(p)[i];
    case dtx_int16: return static_cast<const int16_t*>(p)[i];
    case dt_int32: return static_cast<const int32_t*>(p)[i];
    default: return static_cast<const int64_t*>(p)[i];
  }
}

inline bool is_real_dt(int dt) { return (dt >= 0 && dt <= dtx_f64); }
inline bool is_float_dt(int dt) { return dt == dt_f16 || dt == dt_bf16 || dt == dt_f32 || dt == dtx_f64; }
inline bool is_int_dt(int dt) { return dt >= 1 && dt <= dt_int64; }

}  // namespace tessera::cuda
