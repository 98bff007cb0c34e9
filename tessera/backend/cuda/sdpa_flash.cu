// FlashAttention-2 style prefill kernel (f16/bf16, head dim 64/128): a block of 64 query rows (16 per
// warp), 64-key K/V tiles double-buffered in shared memory by cp.async, S = Q K^T and O += P V on
// tensor cores (mma.sync m16n8k16), online softmax in f32 registers, causal tiles past the diagonal
// skipped, GQA by q head -> kv head, optional bool/additive mask.
#include <cmath>

#include "tessera/backend/cuda/kernels/mma.cuh"
#include "tessera/backend/cuda/kernels_attention.h"

namespace tessera::cuda {

namespace {

constexpr int kBM = 64;  // query rows per block
constexpr int kBN = 64;  // keys per tile
constexpr int kThreads = 128;

// Shared-memory row stride (elements): 16 bytes of padding so 8 consecutive rows of one 16-byte
// column fall in distinct banks for ldmatrix.
template <int D>
__host__ __device__ constexpr int row_stride() { return D + 8; }
template <int D>
constexpr size_t smem_bytes() { return static_cast<size_t>(kBM + 4 * kBN) * row_stride<D>() * 2; }

// rows [row0, row0 + 64) of a (rows, D) operand with row stride `rs` into shared `dst`; rows at or
// past `nrows` become zeros.
template <typename T, int D>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t rs, int row0, int nrows) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kS = row_stride<D>();
#pragma unroll
  for (int it = 0; it < 64 * kChunks / kThreads; ++it) {
    int c = threadIdx.x + it * kThreads;
    int r = c / kChunks, ch = c % kChunks;
    bool ok = row0 + r < nrows;
    const T* g = ok ? src + static_cast<int64_t>(row0 + r) * rs + ch * 8 : src;
    cp_async16(dst + r * kS + ch * 8, g, ok);
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads, 2) flash_kernel(SdpaArgs a) {
  constexpr int kS = row_stride<D>();
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);  // (64, kS)
  T* sK = sQ + kBM * kS;                   // 2 x (64, kS)
  T* sV = sK + 2 * kBN * kS;               // 2 x (64, kS)

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int m0 = (gridDim.y - 1 - blockIdx.y) * kBM;  // heaviest (causal) blocks first
  const int h = blockIdx.x % a.Hq, b = blockIdx.x / a.Hq;
  const int kvh = h / (a.Hq / a.Hkv);
  const T* qg = static_cast<const T*>(a.q) + b * a.qs[0] + h * a.qs[1];
  const T* kg = static_cast<const T*>(a.k) + b * a.ks[0] + kvh * a.ks[1];
  const T* vg = static_cast<const T*>(a.v) + b * a.vs[0] + kvh * a.vs[1];
  const int off = a.Lk - a.Lq;  // causal: query i sees keys j <= i + off
  int n_end = a.Lk;
  if (a.causal) n_end = min(a.Lk, max(0, m0 + kBM + off));
  const int n_tiles = (n_end + kBN - 1) / kBN;

  load_tile<T, D>(sQ, qg, a.qs[2], m0, a.Lq);
  if (n_tiles > 0) {
    load_tile<T, D>(sK, kg, a.ks[2], 0, a.Lk);
    load_tile<T, D>(sV, vg, a.vs[2], 0, a.Lk);
  }
  cp_async_commit();

  // Thread's rows: r_lo = m0 + 16 * warp + lane / 4 and r_lo + 8; columns 2 * (lane % 4) + {0, 1}
  // of each 8-wide n tile (the mma accumulator layout).
  const int r_lo = m0 + 16 * warp + lane / 4;
  const float sl2 = a.scale * kLog2e;  // scores in the log2 domain
  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_r[2] = {-INFINITY, -INFINITY}, l_r[2] = {0.0f, 0.0f};
  uint32_t qf[D / 16][4];

  for (int t = 0; t < n_tiles; ++t) {
    if (t + 1 < n_tiles) {
      int nb = (t + 1) & 1;
      load_tile<T, D>(sK + nb * kBN * kS, kg, a.ks[2], (t + 1) * kBN, a.Lk);
      load_tile<T, D>(sV + nb * kBN * kS, vg, a.vs[2], (t + 1) * kBN, a.Lk);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (t == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        ldmatrix_x4(qf[kk], sQ + (16 * warp + (lane % 8) + ((lane / 8) % 2) * 8) * kS + kk * 16 + (lane / 16) * 8);
      }
    }
    const T* cK = sK + (t & 1) * kBN * kS;
    const T* cV = sV + (t & 1) * kBN * kS;

    // S = Q K^T: (16 rows, 64 keys) per warp as 8 n tiles.
    float s[kBN / 8][4];
#pragma unroll
    for (int i = 0; i < kBN / 8; ++i) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
    for (int np = 0; np < kBN / 16; ++np) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        uint32_t kf[4];
        ldmatrix_x4(kf, cK + (np * 16 + (lane % 8) + (lane / 16) * 8) * kS + kk * 16 + ((lane / 8) % 2) * 8);
        mma_16816<T>(s[2 * np], qf[kk], kf[0], kf[1]);
        mma_16816<T>(s[2 * np + 1], qf[kk], kf[2], kf[3]);
      }
    }

    // Scale, then mask where the tile needs it (key bounds, causal diagonal, mask array).
    const int n0 = t * kBN;
    const bool check = a.mask != nullptr || n0 + kBN > a.Lk || (a.causal && n0 + kBN - 1 > m0 + off);
