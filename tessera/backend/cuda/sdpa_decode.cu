// Split-K attention for few query rows (flash-decoding): grid (B * Hkv * row groups, splits); each
// block scores one chunk of keys for up to 8 query rows of a GQA group (16-byte K/V loads, each key
// handled by D / (16 / sizeof(T)) lanes), writes partial (max, sum, acc) per row and split to a
// scratch buffer, and a second kernel merges the splits.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "tessera/backend/cuda/kernels/mma.cuh"
#include "tessera/backend/cuda/kernels_attention.h"

namespace tessera::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxRows = 8;  // query rows per block (a row group)

// Plan of a decode launch: rows per block R (power of two), row groups, splits and keys per split.
struct Plan {
  int R, groups, splits, chunk;
};

int sm_count() {
  static const int n = [] {
    int dev = 0, v = 0;
    check_call(cudaGetDevice(&dev), "attention decode device");
    check_call(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev), "attention decode SM count");
    return v > 0 ? v : 1;
  }();
  return n;
}

// 16 bytes of T as floats.
template <typename T>
__device__ __forceinline__ void unpack(const uint4& u, float* f) {
  if constexpr (std::is_same_v<T, float>) {
    f[0] = __uint_as_float(u.x);
    f[1] = __uint_as_float(u.y);
    f[2] = __uint_as_float(u.z);
    f[3] = __uint_as_float(u.w);
  } else {
    const T* h = reinterpret_cast<const T*>(&u);
#pragma unroll
    for (int e = 0; e < 8; ++e) f[e] = to_f(h[e]);
  }
}

