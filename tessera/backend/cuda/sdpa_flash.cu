// FlashAttention-2 style prefill kernel (f16/bf16, head dim 64/128): a block of 64 or 128 query rows
// (16 or 32 per warp), 64-key K/V tiles double-buffered in shared memory by cp.async, S = Q K^T and O += P V on
// tensor cores (mma.sync m16n8k16), online softmax in f32 registers, causal tiles past the diagonal
// skipped, GQA by q head -> kv head, optional bool/additive mask.
#include <cmath>

#include "tessera/backend/cuda/kernels/mma.cuh"
#include "tessera/backend/cuda/kernels_attention.h"

namespace tessera::cuda {

namespace {

constexpr int kBN = 64;  // keys per tile
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;

// MT m16 row tiles per warp: a block holds kBM = 64 * MT query rows. With MT == 1 the warp keeps
// its Q fragments in registers; with MT == 2 it reads them from shared memory per 16-wide k step
// (the registers go to the second accumulator) and each K/V fragment feeds twice as many MMAs.
template <int MT>
__host__ __device__ constexpr int block_m() { return 16 * kWarps * MT; }

// Shared-memory row stride (elements): 16 bytes of padding so 8 consecutive rows of one 16-byte
// column fall in distinct banks for ldmatrix.
template <int D>
__host__ __device__ constexpr int row_stride() { return D + 8; }
template <int D, int MT>
constexpr size_t smem_bytes() { return static_cast<size_t>(block_m<MT>() + 4 * kBN) * row_stride<D>() * 2; }

// rows [row0, row0 + ROWS) of a (rows, D) operand with row stride `rs` into shared `dst`; rows at
// or past `nrows` become zeros.
template <typename T, int D, int ROWS>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t rs, int row0, int nrows) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kS = row_stride<D>();
  static_assert(ROWS * kChunks % kThreads == 0, "tile / threads");
#pragma unroll
  for (int it = 0; it < ROWS * kChunks / kThreads; ++it) {
    int c = threadIdx.x + it * kThreads;
    int r = c / kChunks, ch = c % kChunks;
    bool ok = row0 + r < nrows;
    const T* g = ok ? src + static_cast<int64_t>(row0 + r) * rs + ch * 8 : src;
    cp_async16(dst + r * kS + ch * 8, g, ok);
  }
}

template <typename T, int D, int MT>
__global__ void __launch_bounds__(kThreads, 2) flash_kernel(SdpaArgs a) {
  constexpr int kS = row_stride<D>();
  constexpr int kBM = block_m<MT>();
  constexpr bool kQInRegs = MT == 1;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);  // (kBM, kS)
  T* sK = sQ + kBM * kS;                   // 2 x (kBN, kS)
  T* sV = sK + 2 * kBN * kS;               // 2 x (kBN, kS)

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

  load_tile<T, D, kBM>(sQ, qg, a.qs[2], m0, a.Lq);
  if (n_tiles > 0) {
    load_tile<T, D, kBN>(sK, kg, a.ks[2], 0, a.Lk);
    load_tile<T, D, kBN>(sV, vg, a.vs[2], 0, a.Lk);
  }
  cp_async_commit();

  // Warp rows: 16 * MT from wr0 = 16 * MT * warp. In row tile mt the thread holds rows
  // r_lo[mt] = m0 + wr0 + 16 * mt + lane / 4 and r_lo[mt] + 8, columns 2 * (lane % 4) + {0, 1} of
  // each 8-wide n tile (the mma accumulator layout).
  const int wr0 = 16 * MT * warp;
  const float sl2 = a.scale * kLog2e;  // scores in the log2 domain
  float o[MT][D / 8][4];
  float m_r[MT][2], l_r[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int i = 0; i < D / 8; ++i) o[mt][i][0] = o[mt][i][1] = o[mt][i][2] = o[mt][i][3] = 0.0f;
    m_r[mt][0] = m_r[mt][1] = -INFINITY;
    l_r[mt][0] = l_r[mt][1] = 0.0f;
  }
  // A-operand (Q) address of row tile mt, k step kk: ldmatrix rows 0-7 / 8-15 x columns +0 / +8.
  auto q_frag_ptr = [&](int mt, int kk) {
    return sQ + (wr0 + 16 * mt + (lane % 8) + ((lane / 8) % 2) * 8) * kS + kk * 16 + (lane / 16) * 8;
  };
  uint32_t qf[kQInRegs ? D / 16 : 1][4];

  for (int t = 0; t < n_tiles; ++t) {
    if (t + 1 < n_tiles) {
      int nb = (t + 1) & 1;
      load_tile<T, D, kBN>(sK + nb * kBN * kS, kg, a.ks[2], (t + 1) * kBN, a.Lk);
      load_tile<T, D, kBN>(sV + nb * kBN * kS, vg, a.vs[2], (t + 1) * kBN, a.Lk);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if constexpr (kQInRegs) {
      if (t == 0) {
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) ldmatrix_x4(qf[kk], q_frag_ptr(0, kk));
      }
    }
    const T* cK = sK + (t & 1) * kBN * kS;
    const T* cV = sV + (t & 1) * kBN * kS;

    // S = Q K^T: per row tile (16 rows, 64 keys) as 8 n tiles.
    float s[MT][kBN / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int i = 0; i < kBN / 8; ++i) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.0f;
    }
