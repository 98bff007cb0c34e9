// Quantized CUDA ops: affine quantize / dequantize and GGUF dequantize kernels (one thread per
// group or 32-value chunk), and the GEMV / GEMM choice of affine_qmm and gguf_qmm.
#include <algorithm>

#include "tessera/backend/cuda/kernels/quantized.cuh"

namespace tessera::cuda {

namespace {

using namespace q;

// One group of gs values -> packed words, scale and bias, with the CPU kernel's float operations.
template <typename T, int bits>
__global__ void quantize_kernel(const T* __restrict__ w, uint32_t* __restrict__ wq, T* __restrict__ scales,
                                T* __restrict__ biases, int64_t groups, int gs) {
  const int64_t gi = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (gi >= groups) return;
  const T* src = w + gi * gs;
  const float n_bins = static_cast<float>((1 << bits) - 1);
  float w_min = INFINITY, w_max = -INFINITY;
  for (int j = 0; j < gs; ++j) {
    float v = to_f(src[j]);
    w_max = fmaxf(w_max, v);
    w_min = fminf(w_min, v);
  }
  const bool mask = fabsf(w_min) > fabsf(w_max);
  float scale = fmaxf(__fdiv_rn(w_max - w_min, n_bins), 1e-7f);
  scale = mask ? scale : -scale;
  const float edge = mask ? w_min : w_max;
  const float q0 = rintf(__fdiv_rn(edge, scale));
  float bias = 0.0f;
  if (q0 != 0.0f) {
    scale = __fdiv_rn(edge, q0);
    bias = edge;
  }
  uint32_t* dst = wq + gi * (gs * bits / 32);
  uint64_t acc = 0;
  int nb = 0;
  for (int j = 0; j < gs; ++j) {
    float qv = rintf(__fdiv_rn(to_f(src[j]) - bias, scale));
    qv = fminf(fmaxf(qv, 0.0f), n_bins);
    acc |= static_cast<uint64_t>(static_cast<uint32_t>(qv)) << nb;
    nb += bits;
    if (nb >= 32) {
      *dst++ = static_cast<uint32_t>(acc);
      acc >>= 32;
      nb -= 32;
    }
  }
  scales[gi] = from_f<T>(scale);
  biases[gi] = from_f<T>(bias);
}

// Chunk c (32 values) of the flattened rows: words c*bits, scale index 32c/gs, output 32c.
template <typename T, int bits>
__global__ void dequantize_kernel(const uint32_t* __restrict__ wq, const T* __restrict__ scales,
                                  const T* __restrict__ biases, T* __restrict__ out, int64_t chunks, int gs) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= chunks) return;
  uint32_t w[bits];
  load_chunk<bits>(wq + c * bits, w);
  const float s = to_f(scales[c * 32 / gs]), b = to_f(biases[c * 32 / gs]);
  T* o = out + c * 32;
#pragma unroll
  for (int j = 0; j < 32; ++j) o[j] = from_f<T>(fmaf(u2f(extract<bits>(w, j)), s, b));
}

template <int type>
__global__ void gguf_dequantize_kernel(const uint8_t* __restrict__ blocks, float* __restrict__ out, int64_t rows,
                                       int64_t K) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t per_row = K / 32;
  if (c >= rows * per_row) return;
  const int64_t r = c / per_row, sub = c % per_row;
  const int64_t row_bytes = K / GGInfo<type>::block * GGInfo<type>::bytes;
  float v[32];
  gguf_decode32<type>(blocks + r * row_bytes, sub, v);
  float4* o = reinterpret_cast<float4*>(out + c * 32);
#pragma unroll
  for (int j = 0; j < 8; ++j) o[j] = make_float4(v[4 * j], v[4 * j + 1], v[4 * j + 2], v[4 * j + 3]);
}

// Grid of one thread per item, 256 a block (items < 2^31 * 256).
unsigned int grid_for(int64_t items) {
  int64_t b = (items + 255) / 256;
  if (b > 0x7fffffff) throw std::invalid_argument("[quantize] array too large for one launch.");
  return static_cast<unsigned int>(std::max<int64_t>(b, 1));
}

template <typename T, typename TO>
__global__ void convert_kernel(const T* __restrict__ in, TO* __restrict__ out, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = from_f<TO>(to_f(in[i]));
}

}  // namespace

size_t affine_qmm_workspace(int dt, bool transpose, int64_t M, int64_t N) {
  return !transpose && M <= kQuantGemvMaxRows && dt != dt_f32 ? static_cast<size_t>(M * N) : 0;
}

