// CUDA complex64 elementwise kernels: a float2 per element; products in float as the CPU's
// std::complex<float>, quotients through double (within an ulp of the CPU's scaled division),
// powers exp(y log x) in double (the CPU's cpowf computes the same formula in float).
#include "tessera/backend/cuda/kernels/common.cuh"
#include "tessera/backend/cuda/kernels_complex.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

__device__ __forceinline__ float2 cmul(float2 x, float2 y) {
  return make_float2(x.x * y.x - x.y * y.y, x.x * y.y + x.y * y.x);
}

__device__ __forceinline__ float2 cdiv(float2 x, float2 y) {
  double a = x.x, b = x.y, c = y.x, d = y.y;
  double den = c * c + d * d;
  return make_float2(static_cast<float>((a * c + b * d) / den), static_cast<float>((b * c - a * d) / den));
}

// x ** y = exp(y log x), log x = (log |x|, arg x); a zero base gives 0 (std::pow's convention).
__device__ __forceinline__ float2 cpow(float2 x, float2 y) {
  if (x.x == 0.0f && x.y == 0.0f) return make_float2(0.0f, 0.0f);
  double lr = log(hypot(static_cast<double>(x.x), static_cast<double>(x.y)));
  double li = atan2(static_cast<double>(x.y), static_cast<double>(x.x));
  double wr = y.x * lr - y.y * li, wi = y.x * li + y.y * lr;
  double m = exp(wr);
  return make_float2(static_cast<float>(m * cos(wi)), static_cast<float>(m * sin(wi)));
}

__global__ void complex_unary_kernel(int op, const float2* in, void* out, Strided s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float2 x = in[strided_offset(s, 0, i)];
    switch (op) {
      case cu_real: static_cast<float*>(out)[i] = x.x; break;
      case cu_imag: static_cast<float*>(out)[i] = x.y; break;
      case cu_abs: static_cast<float*>(out)[i] = hypotf(x.x, x.y); break;
      case cu_conj: static_cast<float2*>(out)[i] = make_float2(x.x, -x.y); break;
      case cu_neg: static_cast<float2*>(out)[i] = make_float2(-x.x, -x.y); break;
      default: static_cast<float2*>(out)[i] = cmul(x, x); break;
    }
  }
}

__global__ void complex_binary_kernel(int op, const float2* a, const float2* b, void* out, Strided s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float2 x = a[strided_offset(s, 0, i)], y = b[strided_offset(s, 1, i)];
    switch (op) {
      case cb_add: static_cast<float2*>(out)[i] = make_float2(x.x + y.x, x.y + y.y); break;
      case cb_sub: static_cast<float2*>(out)[i] = make_float2(x.x - y.x, x.y - y.y); break;
      case cb_mul: static_cast<float2*>(out)[i] = cmul(x, y); break;
      case cb_div: static_cast<float2*>(out)[i] = cdiv(x, y); break;
      case cb_pow: static_cast<float2*>(out)[i] = cpow(x, y); break;
      case cb_eq: static_cast<bool*>(out)[i] = x.x == y.x && x.y == y.y; break;
      default: static_cast<bool*>(out)[i] = !(x.x == y.x && x.y == y.y); break;
    }
  }
}

}  // namespace

void complex_unary(int op, const void* in, void* out, const Strided& s, size_t n, cudaStream_t st) {
  if (n == 0) return;
  complex_unary_kernel<<<blocks_for(n, 256), 256, 0, st>>>(op, static_cast<const float2*>(in), out, s,
                                                           static_cast<int64_t>(n));
  TESSERA_CUDA_LAUNCH_CHECK();
}

void complex_binary(int op, const void* a, const void* b, void* out, const Strided& s, size_t n, cudaStream_t st) {
  if (n == 0) return;
  complex_binary_kernel<<<blocks_for(n, 256), 256, 0, st>>>(op, static_cast<const float2*>(a),
                                                            static_cast<const float2*>(b), out, s,
                                                            static_cast<int64_t>(n));
  TESSERA_CUDA_LAUNCH_CHECK();
}

}  // namespace tessera::cuda
