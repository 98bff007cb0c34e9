// Quantized prefill/batch GEMM (M > 8): per 64x128 output tile, 32-deep slices of x and of W
// (dequantized on the fly, never the whole matrix) are staged in shared memory as f16/bf16 and
// multiplied with mma.sync m16n8k16 tensor-core instructions, accumulating in float32.
#include "tessera/backend/cuda/kernels/quantized.cuh"

namespace tessera::cuda::q {

namespace {

constexpr int BM = 64, BN = 128, BK = 32, PAD = 8, kThreads = 128;

// Tensor-core element type: f16 for f16 inputs, bf16 for bf16 and f32 ones (no overflow).
template <typename T>
struct MmaType {
  using E = __nv_bfloat16;
};
template <>
struct MmaType<__half> {
  using E = __half;
};

template <typename E>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  if constexpr (std::is_same_v<E, __half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}

// Two values as one 32-bit word of E pairs (low half = first).
template <typename E>
__device__ __forceinline__ uint32_t pack2(float a, float b) {
  E lo = from_f<E>(a), hi = from_f<E>(b);
  return static_cast<uint32_t>(*reinterpret_cast<unsigned short*>(&lo)) |
         (static_cast<uint32_t>(*reinterpret_cast<unsigned short*>(&hi)) << 16);
}

// Writes a decoded row slice v[0..32) of W row `t` (n) into Bs[t][0..32) (k).
template <typename E>
__device__ __forceinline__ void store_row32(E (*Bs)[BK + PAD], int t, const float (&v)[32]) {
  uint32_t* dst = reinterpret_cast<uint32_t*>(&Bs[t][0]);
#pragma unroll
  for (int j = 0; j < 16; ++j) dst[j] = pack2<E>(v[2 * j], v[2 * j + 1]);
}
// Each B-tile loader has fetch (global loads of the thread's part of the slice at k0 into a Raw
// held in registers, issued one slice ahead so their latency overlaps the MMAs) and store
// (dequantize the Raw into Bs[n][k]).

// Raw affine chunk: 32 packed values and their group's scale and bias (s = b = 0: outside W).
template <int bits>
struct AffineRaw {
  uint32_t w[bits];
  float s, b;
};

// The chunk at `words` with the scale and bias at s, b; zeros when !valid (pointers not read).
template <typename T, int bits>
__device__ __forceinline__ void fetch_affine(AffineRaw<bits>& r, bool valid, const uint32_t* words, const T* s,
                                             const T* b) {
  if (!valid) {
#pragma unroll
    for (int i = 0; i < bits; ++i) r.w[i] = 0;
    r.s = r.b = 0.0f;
    return;
  }
  load_chunk<bits>(words, r.w);
  r.s = to_f(*s);
  r.b = to_f(*b);
}

template <int bits>
__device__ __forceinline__ void dequant32(const AffineRaw<bits>& r, float (&v)[32]) {
#pragma unroll
  for (int j = 0; j < 32; ++j) v[j] = fmaf(r.s, u2f(extract<bits>(r.w, j)), r.b);
}

// The packed weight, its scales and biases and the matrix sizes.
template <typename T, int bits>
struct AffineLoader {
  using Raw = AffineRaw<bits>;
  const uint32_t* w;
  const T* scales;
  const T* biases;
  int N, K, gs;
};

// W (N, K) affine: thread t takes chunk k0/32 of row n0 + t.
template <typename T, int bits>
struct AffineT : AffineLoader<T, bits> {
  using typename AffineLoader<T, bits>::Raw;
  using AffineLoader<T, bits>::w, AffineLoader<T, bits>::scales, AffineLoader<T, bits>::biases;
  using AffineLoader<T, bits>::N, AffineLoader<T, bits>::K, AffineLoader<T, bits>::gs;
  __device__ __forceinline__ void fetch(Raw& r, int n0, int k0, int t) const {
    const int n = n0 + t, G = K / gs;
    const int64_t row_words = static_cast<int64_t>(K) / 32 * bits, si = static_cast<int64_t>(n) * G + k0 / gs;
    fetch_affine(r, n < N, w + n * row_words + static_cast<int64_t>(k0 / 32) * bits, scales + si, biases + si);
  }
  template <typename E>
  __device__ __forceinline__ void store(E (*Bs)[BK + PAD], const Raw& r, int t) const {
    float v[32];
    dequant32(r, v);
    store_row32(Bs, t, v);
  }
};

// W (K, N) affine (packed along N): thread t takes row k0 + t/4, columns n0 + 32 (t%4) + [0, 32).
template <typename T, int bits>
struct AffineN : AffineLoader<T, bits> {
  using typename AffineLoader<T, bits>::Raw;
  using AffineLoader<T, bits>::w, AffineLoader<T, bits>::scales, AffineLoader<T, bits>::biases;
  using AffineLoader<T, bits>::N, AffineLoader<T, bits>::K, AffineLoader<T, bits>::gs;
  __device__ __forceinline__ void fetch(Raw& r, int n0, int k0, int t) const {
    // N is a multiple of the group size: a chunk is wholly inside or outside.
    const int k = k0 + (t >> 2), n = n0 + 32 * (t & 3), G = N / gs;
    const int64_t row_words = static_cast<int64_t>(N) / 32 * bits, si = static_cast<int64_t>(k) * G + n / gs;
    fetch_affine(r, k < K && n < N, w + k * row_words + static_cast<int64_t>(n / 32) * bits, scales + si,
                 biases + si);
  }
  template <typename E>
  __device__ __forceinline__ void store(E (*Bs)[BK + PAD], const Raw& r, int t) const {
    float v[32];
    dequant32(r, v);
    const int kr = t >> 2, cn = t & 3;
#pragma unroll
    for (int j = 0; j < 32; ++j) Bs[32 * cn + j][kr] = from_f<E>(v[j]);
  }
};

// W (N, K) GGUF blocks: thread t decodes chunk k0/32 of row n0 + t (at fetch: the block layouts
// differ too much to hold raw bytes generically).
template <int type>
struct GGUFT {
  struct Raw {
    float v[32];
  };
  const uint8_t* w;
  int N, K;
  __device__ __forceinline__ void fetch(Raw& r, int n0, int k0, int t) const {
    const int n = n0 + t;
    if (n >= N) {
#pragma unroll
      for (int j = 0; j < 32; ++j) r.v[j] = 0.0f;
      return;
    }
    const int64_t row_bytes = static_cast<int64_t>(K) / GGInfo<type>::block * GGInfo<type>::bytes;
    gguf_decode32<type>(w + n * row_bytes, k0 / 32, r.v);
  }
  template <typename E>
  __device__ __forceinline__ void store(E (*Bs)[BK + PAD], const Raw& r, int t) const {
    store_row32(Bs, t, r.v);
  }
};

// The thread's part of an x slice: row t/2, columns k0 + 16 (t%2) + [0, 16), zeros outside x.
template <typename T>
struct XRaw {
  T v[16];
};
template <typename T>
__device__ __forceinline__ void fetch_x(XRaw<T>& r, const T* x, int M, int K, int m0, int k0, int t) {
  const int m = m0 + (t >> 1), kb = k0 + (t & 1) * 16;
  const T* src = x + static_cast<int64_t>(m) * K + kb;
#pragma unroll
  for (int j = 0; j < 16; ++j) r.v[j] = m < M && kb + j < K ? src[j] : from_f<T>(0.0f);
}
template <typename T, typename E>
__device__ __forceinline__ void store_x(E (*As)[BK + PAD], const XRaw<T>& r, int t) {
  uint32_t* dst = reinterpret_cast<uint32_t*>(&As[t >> 1][(t & 1) * 16]);
#pragma unroll
  for (int j = 0; j < 8; ++j) dst[j] = pack2<E>(to_f(r.v[2 * j]), to_f(r.v[2 * j + 1]));
}

// out (M, N) of TO = x (M, K) of T @ W^T; W's tiles come from `load_b` (Bs[n][k]).
template <typename T, typename TO, typename E, typename LoadB>
__global__ void __launch_bounds__(kThreads) qmm_kernel(const T* __restrict__ x, LoadB load_b, TO* __restrict__ out,
                                                       int M, int N, int K) {
  __shared__ __align__(16) E As[BM][BK + PAD];
  __shared__ __align__(16) E Bs[BN][BK + PAD];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 1, wn = warp & 1;  // warp tile: rows 32 wm + [0, 32), cols 64 wn + [0, 64)
  const int gid = lane >> 2, tig = lane & 3;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  float acc[2][8][4];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

  XRaw<T> xr;
  typename LoadB::Raw br;
  fetch_x(xr, x, M, K, m0, 0, tid);
  load_b.fetch(br, n0, 0, tid);
  for (int k0 = 0; k0 < K; k0 += BK) {
    store_x(As, xr, tid);
    load_b.store(Bs, br, tid);
    __syncthreads();
    if (k0 + BK < K) {  // the next slice's loads, consumed after this slice's MMAs
      fetch_x(xr, x, M, K, m0, k0 + BK, tid);
      load_b.fetch(br, n0, k0 + BK, tid);
    }
#pragma unroll
    for (int ks = 0; ks < BK; ks += 16) {
      uint32_t a[2][4], b[8][2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int rb = wm * 32 + i * 16 + gid, c = ks + 2 * tig;
        a[i][0] = *reinterpret_cast<const uint32_t*>(&As[rb][c]);
        a[i][1] = *reinterpret_cast<const uint32_t*>(&As[rb + 8][c]);
        a[i][2] = *reinterpret_cast<const uint32_t*>(&As[rb][c + 8]);
        a[i][3] = *reinterpret_cast<const uint32_t*>(&As[rb + 8][c + 8]);
      }
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int nb = wn * 64 + j * 8 + gid, c = ks + 2 * tig;
        b[j][0] = *reinterpret_cast<const uint32_t*>(&Bs[nb][c]);
        b[j][1] = *reinterpret_cast<const uint32_t*>(&Bs[nb][c + 8]);
      }
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) mma16816<E>(acc[i][j], a[i], b[j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int r = m0 + wm * 32 + i * 16 + gid, c = n0 + wn * 64 + j * 8 + 2 * tig;
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int rr = r + (e >= 2 ? 8 : 0), cc = c + (e & 1);
        if (rr < M && cc < N) out[static_cast<int64_t>(rr) * N + cc] = from_f<TO>(acc[i][j][e]);
      }
    }
  }
}

template <typename T, typename TO, typename LoadB>
void launch_qmm(const T* x, const LoadB& load_b, TO* out, int64_t M, int64_t N, int64_t K, cudaStream_t st) {
  if ((M + BM - 1) / BM > 65535) throw std::invalid_argument("[quantized_matmul] too many rows for one launch.");
  dim3 grid(static_cast<unsigned int>((N + BN - 1) / BN), static_cast<unsigned int>((M + BM - 1) / BM));
  using E = typename MmaType<T>::E;
  qmm_kernel<T, TO, E, LoadB><<<grid, kThreads, 0, st>>>(x, load_b, out, static_cast<int>(M), static_cast<int>(N),
                                                         static_cast<int>(K));
  TESSERA_KERNEL_CHECK();
}

}  // namespace