#pragma unroll
    for (int nt = 0; nt < kBN / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[nt][e] * sl2;
        if (check) {
          int j = n0 + nt * 8 + (lane % 4) * 2 + (e & 1);
          int i = r_lo + (e >= 2 ? 8 : 0);
          if (j >= a.Lk || (a.causal && j > i + off)) {
            x = -INFINITY;
          } else if (a.mask != nullptr && i < a.Lq) {
            int64_t mo = b * a.ms[0] + h * a.ms[1] + i * a.ms[2] + j * a.ms[3];
            if (a.mask_dt == dt_bool) {
              if (!static_cast<const bool*>(a.mask)[mo]) x = -INFINITY;
            } else {
              x += static_cast<const float*>(a.mask)[mo] * kLog2e;
            }
          }
        }
        s[nt][e] = x;
      }
    }

    // Online softmax per row (the 4 lanes of a quad share a row); s becomes P.
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      float mx = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < kBN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * rr], s[nt][2 * rr + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      float mn = fmaxf(m_r[rr], mx);
      float mu = mn == -INFINITY ? 0.0f : mn;  // all masked so far: p = 0, no NaN
      float corr = fast_exp2(m_r[rr] - mu);
      m_r[rr] = mn;
      float ls = 0.0f;
#pragma unroll
      for (int nt = 0; nt < kBN / 8; ++nt) {
        s[nt][2 * rr] = fast_exp2(s[nt][2 * rr] - mu);
        s[nt][2 * rr + 1] = fast_exp2(s[nt][2 * rr + 1] - mu);
        ls += s[nt][2 * rr] + s[nt][2 * rr + 1];
      }
      l_r[rr] = l_r[rr] * corr + ls;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        o[dt][2 * rr] *= corr;
        o[dt][2 * rr + 1] *= corr;
      }
    }

    // O += P V: P's accumulator layout is the A operand layout of the next mma (keys in 16-chunks).
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      uint32_t pa[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                        pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t vf[4];
        ldmatrix_x4_trans(vf, cV + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * kS + dp * 16 + (lane / 16) * 8);
        mma_16816<T>(o[2 * dp], pa, vf[0], vf[1]);
        mma_16816<T>(o[2 * dp + 1], pa, vf[2], vf[3]);
      }
    }
    __syncthreads();  // the next iteration's loads overwrite this tile's buffers
  }
  cp_async_wait<0>();

  // Normalize and store rows r_lo, r_lo + 8 (a row that saw no key is 0/0 = NaN).
  T* out = static_cast<T*>(a.out) + (static_cast<int64_t>(b) * a.Hq + h) * a.Lq * D;
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    float l = l_r[rr];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    float inv = l > 0.0f ? 1.0f / l : __int_as_float(0x7fc00000);
    int i = r_lo + 8 * rr;
    if (i < a.Lq) {
      T* orow = out + static_cast<int64_t>(i) * D + (lane % 4) * 2;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        uint32_t v = pack2<T>(o[dt][2 * rr] * inv, o[dt][2 * rr + 1] * inv);
        *reinterpret_cast<uint32_t*>(orow + dt * 8) = v;
      }
    }
  }
}

template <typename T, int D>
void launch(const SdpaArgs& a, cudaStream_t st) {
  constexpr size_t smem = smem_bytes<D>();
  static const bool attr_set = [] {
    check_call(cudaFuncSetAttribute(flash_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(smem_bytes<D>())),
               "flash attention shared memory");
    return true;
  }();
  (void)attr_set;
  dim3 grid(static_cast<unsigned>(int64_t(a.B) * a.Hq), static_cast<unsigned>((a.Lq + kBM - 1) / kBM));
  flash_kernel<T, D><<<grid, kThreads, smem, st>>>(a);
  TESSERA_KERNEL_CHECK();
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }
bool rows_aligned(const void* p, const int64_t s[4], int vec) {
  return aligned16(p) && s[0] % vec == 0 && s[1] % vec == 0 && s[2] % vec == 0 && s[3] == 1;
}

}  // namespace

bool sdpa_flash_supported(int dt, const SdpaArgs& a) {
  if (dt != dt_f16 && dt != dt_bf16) return false;
  if (a.D != a.Dv || (a.D != 64 && a.D != 128)) return false;
  if (a.Hkv <= 0 || a.Hq % a.Hkv != 0) return false;
  if (int64_t(a.B) * a.Hq > 0x7fffffff || (a.Lq + kBM - 1) / kBM > 65535) return false;
  return rows_aligned(a.q, a.qs, 8) && rows_aligned(a.k, a.ks, 8) && rows_aligned(a.v, a.vs, 8);
}

void sdpa_flash(int dt, const SdpaArgs& a, cudaStream_t st) {
  if (int64_t(a.B) * a.Hq * a.Lq == 0) return;
  if (dt == dt_f16) {
    a.D == 64 ? launch<__half, 64>(a, st) : launch<__half, 128>(a, st);
  } else {
    a.D == 64 ? launch<__nv_bfloat16, 64>(a, st) : launch<__nv_bfloat16, 128>(a, st);
  }
}

}  // namespace tessera::cuda
