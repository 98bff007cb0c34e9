// FlashAttention-2 style prefill kernel (f16/bf16, head dim 64/128) in a few tilings (variants): blocks
// of 4 or 8 warps of 16 or 32 query rows, 32- or 64-key K/V tiles in a 2- or 3-stage cp.async ring (one
// barrier per tile), S = Q K^T and O += P V on tensor cores (mma.sync m16n8k16, P stays in registers),
// online softmax in f32 registers with the scale folded into exp2, causal tiles past the diagonal
// skipped, GQA by q head -> kv head, optional bool/additive mask.
#include <cmath>
#include <cstdlib>

#include "tessera/backend/cuda/kernels/mma.cuh"
#include "tessera/backend/cuda/kernels_attention.h"

namespace tessera::cuda {

namespace {

// One tiling of the kernel: W warps of 16 * MT query rows (a block of BM = 16 * W * MT rows), BN-key
// K/V tiles in a STAGES-deep cp.async ring, Q fragments kept in registers (QREG, MT 1 only) or
// re-read from shared memory per 16-wide k step, MINB resident blocks per SM asked of ptxas.
template <int MT_, int W_, int BN_, int STAGES_, bool QREG_, int MINB_>
struct Cfg {
  static constexpr int MT = MT_, W = W_, BN = BN_, STAGES = STAGES_, MINB = MINB_;
  static constexpr bool QREG = QREG_;
  static constexpr int kThreads = 32 * W;
  static constexpr int BM = 16 * W * MT;
  static_assert(!QREG || MT == 1, "Q in registers only with one row tile per warp");
  static_assert(STAGES >= 2 && BN % 16 == 0, "pipeline / key tile");
};

// Shared-memory row stride (elements): 16 bytes of padding so 8 consecutive rows of one 16-byte
// column fall in distinct banks for ldmatrix.
template <int D>
__host__ __device__ constexpr int row_stride() {
  return D + 8;
}
template <int D, typename C>
constexpr size_t smem_bytes() {
  return static_cast<size_t>(C::BM + 2 * C::STAGES * C::BN) * row_stride<D>() * 2;
}

// rows [row0, row0 + ROWS) of a (rows, D) operand with row stride `rs` into shared `dst` by
// THREADS threads; rows at or past `nrows` become zeros.
template <typename T, int D, int ROWS, int THREADS>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t rs, int row0, int nrows) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kS = row_stride<D>();
  static_assert(ROWS * kChunks % THREADS == 0, "tile / threads");
#pragma unroll
  for (int it = 0; it < ROWS * kChunks / THREADS; ++it) {
    int c = threadIdx.x + it * THREADS;
    int r = c / kChunks, ch = c % kChunks;
    bool ok = row0 + r < nrows;
    const T* g = ok ? src + static_cast<int64_t>(row0 + r) * rs + ch * 8 : src;
    cp_async16(dst + r * kS + ch * 8, g, ok);
  }
}

template <typename T, int D, typename C>
__global__ void __launch_bounds__(C::kThreads, C::MINB) flash_kernel(SdpaArgs a) {
  constexpr int kS = row_stride<D>();
  constexpr int MT = C::MT, kBN = C::BN, kBM = C::BM, kSt = C::STAGES, kThreads = C::kThreads;
  constexpr bool kQInRegs = C::QREG;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);  // (kBM, kS)
  T* sK = sQ + kBM * kS;                   // kSt x (kBN, kS)
  T* sV = sK + kSt * kBN * kS;             // kSt x (kBN, kS)

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

  // Prologue: Q and tiles 0 .. kSt - 2, one commit group per tile (Q rides with tile 0); groups
  // are committed even when empty so that tile t is always group t.
  load_tile<T, D, kBM, kThreads>(sQ, qg, a.qs[2], m0, a.Lq);