void affine_gemm(int dt, const AffineWeight& wt, const void* x, void* out, int64_t M, int64_t N, int64_t K,
                 cudaStream_t st) {
  bool ok = dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    dispatch_bits(wt.bits, [&](auto b) {
      constexpr int bits = decltype(b)::value;
      auto s = static_cast<const T*>(wt.scales);
      auto bi = static_cast<const T*>(wt.biases);
      if (wt.transpose) {
        AffineT<T, bits> ld{{wt.w, s, bi, static_cast<int>(N), static_cast<int>(K), wt.group_size}};
        launch_qmm(static_cast<const T*>(x), ld, static_cast<T*>(out), M, N, K, st);
      } else {
        AffineN<T, bits> ld{{wt.w, s, bi, static_cast<int>(N), static_cast<int>(K), wt.group_size}};
        launch_qmm(static_cast<const T*>(x), ld, static_cast<T*>(out), M, N, K, st);
      }
    });
  });
  if (!ok) throw std::invalid_argument("[quantized_matmul] unsupported dtype on the GPU.");
}

void gguf_gemm(int type, const float* x, const uint8_t* w, float* out, int64_t M, int64_t N, int64_t K,
               cudaStream_t st) {
  bool ok = dispatch_gguf(type, [&](auto tt) {
    constexpr int type_ = decltype(tt)::value;
    GGUFT<type_> ld{w, static_cast<int>(N), static_cast<int>(K)};
    launch_qmm(x, ld, out, M, N, K, st);
  });
  if (!ok) throw std::invalid_argument("[gguf_quantized_matmul] unsupported GGUF type on the GPU.");
}

}  // namespace tessera::cuda::q

namespace tessera::cuda {

void affine_gemm_tiled(int dt, const AffineWeight& w, const void* x, void* out, int64_t M, int64_t N, int64_t K,
                       cudaStream_t st) {
  if (M == 0 || N == 0) return;
  if (N > 0x7fffffff || K > 0x7fffffff) throw std::invalid_argument("[quantized_matmul] matrix too large.");
  q::affine_gemm(dt, w, x, out, M, N, K, st);
}

}  // namespace tessera::cuda