#pragma unroll(kQInRegs || D <= 64 ? D / 16 : 1)  // rolled for MT 2, D 128: less spilling
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t qa[MT][4];
      if constexpr (!kQInRegs) {
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) ldmatrix_x4(qa[mt], q_frag_ptr(mt, kk));
      }
#pragma unroll
      for (int np = 0; np < kBN / 16; ++np) {
        uint32_t kf[4];  // keys np*16 + 0-7 / 8-15 x features kk*16 + 0-7 / 8-15
        ldmatrix_x4(kf, cK + (np * 16 + (lane % 8) + (lane / 16) * 8) * kS + kk * 16 + ((lane / 8) % 2) * 8);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          const uint32_t* qk;
          if constexpr (kQInRegs) {
            qk = qf[kk];
          } else {
            qk = qa[mt];
          }
          mma_16816<T>(s[mt][2 * np], qk, kf[0], kf[1]);
          mma_16816<T>(s[mt][2 * np + 1], qk, kf[2], kf[3]);
        }
      }
    }

    // Scale, then mask where the tile needs it (key bounds, causal diagonal, mask array).
    const int n0 = t * kBN;
    const bool check = a.mask != nullptr || n0 + kBN > a.Lk || (a.causal && n0 + kBN - 1 > m0 + off);
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      const int r_lo = m0 + wr0 + 16 * mt + lane / 4;
#pragma unroll
      for (int nt = 0; nt < kBN / 8; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float x = s[mt][nt][e] * sl2;
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
          s[mt][nt][e] = x;
        }
      }
    }

    // Online softmax per row (the 4 lanes of a quad share a row); s becomes P.
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < kBN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * rr], s[mt][nt][2 * rr + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        float mn = fmaxf(m_r[mt][rr], mx);
        float mu = mn == -INFINITY ? 0.0f : mn;  // all masked so far: p = 0, no NaN
        float corr = fast_exp2(m_r[mt][rr] - mu);
        m_r[mt][rr] = mn;
        float ls = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kBN / 8; ++nt) {
          s[mt][nt][2 * rr] = fast_exp2(s[mt][nt][2 * rr] - mu);
          s[mt][nt][2 * rr + 1] = fast_exp2(s[mt][nt][2 * rr + 1] - mu);
          ls += s[mt][nt][2 * rr] + s[mt][nt][2 * rr + 1];
        }
        l_r[mt][rr] = l_r[mt][rr] * corr + ls;
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt) {
          o[mt][dt][2 * rr] *= corr;
          o[mt][dt][2 * rr + 1] *= corr;
        }
      }
    }

    // O += P V: P's accumulator layout is the A operand layout of the next mma (keys in 16-chunks);
    // packed to 16 bits first so the f32 scores are dead during the MMAs.
    uint32_t pa[kBN / 16][MT][4];
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        pa[kk][mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        pa[kk][mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        pa[kk][mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        pa[kk][mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
      }
    }
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t vf[4];  // keys kk*16 + 0-7 / 8-15 x features dp*16 + 0-7 / 8-15, transposed
        ldmatrix_x4_trans(vf, cV + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * kS + dp * 16 + (lane / 16) * 8);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma_16816<T>(o[mt][2 * dp], pa[kk][mt], vf[0], vf[1]);
          mma_16816<T>(o[mt][2 * dp + 1], pa[kk][mt], vf[2], vf[3]);
        }
      }
    }
    __syncthreads();  // the next iteration's loads overwrite this tile's buffers
  }
  cp_async_wait<0>();

  // Normalize and store (a row that saw no key is 0/0 = NaN).
  T* out = static_cast<T*>(a.out) + (static_cast<int64_t>(b) * a.Hq + h) * a.Lq * D;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      float l = l_r[mt][rr];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      float inv = l > 0.0f ? 1.0f / l : __int_as_float(0x7fc00000);
      int i = m0 + wr0 + 16 * mt + lane / 4 + 8 * rr;
      if (i < a.Lq) {
        T* orow = out + static_cast<int64_t>(i) * D + (lane % 4) * 2;
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt) {
          *reinterpret_cast<uint32_t*>(orow + dt * 8) = pack2<T>(o[mt][dt][2 * rr] * inv, o[mt][dt][2 * rr + 1] * inv);
        }
      }
    }
  }
}

