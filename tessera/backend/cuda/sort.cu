// CUDA sort/argsort along one axis: values map to order-preserving unsigned keys (NaN largest,
// -0 == +0); lines up to 4096 (2048 for 64-bit keys) sort in shared memory with a bitonic network
// on (key, index) pairs (stable by the index tie-break), longer ones with CUB's segmented radix sort
// (stable).
#include <cub/device/device_segmented_radix_sort.cuh>

#include <climits>

#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels_sort.h"
#include "tessera/backend/cuda/runtime.h"
#include "tessera/backend/gpu.h"

namespace tessera::cuda {

namespace {

template <typename T>
using key_of = std::conditional_t<(sizeof(T) == 8), uint64_t, uint32_t>;

// Order-preserving unsigned key of v.
template <typename T>
__device__ __forceinline__ key_of<T> sort_key(T v) {
  if constexpr (std::is_same_v<T, double>) {
    if (v != v) return ~0ull;
    if (v == 0.0) v = 0.0;
    uint64_t b = static_cast<uint64_t>(__double_as_longlong(v));
    return (b >> 63) ? ~b : (b | (1ull << 63));
  } else if constexpr (is_float_v<T>) {
    float f = to_acc(v);
    if (f != f) return ~0u;
    if (f == 0.0f) f = 0.0f;
    uint32_t b = __float_as_uint(f);
    return (b >> 31) ? ~b : (b | (1u << 31));
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? 1u : 0u;
  } else if constexpr (std::is_signed_v<T>) {
    if constexpr (sizeof(T) == 8) return static_cast<uint64_t>(v) ^ (1ull << 63);
    else return static_cast<uint32_t>(static_cast<int32_t>(v)) ^ (1u << 31);
  } else {
    return static_cast<key_of<T>>(v);
  }
}

template <typename T>
constexpr int max_bitonic() {
  return sizeof(key_of<T>) == 8 ? 2048 : 4096;
}

// One block per line: bitonic sort of P (power of two >= n) (key, index) pairs in shared memory.
template <typename T>
__global__ void bitonic_kernel(const T* in, T* out_vals, uint32_t* out_idx, int64_t n, int64_t inner, int P) {
  using K = key_of<T>;
  extern __shared__ unsigned char smem[];
  K* keys = reinterpret_cast<K*>(smem);
  uint32_t* idx = reinterpret_cast<uint32_t*>(keys + P);
  int64_t line = blockIdx.x;
  int64_t o = line / inner, i = line % inner;
  int64_t base = o * n * inner + i;
  for (int t = threadIdx.x; t < P; t += blockDim.x) {
    keys[t] = t < n ? sort_key<T>(in[base + t * inner]) : static_cast<K>(~K(0));
    idx[t] = static_cast<uint32_t>(t);
  }
  __syncthreads();
  for (int k = 2; k <= P; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      for (int t = threadIdx.x; t < P; t += blockDim.x) {
        int u = t ^ j;
        if (u > t) {
          K ka = keys[t], kb = keys[u];
          uint32_t ia = idx[t], ib = idx[u];
          bool a_gt = ka > kb || (ka == kb && ia > ib);
          bool asc = (t & k) == 0;
          if (a_gt == asc) {
            keys[t] = kb;
            keys[u] = ka;
            idx[t] = ib;
            idx[u] = ia;
          }
        }
      }
      __syncthreads();
    }
  }
  for (int t = threadIdx.x; t < n; t += blockDim.x) {
    uint32_t s = idx[t];
    if (out_idx) out_idx[base + t * inner] = s;
    if (out_vals) out_vals[base + t * inner] = in[base + static_cast<int64_t>(s) * inner];
  }
}

// Keys in line-major order (line = (o, i)) and their positions along the axis.
template <typename T>
__global__ void make_keys_kernel(const T* in, key_of<T>* keys, uint32_t* pos, int64_t n, int64_t inner, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t line = e / n, j = e % n;
    int64_t o = line / inner, i = line % inner;
    keys[e] = sort_key<T>(in[o * n * inner + j * inner + i]);
    pos[e] = static_cast<uint32_t>(j);
  }
}

__global__ void offsets_kernel(int* off, int64_t lines, int64_t n) {
  for (int64_t l = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; l <= lines; l += int64_t(gridDim.x) * blockDim.x) {
    off[l] = static_cast<int>(l * n);
  }
}