// part_ml: (B, Hq, Lq, splits, 2) of (max in log2 units, sum); part_acc: (B, Hq, Lq, splits, D).
// PF: the K/V registers of the next key step are loaded before the current step is scored, so a
// block keeps its loads in flight through the arithmetic (more bytes in flight per SM); with 4
// rows ptxas is then held to 168 registers so that 3 blocks stay resident per SM.
template <typename T, int D, int R, bool PF>
__global__ void __launch_bounds__(kWarps * 32, (PF && R == 4) ? 3 : 1)
    decode_partial(SdpaArgs a, Plan p, float* part_ml, float* part_acc) {
  constexpr int kVec = 16 / static_cast<int>(sizeof(T));  // elements per 16-byte load
  constexpr int kLpk = D / kVec;                          // lanes per key
  constexpr int kKpw = 32 / kLpk;                         // keys per warp step
  constexpr int kNg = kWarps * kKpw;                      // key groups per block
  constexpr int kU = R >= 8 ? 2 : 4;                      // keys per group per iteration
  static_assert(kLpk <= 32 && 32 % kLpk == 0, "head dim / vector width");
  __shared__ float s_m[R][kNg], s_l[R][kNg];
  __shared__ float s_acc[R][kNg][D];

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int kg = warp * kKpw + lane / kLpk;  // this lane's key group
  const int d0 = (lane % kLpk) * kVec;       // this lane's first feature
  const int rg = blockIdx.x % p.groups;
  const int kvh = (blockIdx.x / p.groups) % a.Hkv;
  const int b = blockIdx.x / (p.groups * a.Hkv);
  const int split = blockIdx.y;
  const int G = a.Hq / a.Hkv, nrows = G * a.Lq;
  const int off = a.Lk - a.Lq;
  const float sl2 = a.scale * kLog2e;

  // Rows r0 + r of the group's (head, query) rows: row rr is head kvh * G + rr / Lq, query rr % Lq.
  const int r0 = rg * R;
  float q[R][kVec], acc[R][kVec], m[R], l[R];
  int qi[R];
  int64_t mrow[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    int rr = min(r0 + r, nrows - 1);  // rows past nrows repeat the last one and are not stored
    int h = kvh * G + rr / a.Lq, i = rr % a.Lq;
    qi[r] = i;
    mrow[r] = b * a.ms[0] + h * a.ms[1] + i * a.ms[2];
    const T* qp = static_cast<const T*>(a.q) + b * a.qs[0] + h * a.qs[1] + i * a.qs[2] + d0;
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      q[r][e] = to_f(qp[e]) * sl2;
      acc[r][e] = 0.0f;
    }
    m[r] = -INFINITY;
    l[r] = 0.0f;
  }

  const int k_begin = split * p.chunk, k_end = min(a.Lk, k_begin + p.chunk);
  const T* kb = static_cast<const T*>(a.k) + b * a.ks[0] + kvh * a.ks[1] + d0;
  const T* vb = static_cast<const T*>(a.v) + b * a.vs[0] + kvh * a.vs[1] + d0;
  // A boolean mask shared by every row (a static-shape decode step masks the cache slots past its
  // position): masked keys are not read at all.
  const bool* kmask = a.mask != nullptr && a.mask_dt == dt_bool && a.ms[0] == 0 && a.ms[1] == 0 && a.ms[2] == 0
                          ? static_cast<const bool*>(a.mask)
                          : nullptr;
  // K/V rows of key step j0 (keys j0 + u * kNg + kg; zeros past k_end or masked, nothing read).
  auto load = [&](int j0, uint4* kr, uint4* vr) {
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      int j = j0 + u * kNg + kg;
      if (j < k_end && (kmask == nullptr || kmask[j * a.ms[3]])) {
        kr[u] = __ldg(reinterpret_cast<const uint4*>(kb + j * a.ks[2]));
        vr[u] = __ldg(reinterpret_cast<const uint4*>(vb + j * a.vs[2]));
      } else {
        kr[u] = vr[u] = make_uint4(0, 0, 0, 0);
      }
    }
  };
  uint4 kr[kU], vr[kU];
  if constexpr (PF) load(k_begin, kr, vr);
  for (int j0 = k_begin; j0 < k_end; j0 += kNg * kU) {
    uint4 kn[kU], vn[kU];
    if constexpr (PF) {
      load(j0 + kNg * kU, kn, vn);
    } else {
      load(j0, kr, vr);
    }
    // Scores (log2 units) of this group's kU keys for every row.
    float s[kU][R];
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      float kf[kVec];
      unpack<T>(kr[u], kf);
      int j = j0 + u * kNg + kg;
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float x = 0.0f;
#pragma unroll
        for (int e = 0; e < kVec; ++e) x += q[r][e] * kf[e];
#pragma unroll
        for (int o = kLpk / 2; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
        if (j >= k_end || (a.causal && j > qi[r] + off)) {
          x = -INFINITY;
        } else if (a.mask != nullptr) {
          int64_t mo = mrow[r] + j * a.ms[3];
          if (a.mask_dt == dt_bool) {
            if (!static_cast<const bool*>(a.mask)[mo]) x = -INFINITY;
          } else {
            x += static_cast<const float*>(a.mask)[mo] * kLog2e;
          }
        }
        s[u][r] = x;
      }
    }
    // One online-softmax step per row over the kU keys; s becomes the weights.
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float mx = s[0][r];
#pragma unroll
      for (int u = 1; u < kU; ++u) mx = fmaxf(mx, s[u][r]);
      float mn = fmaxf(m[r], mx);
      float mu = mn == -INFINITY ? 0.0f : mn;
      float corr = fast_exp2(m[r] - mu);
      m[r] = mn;
      l[r] *= corr;
#pragma unroll
      for (int e = 0; e < kVec; ++e) acc[r][e] *= corr;
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        s[u][r] = fast_exp2(s[u][r] - mu);
        l[r] += s[u][r];
      }
    }
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      float vf[kVec];
      unpack<T>(vr[u], vf);
#pragma unroll
      for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int e = 0; e < kVec; ++e) acc[r][e] += s[u][r] * vf[e];
      }
    }
    if constexpr (PF) {
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        kr[u] = kn[u];
        vr[u] = vn[u];
      }
    }
  }

  // Merge the key groups of the block, then store this split's partials.