#pragma unroll
  for (int s = 0; s < kSt - 1; ++s) {
    if (s < n_tiles) {
      load_tile<T, D, kBN, kThreads>(sK + s * kBN * kS, kg, a.ks[2], s * kBN, a.Lk);
      load_tile<T, D, kBN, kThreads>(sV + s * kBN * kS, vg, a.vs[2], s * kBN, a.Lk);
    }
    cp_async_commit();
  }

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
    // Tile t (group t) has landed for this thread; the barrier makes it visible to all and also
    // guarantees every warp is done with tile t - 1, whose ring slot the next load reuses.
    cp_async_wait<kSt - 2>();
    __syncthreads();
    {
      const int tn = t + kSt - 1;
      if (tn < n_tiles) {
        const int sb = tn % kSt;
        load_tile<T, D, kBN, kThreads>(sK + sb * kBN * kS, kg, a.ks[2], tn * kBN, a.Lk);
        load_tile<T, D, kBN, kThreads>(sV + sb * kBN * kS, vg, a.vs[2], tn * kBN, a.Lk);
      }
      cp_async_commit();
    }
    if constexpr (kQInRegs) {
      if (t == 0) {
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) ldmatrix_x4(qf[kk], q_frag_ptr(0, kk));
      }
    }
    const T* cK = sK + (t % kSt) * kBN * kS;
    const T* cV = sV + (t % kSt) * kBN * kS;
    // S = Q K^T: per row tile (16 rows, kBN keys) as kBN / 8 n tiles.
    float s[MT][kBN / 8][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
      for (int i = 0; i < kBN / 8; ++i) s[mt][i][0] = s[mt][i][1] = s[mt][i][2] = s[mt][i][3] = 0.0f;
    }
#pragma unroll(MT == 1 || D <= 64 || kBN <= 32 ? D / 16 : 1)  // rolled for MT 2, D 128, 64 keys: spills
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

    // Tiles that need masking (key bounds, causal diagonal, mask array) are scaled and masked
    // here; the others keep raw scores and fold the scale into the exponent (one FFMA per score,
    // valid while the scale is positive so that the row max commutes with it).
    const int n0 = t * kBN;
    const bool check = a.mask != nullptr || n0 + kBN > a.Lk || (a.causal && n0 + kBN - 1 > m0 + off);
    const bool fold = !check && sl2 > 0.0f;
    const float sc = fold ? sl2 : 1.0f;
    if (!fold) {
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
    }

    // Online softmax per row (the 4 lanes of a quad share a row); s becomes P. O is rescaled only
    // where some row of the warp got a new maximum (corr != 1), a warp-uniform branch.
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      float corr2[2];
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < kBN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[mt][nt][2 * rr], s[mt][nt][2 * rr + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        mx *= sc;
        float mn = fmaxf(m_r[mt][rr], mx);
        float mu = mn == -INFINITY ? 0.0f : mn;  // all masked so far: p = 0, no NaN
        float corr = fast_exp2(m_r[mt][rr] - mu);
        m_r[mt][rr] = mn;
        float ls = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kBN / 8; ++nt) {
          s[mt][nt][2 * rr] = fast_exp2(fmaf(s[mt][nt][2 * rr], sc, -mu));
          s[mt][nt][2 * rr + 1] = fast_exp2(fmaf(s[mt][nt][2 * rr + 1], sc, -mu));
          ls += s[mt][nt][2 * rr] + s[mt][nt][2 * rr + 1];
        }
        l_r[mt][rr] = l_r[mt][rr] * corr + ls;
        corr2[rr] = corr;
      }
      if (__any_sync(0xffffffffu, corr2[0] != 1.0f || corr2[1] != 1.0f)) {
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt) {
          o[mt][dt][0] *= corr2[0];
          o[mt][dt][1] *= corr2[0];
          o[mt][dt][2] *= corr2[1];
          o[mt][dt][3] *= corr2[1];
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
        ldmatrix_x4_trans(
            vf, cV + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * kS + dp * 16 + (lane / 16) * 8);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma_16816<T>(o[mt][2 * dp], pa[kk][mt], vf[0], vf[1]);
          mma_16816<T>(o[mt][2 * dp + 1], pa[kk][mt], vf[2], vf[3]);
        }
      }
    }
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
          *reinterpret_cast<uint32_t*>(orow + dt * 8) =
              pack2<T>(o[mt][dt][2 * rr] * inv, o[mt][dt][2 * rr + 1] * inv);
        }
      }
    }
  }
}

template <typename T, int D, typename C>
void launch(const SdpaArgs& a, cudaStream_t st) {
  static const bool attr_set = [] {
    check_call(cudaFuncSetAttribute(flash_kernel<T, D, C>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(smem_bytes<D, C>())),
               "flash attention shared memory");
    return true;
  }();
  (void)attr_set;
  dim3 grid(static_cast<unsigned>(int64_t(a.B) * a.Hq), static_cast<unsigned>((a.Lq + C::BM - 1) / C::BM));
  flash_kernel<T, D, C><<<grid, C::kThreads, smem_bytes<D, C>(), st>>>(a);
  TESSERA_KERNEL_CHECK();
}