template <typename T, int D, int MT>
void launch(const SdpaArgs& a, cudaStream_t st) {
  constexpr int BM = block_m<MT>();
  static const bool attr_set = [] {
    check_call(cudaFuncSetAttribute(flash_kernel<T, D, MT>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(smem_bytes<D, MT>())),
               "flash attention shared memory");
    return true;
  }();
  (void)attr_set;
  dim3 grid(static_cast<unsigned>(int64_t(a.B) * a.Hq), static_cast<unsigned>((a.Lq + BM - 1) / BM));
  flash_kernel<T, D, MT><<<grid, kThreads, smem_bytes<D, MT>(), st>>>(a);
  TESSERA_KERNEL_CHECK();
}

// Opt-in shared memory per block of the current device (cached; 99 KB on sm_86/89, 227 KB on sm_90).
size_t max_smem_optin() {
  static const size_t n = [] {
    int dev = 0, v = 0;
    check_call(cudaGetDevice(&dev), "flash attention device");
    check_call(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "flash attention smem");
    return static_cast<size_t>(v);
  }();
  return n;
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
  if (int64_t(a.B) * a.Hq > 0x7fffffff || (a.Lq + 63) / 64 > 65535) return false;
  if (!rows_aligned(a.q, a.qs, 8) || !rows_aligned(a.k, a.ks, 8) || !rows_aligned(a.v, a.vs, 8)) return false;
  return (a.D == 64 ? smem_bytes<64, 1>() : smem_bytes<128, 1>()) <= max_smem_optin();
}

void sdpa_flash(int dt, const SdpaArgs& a, cudaStream_t st, int rows_per_warp) {
  if (int64_t(a.B) * a.Hq * a.Lq == 0) return;
  // 32 rows per warp unless 16 are asked for or the 128-row tiles don't fit the device's shared memory.
  bool mt1 = rows_per_warp == 16 ||
             (a.D == 64 ? smem_bytes<64, 2>() : smem_bytes<128, 2>()) > max_smem_optin();
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_same_v<T, float>) {
      if (a.D == 64) {
        mt1 ? launch<T, 64, 1>(a, st) : launch<T, 64, 2>(a, st);
      } else {
        mt1 ? launch<T, 128, 1>(a, st) : launch<T, 128, 2>(a, st);
      }
    }
  });
}

}  // namespace tessera::cuda