#pragma unroll
  for (int r = 0; r < R; ++r) {
    if (lane % kLpk == 0) {
      s_m[r][kg] = m[r];
      s_l[r][kg] = l[r];
    }
#pragma unroll
    for (int e = 0; e < kVec; ++e) s_acc[r][kg][d0 + e] = acc[r][e];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < R * D; idx += kWarps * 32) {
    int r = idx / D, d = idx % D, rr = r0 + r;
    if (rr >= nrows) continue;
    float M = -INFINITY;
    for (int g = 0; g < kNg; ++g) M = fmaxf(M, s_m[r][g]);
    float L = 0.0f, A = 0.0f;
    for (int g = 0; g < kNg; ++g) {
      float w = s_m[r][g] == -INFINITY ? 0.0f : fast_exp2(s_m[r][g] - M);
      L += s_l[r][g] * w;
      A += s_acc[r][g][d] * w;
    }
    int64_t row = (int64_t(b) * a.Hq + kvh * G + rr / a.Lq) * a.Lq + rr % a.Lq;
    int64_t part = row * p.splits + split;
    part_acc[part * D + d] = A;
    if (d == 0) {
      part_ml[part * 2] = M;
      part_ml[part * 2 + 1] = L;
    }
  }
}

// One block of D threads per output row (b, h, i): out = sum_s acc_s w_s / sum_s l_s w_s with
// w_s = 2^(m_s - max m); NaN when no split saw a key.
template <typename T, int D>
__global__ void __launch_bounds__(D)
    decode_merge(const float* part_ml, const float* part_acc, T* out, int splits) {
  const int64_t row = blockIdx.x;
  const int d = threadIdx.x;
  const float* ml = part_ml + row * splits * 2;
  const float* pa = part_acc + row * splits * D + d;
  // Unrolled so that several splits' loads are in flight at once (the merge is latency bound).
  float M = -INFINITY;
#pragma unroll 8
  for (int s = 0; s < splits; ++s) M = fmaxf(M, ml[2 * s]);
  float L = 0.0f, A = 0.0f;
#pragma unroll 8
  for (int s = 0; s < splits; ++s) {
    float w = ml[2 * s] == -INFINITY ? 0.0f : fast_exp2(ml[2 * s] - M);
    L += ml[2 * s + 1] * w;
    A += pa[int64_t(s) * D] * w;
  }
  out[row * D + d] = from_f<T>(L > 0.0f ? A / L : __int_as_float(0x7fc00000));
}

template <typename T, int D, int R>
int occupancy() {
  static const int n = [] {
    int v = 0;
    // The prefetching kernel (more registers) bounds the plan of both.
    check_call(
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&v, decode_partial<T, D, R, true>, kWarps * 32, 0),
        "attention decode occupancy");
    return v > 0 ? v : 1;
  }();
  return n;
}

template <typename T, int D>
int blocks_per_sm(int R) {
  switch (R) {
    case 1:
      return occupancy<T, D, 1>();
    case 2:
      return occupancy<T, D, 2>();
    case 4:
      return occupancy<T, D, 4>();
    default:
      return occupancy<T, D, 8>();
  }
}

// About one full wave of blocks: splits = (SMs * resident blocks per SM) / (B * Hkv * row groups).
Plan make_plan(int dt, const SdpaArgs& a) {
  Plan p{};
  int rows = (a.Hq / a.Hkv) * a.Lq;
  p.R = 1;
  while (p.R < rows && p.R < kMaxRows) p.R *= 2;
  p.groups = (rows + p.R - 1) / p.R;
  int bps = 1;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    bps = a.D == 64 ? blocks_per_sm<T, 64>(p.R) : blocks_per_sm<T, 128>(p.R);
  });
  int64_t base = int64_t(a.B) * a.Hkv * p.groups;
  int64_t target = int64_t(sm_count()) * bps;
  int64_t splits = std::max<int64_t>(1, target / base);
  int64_t chunk = std::max<int64_t>(16, (a.Lk + splits - 1) / splits);
  p.chunk = static_cast<int>(chunk);
  p.splits = static_cast<int>((a.Lk + chunk - 1) / chunk);
  return p;
}