void affine_qmm(int dt, const AffineWeight& w, const void* x, void* out, float* workspace, int64_t M, int64_t N,
                int64_t K, cudaStream_t st) {
  if (M == 0 || N == 0) return;
  if (N > 0x7fffffff || K > 0x7fffffff) throw std::invalid_argument("[quantized_matmul] matrix too large.");
  if (M >= kQuantDequantGemmMinRows && affine_qmm_dequant(dt, w, x, out, M, N, K, st)) return;
  if (M > kQuantGemvMaxRows && dt != dt_f32) return q::affine_gemm(dt, w, x, out, M, N, K, st);
  if (M > kQuantGemvMaxRows) {
    // float32 x keeps float32 accuracy: the GEMV kernels (weights dequantized in registers, f32
    // products) over chunks of rows, instead of the tensor-core GEMM's 16-bit tiles.
    for (int64_t m0 = 0; m0 < M; m0 += kQuantGemvMaxRows) {
      int64_t rows = std::min<int64_t>(kQuantGemvMaxRows, M - m0);
      affine_qmm(dt, w, static_cast<const float*>(x) + m0 * K, static_cast<float*>(out) + m0 * N, nullptr, rows, N,
                 K, st);
    }
    return;
  }
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  if (w.transpose) return q::affine_gemv_t(dt, w, x, out, m, n, k, st);
  float* acc = dt == dt_f32 ? static_cast<float*>(out) : workspace;
  if (!acc) throw std::invalid_argument("[quantized_matmul] missing GPU workspace.");
  q::affine_gemv_n(dt, w, x, acc, m, n, k, st);
  if (dt == dt_f32) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    convert_kernel<float, T><<<grid_for(M * N), 256, 0, st>>>(acc, static_cast<T*>(out), M * N);
    TESSERA_KERNEL_CHECK();
  });
}

void affine_quantize(int dt, const void* w, uint32_t* wq, void* scales, void* biases, int64_t rows, int64_t K,
                     int group_size, int bits, cudaStream_t st) {
  const int64_t groups = rows * (K / group_size);
  if (groups == 0) return;
  bool ok = dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    dispatch_bits(bits, [&](auto b) {
      quantize_kernel<T, decltype(b)::value><<<grid_for(groups), 256, 0, st>>>(
          static_cast<const T*>(w), wq, static_cast<T*>(scales), static_cast<T*>(biases), groups, group_size);
      TESSERA_KERNEL_CHECK();
    });
  });
  if (!ok) throw std::invalid_argument("[quantize] unsupported dtype on the GPU.");
}

void affine_dequantize(int dt, const uint32_t* wq, const void* scales, const void* biases, void* out, int64_t rows,
                       int64_t K, int group_size, int bits, cudaStream_t st) {
  const int64_t chunks = rows * (K / 32);
  if (chunks == 0) return;
  bool ok = dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    dispatch_bits(bits, [&](auto b) {
      dequantize_kernel<T, decltype(b)::value><<<grid_for(chunks), 256, 0, st>>>(
          wq, static_cast<const T*>(scales), static_cast<const T*>(biases), static_cast<T*>(out), chunks, group_size);
      TESSERA_KERNEL_CHECK();
    });
  });
  if (!ok) throw std::invalid_argument("[dequantize] unsupported dtype on the GPU.");
}

bool gguf_gpu_supported(int type) {
  return dispatch_gguf(type, [](auto) {});
}

void gguf_qmm(int type, const float* x, const uint8_t* w, float* out, int64_t M, int64_t N, int64_t K,
              cudaStream_t st) {
  if (M == 0 || N == 0) return;
  if (N > 0x7fffffff || K > 0x7fffffff) throw std::invalid_argument("[gguf_quantized_matmul] matrix too large.");
  if (M >= kQuantDequantGemmMinRows && gguf_qmm_dequant(type, x, w, out, M, N, K, st)) return;
  // x is float32: chunks of rows through the GEMV kernels keep float32 accuracy (the tensor-core
  // GEMM, q::gguf_gemm, rounds x and the weights to bf16 tiles: ~0.5% error; not used for now).
  for (int64_t m0 = 0; m0 < M; m0 += kQuantGemvMaxRows) {
    int rows = static_cast<int>(std::min<int64_t>(kQuantGemvMaxRows, M - m0));
    q::gguf_gemv(type, x + m0 * K, w, out + m0 * N, rows, static_cast<int>(N), static_cast<int>(K), st);
  }
}

void gguf_dequantize(int type, const uint8_t* blocks, float* out, int64_t rows, int64_t K, cudaStream_t st) {
  const int64_t chunks = rows * (K / 32);
  if (chunks == 0) return;
  bool ok = dispatch_gguf(type, [&](auto tt) {
    gguf_dequantize_kernel<decltype(tt)::value><<<grid_for(chunks), 256, 0, st>>>(blocks, out, rows, K);
    TESSERA_KERNEL_CHECK();
  });
  if (!ok) throw std::invalid_argument("[gguf_dequantize] unsupported GGUF type on the GPU.");
}

}  // namespace tessera::cuda