template <typename T>
__global__ void scatter_sorted_kernel(const T* in, const uint32_t* pos, T* out_vals, uint32_t* out_idx, int64_t n,
                                      int64_t inner, int64_t total) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t line = e / n, j = e % n;
    int64_t o = line / inner, i = line % inner;
    int64_t base = o * n * inner + i;
    uint32_t s = pos[e];
    if (out_idx) out_idx[base + j * inner] = s;
    if (out_vals) out_vals[base + j * inner] = in[base + static_cast<int64_t>(s) * inner];
  }
}

// A device scratch buffer from the pool, returned on scope exit (stream-ordered reuse).
struct Scratch {
  void* p{nullptr};
  size_t n{0};
  explicit Scratch(size_t bytes) : p(bytes ? gpu::malloc(bytes) : nullptr), n(bytes) {}
  ~Scratch() { gpu::free(p, n); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

template <typename T>
void segmented_sort(const T* in, T* out_vals, uint32_t* out_idx, size_t outer, size_t n, size_t inner,
                    cudaStream_t st) {
  using K = key_of<T>;
  int64_t lines = static_cast<int64_t>(outer * inner), total = lines * static_cast<int64_t>(n);
  Scratch keys(total * sizeof(K)), keys2(total * sizeof(K)), pos(total * 4), pos2(total * 4), off((lines + 1) * 4);
  make_keys_kernel<T><<<blocks_for(total, 256), 256, 0, st>>>(in, static_cast<K*>(keys.p), static_cast<uint32_t*>(pos.p),
                                                              n, inner, total);
  TESSERA_CUDA_LAUNCH_CHECK();
  offsets_kernel<<<blocks_for(lines + 1, 256), 256, 0, st>>>(static_cast<int*>(off.p), lines, n);
  TESSERA_CUDA_LAUNCH_CHECK();
  const int* offs = static_cast<const int*>(off.p);
  size_t temp_bytes = 0;
  TESSERA_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairs(
      nullptr, temp_bytes, static_cast<const K*>(keys.p), static_cast<K*>(keys2.p), static_cast<const uint32_t*>(pos.p),
      static_cast<uint32_t*>(pos2.p), static_cast<int>(total), static_cast<int>(lines), offs, offs + 1, 0,
      int(sizeof(K) * 8), st));
  Scratch temp(temp_bytes);
  TESSERA_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairs(
      temp.p, temp_bytes, static_cast<const K*>(keys.p), static_cast<K*>(keys2.p), static_cast<const uint32_t*>(pos.p),
      static_cast<uint32_t*>(pos2.p), static_cast<int>(total), static_cast<int>(lines), offs, offs + 1, 0,
      int(sizeof(K) * 8), st));
  scatter_sorted_kernel<T><<<blocks_for(total, 256), 256, 0, st>>>(in, static_cast<const uint32_t*>(pos2.p), out_vals,
                                                                   out_idx, n, inner, total);
  TESSERA_CUDA_LAUNCH_CHECK();
}

}  // namespace

bool sort_supported(int dt, size_t outer, size_t n, size_t inner) {
  return is_real_dt(dt) && outer * n * inner < static_cast<size_t>(INT_MAX) && n < (1u << 31);
}

void sort_lines(int dt, const void* in, void* out_vals, uint32_t* out_idx, size_t outer, size_t n, size_t inner,
                cudaStream_t st) {
  size_t lines = outer * inner;
  if (lines == 0 || n == 0) return;
  dispatch_real(dt, [&](auto t) {
    using T = decltype(t);
    auto src = static_cast<const T*>(in);
    auto dst = static_cast<T*>(out_vals);
    if (n <= static_cast<size_t>(max_bitonic<T>()) && lines <= 0x7fffffffu) {
      int P = 1;
      while (static_cast<size_t>(P) < n) P <<= 1;
      int threads = P < 1024 ? (P < 32 ? 32 : P) : 1024;
      size_t smem = static_cast<size_t>(P) * (sizeof(key_of<T>) + sizeof(uint32_t));  // <= 32 KiB
      bitonic_kernel<T><<<static_cast<unsigned int>(lines), threads, smem, st>>>(src, dst, out_idx, n, inner, P);
      TESSERA_CUDA_LAUNCH_CHECK();
    } else {
      segmented_sort<T>(src, dst, out_idx, outer, n, inner, st);
    }
  });
}

}  // namespace tessera::cuda