// The tilings, by variant index (kFlashVariantNames of kernels_attention.h names them):
//   0 4 warps x 16 rows, 64-key tiles, 2 stages, Q in registers, 2 blocks/SM (the previous 16-row tiling)
//   1 4 warps x 32 rows, 64-key tiles, 2 stages, Q from shared memory (the previous 32-row tiling)
//   2 8 warps x 16 rows (128-row blocks: half the K/V traffic per query row), 2 stages, Q in registers
//   3 as 2 with a 3-stage K/V ring
//   4 4 warps x 16 rows, 32-key tiles, 2 stages, Q in registers, 3 blocks/SM (170 registers)
//   5 4 warps x 32 rows, 32-key tiles, 2 stages, Q from shared memory (fewer score registers than
//     1, so the k loop stays unrolled)
using Cfg0 = Cfg<1, 4, 64, 2, true, 2>;
using Cfg1 = Cfg<2, 4, 64, 2, false, 2>;
using Cfg2 = Cfg<1, 8, 64, 2, true, 1>;
using Cfg3 = Cfg<1, 8, 64, 3, true, 1>;
using Cfg4 = Cfg<1, 4, 32, 2, true, 3>;
using Cfg5 = Cfg<2, 4, 32, 2, false, 2>;

// f(Cfg) for variant v (0 .. kFlashVariants - 1).
template <typename F>
void with_cfg(int v, F&& f) {
  switch (v) {
    case 0:
      f(Cfg0{});
      break;
    case 1:
      f(Cfg1{});
      break;
    case 2:
      f(Cfg2{});
      break;
    case 3:
      f(Cfg3{});
      break;
    case 4:
      f(Cfg4{});
      break;
    default:
      f(Cfg5{});
      break;
  }
}
static_assert(kFlashVariants == 6, "variant table");

size_t variant_smem(int v, int D) {
  size_t n = 0;
  with_cfg(v, [&](auto c) {
    using C = decltype(c);
    n = D == 64 ? smem_bytes<64, C>() : smem_bytes<128, C>();
  });
  return n;
}

// Opt-in shared memory per block of the current device (cached; 99 KB on sm_86/89, 227 KB on sm_90).
size_t max_smem_optin() {
  static const size_t n = [] {
    int dev = 0, v = 0;
    check_call(cudaGetDevice(&dev), "flash attention device");
    check_call(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev),
               "flash attention smem");
    return static_cast<size_t>(v);
  }();
  return n;
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }
bool rows_aligned(const void* p, const int64_t s[4], int vec) {
  return aligned16(p) && s[0] % vec == 0 && s[1] % vec == 0 && s[2] % vec == 0 && s[3] == 1;
}

}  // namespace

int sdpa_flash_default_variant() {
  static const int v = [] {
    const char* e = std::getenv("TESSERA_SDPA_FLASH_VARIANT");
    if (e != nullptr && *e != '\0') {
      char* end = nullptr;
      long n = std::strtol(e, &end, 10);
      if (*end == '\0' && n >= 0 && n < kFlashVariants) return static_cast<int>(n);
    }
    return kFlashDefaultVariant;
  }();
  return v;
}

bool sdpa_flash_supported(int dt, const SdpaArgs& a) {
  if (dt != dt_f16 && dt != dt_bf16) return false;
  if (a.D != a.Dv || (a.D != 64 && a.D != 128)) return false;
  if (a.Hkv <= 0 || a.Hq % a.Hkv != 0) return false;
  if (int64_t(a.B) * a.Hq > 0x7fffffff || (a.Lq + 63) / 64 > 65535) return false;
  if (!rows_aligned(a.q, a.qs, 8) || !rows_aligned(a.k, a.ks, 8) || !rows_aligned(a.v, a.vs, 8)) return false;
  return variant_smem(0, a.D) <= max_smem_optin();  // variant 0 (the smallest 64-key one) always fits then
}

void sdpa_flash(int dt, const SdpaArgs& a, cudaStream_t st, int variant) {
  if (int64_t(a.B) * a.Hq * a.Lq == 0) return;
  int v = variant >= 0 && variant < kFlashVariants ? variant : sdpa_flash_default_variant();
  if (variant_smem(v, a.D) > max_smem_optin()) v = 0;  // e.g. 99 KB per block on sm_86/89
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    if constexpr (!std::is_same_v<T, float>) {
      with_cfg(v, [&](auto c) {
        using C = decltype(c);
        a.D == 64 ? launch<T, 64, C>(a, st) : launch<T, 128, C>(a, st);
      });
    }
  });
}

}  // namespace tessera::cuda
