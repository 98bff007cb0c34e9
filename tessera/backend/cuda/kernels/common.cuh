// Shared device helpers: float conversion of 16-bit types, strided offsets, launch sizes, checks.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <stdexcept>
#include <string>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::cuda {

template <typename T>
__device__ __forceinline__ float to_f(T v) { return static_cast<float>(v); }
template <>
__device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_f(float v) { return static_cast<T>(v); }
template <>
__device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Offset (elements) of linear index i of the row-major space `s` in operand k.
__device__ __forceinline__ int64_t strided_offset(const Strided& s, int k, int64_t i) {
  int64_t off = 0;
  for (int d = s.ndim - 1; d >= 0; --d) {
    int64_t n = s.shape[d];
    off += (i % n) * s.strides[k][d];
    i /= n;
  }
  return off;
}

inline unsigned int blocks_for(size_t n, int threads) {
  size_t b = (n + threads - 1) / threads;
  return static_cast<unsigned int>(b < 65535u * 32u ? (b == 0 ? 1 : b) : 65535u * 32u);
}

inline void check_launch(const char* file, int line) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {
    throw std::runtime_error(std::string("[cuda] ") + file + ":" + std::to_string(line) + ": kernel launch failed: " +
                             cudaGetErrorString(e));
  }
}
#define TESSERA_KERNEL_CHECK() ::tessera::cuda::check_launch(__FILE__, __LINE__)

// Throws "[cuda] <what>: <error>" when a runtime call (attribute query or setting) failed.
inline void check_call(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("[cuda] ") + what + ": " + cudaGetErrorString(e));
}

// Calls f(T{}) for the float dtypes the kernels support; false otherwise.
template <typename F>
bool dispatch_float(int dt, F&& f) {
  switch (dt) {
    case dt_f32: f(float{}); return true;
    case dt_f16: f(__half{}); return true;
    case dt_bf16: f(__nv_bfloat16{}); return true;
    default: return false;
  }
}

}  // namespace tessera::cuda