template <typename T, int D, int R>
void launch_partial(const SdpaArgs& a, const Plan& p, float* ml, float* acc, bool prefetch, cudaStream_t st) {
  dim3 grid(static_cast<unsigned>(int64_t(a.B) * a.Hkv * p.groups), static_cast<unsigned>(p.splits));
  if (prefetch) {
    decode_partial<T, D, R, true><<<grid, kWarps * 32, 0, st>>>(a, p, ml, acc);
  } else {
    decode_partial<T, D, R, false><<<grid, kWarps * 32, 0, st>>>(a, p, ml, acc);
  }
}

template <typename T, int D>
void launch(int dt, const SdpaArgs& a, void* scratch, bool prefetch, cudaStream_t st) {
  Plan p = make_plan(dt, a);
  int64_t rows = int64_t(a.B) * a.Hq * a.Lq;
  float* ml = static_cast<float*>(scratch);
  float* acc = ml + rows * p.splits * 2;
  switch (p.R) {
    case 1:
      launch_partial<T, D, 1>(a, p, ml, acc, prefetch, st);
      break;
    case 2:
      launch_partial<T, D, 2>(a, p, ml, acc, prefetch, st);
      break;
    case 4:
      launch_partial<T, D, 4>(a, p, ml, acc, prefetch, st);
      break;
    default:
      launch_partial<T, D, 8>(a, p, ml, acc, prefetch, st);
      break;
  }
  TESSERA_KERNEL_CHECK();
  decode_merge<T, D><<<static_cast<unsigned>(rows), D, 0, st>>>(ml, acc, static_cast<T*>(a.out), p.splits);
  TESSERA_KERNEL_CHECK();
}

bool kv_aligned(const void* p, const int64_t s[4], int vec) {
  return (reinterpret_cast<uintptr_t>(p) & 15) == 0 && s[0] % vec == 0 && s[1] % vec == 0 &&
         s[2] % vec == 0 && s[3] == 1;
}

}  // namespace

bool sdpa_decode_supported(int dt, const SdpaArgs& a) {
  if (dt != dt_f32 && dt != dt_f16 && dt != dt_bf16) return false;
  if (a.D != a.Dv || (a.D != 64 && a.D != 128)) return false;
  if (a.Lq < 1 || a.Lq > kDecodeMaxLq || a.Lk < 1 || a.Hkv <= 0 || a.Hq % a.Hkv != 0) return false;
  if (a.qs[3] != 1) return false;
  int vec = dt == dt_f32 ? 4 : 8;
  if (int64_t(a.B) * a.Hq * a.Lq > 0x7fffffff || int64_t(a.B) * a.Hq * kMaxRows > 0x7fffffff) return false;
  return kv_aligned(a.k, a.ks, vec) && kv_aligned(a.v, a.vs, vec);
}

size_t sdpa_decode_scratch_bytes(int dt, const SdpaArgs& a) {
  Plan p = make_plan(dt, a);
  return static_cast<size_t>(a.B) * a.Hq * a.Lq * p.splits * (a.D + 2) * sizeof(float);
}

bool sdpa_decode_prefetch_default() {
  static const bool on = [] {
    const char* e = std::getenv("TESSERA_SDPA_DECODE_PREFETCH");
    return e == nullptr || std::strcmp(e, "0") != 0;
  }();
  return on;
}

void sdpa_decode(int dt, const SdpaArgs& a, void* scratch, cudaStream_t st, int prefetch) {
  if (int64_t(a.B) * a.Hq * a.Lq == 0) return;
  bool pf = prefetch < 0 ? sdpa_decode_prefetch_default() : prefetch != 0;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    a.D == 64 ? launch<T, 64>(dt, a, scratch, pf, st) : launch<T, 128>(dt, a, scratch, pf, st);
  });
}

}  // namespace tessera::cuda
