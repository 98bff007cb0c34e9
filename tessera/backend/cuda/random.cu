// CUDA creation kernels: Threefry-2x32 (20 rounds) random bits, word pair (i, second + i) from one
// hash of counter (i, second + i) as in the CPU backend; arange with unfused double arithmetic;
// categorical sampling (gumbel-max, one block per sample).
#include <cub/block/block_reduce.cuh>

#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels_random.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

__device__ __forceinline__ uint2 threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1) {
  const uint32_t rot[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  uint32_t ks[3] = {k0, k1, k0 ^ k1 ^ 0x1BD11BDAu};
  uint32_t x0 = c0 + ks[0], x1 = c1 + ks[1];
#pragma unroll
  for (uint32_t i = 0; i < 5; ++i) {
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      uint32_t s = rot[i % 2][r];
      x0 += x1;
      x1 = (x1 << s) | (x1 >> (32 - s));
      x1 ^= x0;
    }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + i + 1;
  }
  return make_uint2(x0, x1);
}

// Writes word w (of value v) into the nbytes-long buffer: whole words as uint32, a last partial one by bytes.
__device__ __forceinline__ void put_word(unsigned char* out, size_t nbytes, size_t w, uint32_t v) {
  size_t b = w * 4;
  if (b + 4 <= nbytes) {
    reinterpret_cast<uint32_t*>(out)[w] = v;
  } else {
    for (size_t k = 0; b + k < nbytes; ++k) out[b + k] = static_cast<unsigned char>(v >> (8 * k));
  }
}

__global__ void random_bits_kernel(const uint32_t* key, unsigned char* out, size_t nbytes, size_t words) {
  const uint32_t k0 = key[0], k1 = key[1];
  size_t half = words / 2, second = half + (words % 2);
  size_t pairs = half + (words % 2);  // the odd middle word as an extra item
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < pairs; i += size_t(gridDim.x) * blockDim.x) {
    if (i < half) {
      uint2 r = threefry2x32(k0, k1, static_cast<uint32_t>(i), static_cast<uint32_t>(second + i));
      put_word(out, nbytes, i, r.x);
      put_word(out, nbytes, second + i, r.y);
    } else {
      put_word(out, nbytes, half, threefry2x32(k0, k1, static_cast<uint32_t>(half), 0u).x);
    }
  }
}

template <typename T>
__global__ void arange_kernel(double start, double step, T* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    double v = __dadd_rn(start, __dmul_rn(static_cast<double>(i), step));
    out[i] = from_acc<T>(static_cast<acc_of<T>>(v));
  }
}

// Sampling candidate: larger value wins, then smaller index; NaN never wins except at index 0
// (the CPU's sequential loop starts from it).
struct Cand {
  float v;
  uint32_t c;
  int cls;  // 2: NaN at index 0, 1: a number, 0: NaN elsewhere
};
struct CandMax {
  __device__ __forceinline__ Cand operator()(const Cand& a, const Cand& b) const {
    if (a.cls != b.cls) return a.cls > b.cls ? a : b;
    if (a.cls == 1 && a.v != b.v) return a.v > b.v ? a : b;
    return a.c < b.c ? a : b;
  }
};

constexpr int kCatThreads = 256;

__global__ void categorical_kernel(CategoricalArgs a) {
  using Reduce = cub::BlockReduce<Cand, kCatThreads>;
  __shared__ typename Reduce::TempStorage temp;
  const float tiny = 1.17549435e-38f;  // FLT_MIN
  for (int64_t o = blockIdx.x; o < a.nout; o += gridDim.x) {
    int64_t outer_i = o / a.inner, inner_i = o % a.inner;
    int64_t first = outer_i * a.n * a.inner + inner_i;
    int64_t lbase = 0, rem = first;
    for (int d = a.ndim - 1; d >= 0; --d) {
      lbase += (rem % a.full[d]) * a.lstrides[d];
      rem /= a.full[d];
    }
    Cand best{-INFINITY, 0xffffffffu, -1};
    for (int64_t c = threadIdx.x; c < a.n; c += kCatThreads) {
      uint32_t b = a.bits[first + c * a.inner];
      float u = fminf(__fmul_rn(static_cast<float>(b), 1.0f / 4294967295.0f), 0x1.fffffep-1f);
      u = fmaf(1.0f - tiny, u, tiny);  // std::fma on the CPU
      float v = __fsub_rn(a.logits[lbase + c * a.lstrides[a.axis]], logf(-logf(u)));
      Cand cand{v, static_cast<uint32_t>(c), v != v ? (c == 0 ? 2 : 0) : 1};
      best = CandMax{}(best, cand);
    }
    Cand r = Reduce(temp).Reduce(best, CandMax{});
    if (threadIdx.x == 0) a.out[o] = r.c;
    __syncthreads();  // temp is reused by the next output
  }
}

}  // namespace

void categorical(const CategoricalArgs& a, cudaStream_t st) {
  if (a.nout == 0 || a.n == 0) return;
  unsigned int blocks = static_cast<unsigned int>(a.nout < 65535 * 32 ? a.nout : 65535 * 32);
  categorical_kernel<<<blocks, kCatThreads, 0, st>>>(a);
  TESSERA_CUDA_LAUNCH_CHECK();
}

void random_bits(const uint32_t* key, void* out, size_t nbytes, cudaStream_t st) {
  size_t words = (nbytes + 3) / 4;
  if (words == 0) return;
  size_t items = words / 2 + words % 2;
  random_bits_kernel<<<blocks_for(items, 256), 256, 0, st>>>(key, static_cast<unsigned char*>(out), nbytes, words);
  TESSERA_CUDA_LAUNCH_CHECK();
}

bool arange_supported(int dt) { return is_real_dt(dt) && dt != dt_bool; }

void arange(int dt, double start, double step, void* out, size_t n, cudaStream_t st) {
  if (n == 0) return;
  dispatch_real(dt, [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_same_v<T, bool>) {
      arange_kernel<T><<<blocks_for(n, 256), 256, 0, st>>>(start, step, static_cast<T*>(out), n);
      TESSERA_CUDA_LAUNCH_CHECK();
    }
  });
}

}  // namespace tessera::cuda
