// CUDA scaled dot-product attention, the generic fallback of kernels_attention.h (any D <= 256,
// f32 prefill, unaligned rows): one block per query row, its warps splitting the keys, each with an
// online softmax; the warps' partial results are merged at the end (causal, GQA, masks).
#include "tessera/backend/cuda/kernels/common.cuh"

namespace tessera::cuda {

namespace {

constexpr int kWarps = 4;

template <typename T, int EPL>
__global__ void sdpa_kernel(SdpaArgs a) {
  int64_t r = blockIdx.x;  // (b, h, i) row
  int i = static_cast<int>(r % a.Lq);
  int h = static_cast<int>((r / a.Lq) % a.Hq);
  int b = static_cast<int>(r / (int64_t(a.Lq) * a.Hq));
  int kvh = h / (a.Hq / a.Hkv);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const T* q = static_cast<const T*>(a.q) + b * a.qs[0] + h * a.qs[1] + i * a.qs[2];
  const T* kb = static_cast<const T*>(a.k) + b * a.ks[0] + kvh * a.ks[1];
  const T* vb = static_cast<const T*>(a.v) + b * a.vs[0] + kvh * a.vs[1];
  float qr[EPL], acc[EPL];
#pragma unroll
  for (int e = 0; e < EPL; ++e) {
    int c = lane + 32 * e;
    qr[e] = c < a.D ? to_f(q[c]) * a.scale : 0.0f;
    acc[e] = 0.0f;
  }
  int jend = a.causal ? min(max(i + a.Lk - a.Lq + 1, 0), a.Lk) : a.Lk;
  float m = -INFINITY, l = 0.0f;
  for (int j = warp; j < jend; j += kWarps) {
    const T* kr = kb + j * a.ks[2];
    float s = 0.0f;
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      int c = lane + 32 * e;
      if (c < a.D) s += qr[e] * to_f(kr[c]);
    }
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (a.mask) {
      int64_t mo = b * a.ms[0] + h * a.ms[1] + i * a.ms[2] + j * a.ms[3];
      if (a.mask_dt == dt_bool) {
        if (!static_cast<const bool*>(a.mask)[mo]) s = -INFINITY;
      } else {
        s += static_cast<const float*>(a.mask)[mo];
      }
    }
    if (s == -INFINITY) continue;
    float m_new = fmaxf(m, s);
    float corr = expf(m - m_new);
    float p = expf(s - m_new);
    l = l * corr + p;
    const T* vr = vb + j * a.vs[2];
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      int c = lane + 32 * e;
      acc[e] = acc[e] * corr + (c < a.Dv ? p * to_f(vr[c]) : 0.0f);
    }
    m = m_new;
  }
  // Merge the warps: shared (m, l) per warp and acc per warp.
  __shared__ float sm[kWarps], sl[kWarps];
  __shared__ float sacc[kWarps][32 * EPL];
  if (lane == 0) {
    sm[warp] = m;
    sl[warp] = l;
  }
#pragma unroll
  for (int e = 0; e < EPL; ++e) sacc[warp][lane + 32 * e] = acc[e];
  __syncthreads();
  if (warp == 0) {
    float M = -INFINITY;
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, sm[w]);
    float L = 0.0f;
    float f[kWarps];
    for (int w = 0; w < kWarps; ++w) {
      f[w] = sm[w] == -INFINITY ? 0.0f : expf(sm[w] - M);
      L += sl[w] * f[w];
    }
    float inv = L > 0.0f ? 1.0f / L : __int_as_float(0x7fc00000);
    T* out = static_cast<T*>(a.out) + r * a.Dv;
#pragma unroll
    for (int e = 0; e < EPL; ++e) {
      int c = lane + 32 * e;
      if (c < a.Dv) {
        float v = 0.0f;
        for (int w = 0; w < kWarps; ++w) v += sacc[w][c] * f[w];
        out[c] = from_f<T>(v * inv);
      }
    }
  }
}

}  // namespace

bool sdpa_supported(int dt, int D, int Dv) {
  return (dt == dt_f32 || dt == dt_f16 || dt == dt_bf16) && D <= 256 && Dv <= 256 && D > 0 && Dv > 0;
}

void sdpa(int dt, const SdpaArgs& a, cudaStream_t st) {
  int64_t rows = int64_t(a.B) * a.Hq * a.Lq;
  if (rows == 0) return;
  int d = a.D > a.Dv ? a.D : a.Dv;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    unsigned grid = static_cast<unsigned>(rows);
    if (d <= 64) sdpa_kernel<T, 2><<<grid, 32 * kWarps, 0, st>>>(a);
    else if (d <= 128) sdpa_kernel<T, 4><<<grid, 32 * kWarps, 0, st>>>(a);
    else sdpa_kernel<T, 8><<<grid, 32 * kWarps, 0, st>>>(a);
  });
  TESSERA_KERNEL_CHECK();
}

}  // namespace tessera::cuda
