// Bandwidth-bound dequantization of a column range of affine-quantized rows into a dense scratch
// matrix (the input of the dequantize-then-cuBLAS prefill GEMM): one thread per 8 values, one or two
// streaming word loads and one 16-byte (16-bit types) or two (float32) coalesced stores.
#include "tessera/backend/cuda/kernels/quantized.cuh"

namespace tessera::cuda {

namespace {

using namespace q;

// 8 floats -> 8 values of T at p (16-byte aligned for 16-bit T, 32-byte for float).
template <typename T>
__device__ __forceinline__ void store8(T* p, const float (&f)[8]) {
  if constexpr (std::is_same_v<T, float>) {
    reinterpret_cast<float4*>(p)[0] = make_float4(f[0], f[1], f[2], f[3]);
    reinterpret_cast<float4*>(p)[1] = make_float4(f[4], f[5], f[6], f[7]);
  } else {
    uint32_t u[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      T lo = from_f<T>(f[2 * j]), hi = from_f<T>(f[2 * j + 1]);
      u[j] = static_cast<uint32_t>(*reinterpret_cast<unsigned short*>(&lo)) |
             (static_cast<uint32_t>(*reinterpret_cast<unsigned short*>(&hi)) << 16);
    }
    *reinterpret_cast<uint4*>(p) = make_uint4(u[0], u[1], u[2], u[3]);
  }
}

// Item i (of rows * cols / 8): row r = i / (cols / 8), columns c = c0 + 8 (i % (cols / 8)) + [0, 8).
// The 8 packed values start at bit 8 bits (r C + c) of the row-major bit stream (LSB first, so
// little-endian bytes): byte (r C + c) bits / 8, which spans at most two 32-bit words.
template <typename T, int bits>
__global__ void dequantize_cols_kernel(const uint32_t* __restrict__ wq, const T* __restrict__ scales,
                                       const T* __restrict__ biases, T* __restrict__ out, int64_t items,
                                       int64_t C, int64_t c0, int64_t cols, int gs) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= items) return;
  const int64_t per_row = cols / 8;
  int64_t r, cc;
  if (items <= 0xffffffffLL) {  // 32-bit division (the 64-bit one is a long software sequence)
    const uint32_t ii = static_cast<uint32_t>(i), pr = static_cast<uint32_t>(per_row), rr = ii / pr;
    r = rr;
    cc = static_cast<int64_t>(ii - rr * pr) * 8;
  } else {
    r = i / per_row;
    cc = (i - r * per_row) * 8;
  }
  const int64_t c = c0 + cc;
  const int64_t byte = (r * C + c) / 8 * bits;
  const uint32_t* p = wq + byte / 4;
  const int sh = static_cast<int>(byte & 3) * 8;
  uint64_t v = __ldcs(p);
  if (sh + 8 * bits > 32) v |= static_cast<uint64_t>(__ldcs(p + 1)) << 32;
  v >>= sh;
  const int64_t si = r * (C / gs) + c / gs;
  const float s = to_f(scales[si]), b = to_f(biases[si]);
  constexpr uint32_t mask = (1u << bits) - 1;
  float f[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) f[j] = fmaf(u2f(static_cast<uint32_t>(v >> (bits * j)) & mask), s, b);
  store8(out + r * cols + cc, f);
}

}  // namespace

void affine_dequantize_cols(int dt, const uint32_t* wq, const void* scales, const void* biases, void* out,
                            int64_t rows, int64_t C, int64_t c0, int64_t cols, int group_size, int bits,
                            cudaStream_t st) {
  if (rows < 0 || C % 32 != 0 || group_size <= 0 || C % group_size != 0 || c0 < 0 || c0 % 8 != 0 ||
      cols < 0 || cols % 8 != 0 || c0 + cols > C) {
    throw std::invalid_argument("[dequantize] column range off the packing (C % 32, c0 % 8, cols % 8).");
  }
  const int64_t items = rows * (cols / 8);
  if (items == 0) return;
  const int64_t blocks = (items + 255) / 256;
  if (blocks > 0x7fffffff) throw std::invalid_argument("[dequantize] array too large for one launch.");
  bool bits_ok = false;
  bool ok = dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    bits_ok = dispatch_bits(bits, [&](auto b) {
      dequantize_cols_kernel<T, decltype(b)::value><<<static_cast<unsigned int>(blocks), 256, 0, st>>>(
          wq, static_cast<const T*>(scales), static_cast<const T*>(biases), static_cast<T*>(out), items, C,
          c0, cols, group_size);
      TESSERA_KERNEL_CHECK();
    });
  });
  if (!ok) throw std::invalid_argument("[dequantize] unsupported dtype on the GPU.");
  if (!bits_ok) throw std::invalid_argument("[dequantize] unsupported bits on the GPU.");
}

}  // namespace tessera::cuda
