// CPU affine quantized matmul: fused GEMV for few rows (unpack in registers), tiled dequant + sgemm else.
#include <algorithm>
#include <vector>

#include "tessera/backend/cpu/quantized_common.h"
#include "tessera/backend/cpu/quantized_int8.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/quantized.h"

namespace tessera {

using namespace cpu::quant;

namespace {

// Rows of x at most this many take the fused GEMV path (transpose = true).
constexpr int64_t kGemvMaxRows = 4;

struct QMatArgs {
  const float* x;       // (MR, K) rows, ld K
  const float* xsum;    // (MR, G) per-group sums of x
  const uint8_t* w;     // (N, K*bits/8)
  const char* scales;  // (N, G) of sdt
  const char* biases;  // (N, G) of sdt
  Dtype sdt;
  int64_t K, N, G;
  int gs;
  float* out;  // (MR, N), ld N
};

// out[m, n] = sum_g scale[n,g] * (q[n, g-th group] . x[m, group]) + bias[n,g] * xsum[m, g].
template <int bits, int MR>
void gemv_t(const QMatArgs& a, int64_t n0, int64_t n1) {
  int64_t row_bytes = a.K * bits / 8;
  std::vector<float> sc(a.G), bi(a.G);
  for (int64_t n = n0; n < n1; ++n) {
    const float* s;
    const float* b;
    if (a.sdt == float32) {
      s = reinterpret_cast<const float*>(a.scales) + n * a.G;
      b = reinterpret_cast<const float*>(a.biases) + n * a.G;
    } else {
      to_float(a.scales + n * a.G * 2, a.sdt, sc.data(), a.G);
      to_float(a.biases + n * a.G * 2, a.sdt, bi.data(), a.G);
      s = sc.data();
      b = bi.data();
    }
    const uint8_t* wp = a.w + n * row_bytes;
    v8f acc[MR];
    float bacc[MR];
    for (int m = 0; m < MR; ++m) {
      acc[m] = v8f{};
      bacc[m] = 0;
    }
    for (int64_t g = 0; g < a.G; ++g) {
      v8f gacc[MR];
      for (int m = 0; m < MR; ++m) gacc[m] = v8f{};
      const float* xg = a.x + g * a.gs;
      for (int c = 0; c < a.gs; c += 8) {
        v8f q = unpack8<bits>(wp);
        wp += bits;
        for (int m = 0; m < MR; ++m) gacc[m] += q * load8(xg + m * a.K + c);
      }
      for (int m = 0; m < MR; ++m) {
        acc[m] += s[g] * gacc[m];
        bacc[m] += b[g] * a.xsum[m * a.G + g];
      }
    }
    for (int m = 0; m < MR; ++m) a.out[m * a.N + n] = hsum(acc[m]) + bacc[m];
  }
}

template <int bits>
void gemv_dispatch_rows(const QMatArgs& a, int mr, int64_t n0, int64_t n1) {
  switch (mr) {
    case 1:
      return gemv_t<bits, 1>(a, n0, n1);
    case 2:
      return gemv_t<bits, 2>(a, n0, n1);
    case 3:
      return gemv_t<bits, 3>(a, n0, n1);
    default:
      return gemv_t<bits, 4>(a, n0, n1);
  }
}

void gemv(int bits, const QMatArgs& a, int mr, int64_t n0, int64_t n1) {
  switch (bits) {
    case 2:
      return gemv_dispatch_rows<2>(a, mr, n0, n1);
    case 3:
      return gemv_dispatch_rows<3>(a, mr, n0, n1);
    case 4:
      return gemv_dispatch_rows<4>(a, mr, n0, n1);
    case 5:
      return gemv_dispatch_rows<5>(a, mr, n0, n1);
    case 6:
      return gemv_dispatch_rows<6>(a, mr, n0, n1);
    case 8:
      return gemv_dispatch_rows<8>(a, mr, n0, n1);
  }
}

// One weight matrix: packed w (R, C * bits / 8 bytes), scales/biases (R, C / gs) of sdt.
struct QWeight {
  const uint8_t* w;
  const char* scales;
  const char* biases;
  Dtype sdt;
};

// Dequantized rows [r0, r1) of a packed (R, C) weight with float-convertible scales (R, C/gs).
RowDequant affine_rows(const QWeight& q, int64_t C, int gs, int bits) {
  return [q, C, gs, bits](int64_t r0, int64_t r1, float* dst) {
    int64_t G = C / gs, row_bytes = C * bits / 8;
    size_t isz = q.sdt.size;
    std::vector<float> sc(G), bi(G);
    for (int64_t r = r0; r < r1; ++r) {
      to_float(q.scales + r * G * isz, q.sdt, sc.data(), G);
      to_float(q.biases + r * G * isz, q.sdt, bi.data(), G);
      dequant_row(bits, q.w + r * row_bytes, sc.data(), bi.data(), C, gs, dst + (r - r0) * C);
    }
  };
}

// Float scales and biases (G each) of row n, for the int8 kernels.
struct AffineScales {
  QWeight q;
  int64_t G;
};
void affine_row_scales(const void* ctx, int64_t n, float* sc, float* bi) {
  auto& a = *static_cast<const AffineScales*>(ctx);
  size_t isz = a.q.sdt.size;
  to_float(a.q.scales + n * a.G * isz, a.q.sdt, sc, a.G);
  to_float(a.q.biases + n * a.G * isz, a.q.sdt, bi, a.G);
}

// o (M, N) float32 = xp (M, K) @ W^T (transpose, W (N, K)) or xp @ W (W (K, N)).
void qmm_one(const float* xp, const QWeight& q, bool transpose, int gs, int bits, int64_t M, int64_t N, int64_t K,
             float* o) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    std::fill(o, o + M * N, 0.0f);
  } else if (transpose && M <= kGemvMaxRows && affine_int8_requested() &&
             int8_affine_supported(cpu::cpu_isa(), bits, gs)) {
    // int8 activations (per block of 32) against the 4/8-bit codes: integer dot products per block
    // (AVX2 maddubs or AVX-512 VNNI vpdpbusd), scale and bias applied per group.
    cpu::CpuIsa isa = cpu::cpu_isa();
    Q8Act xq = quantize_act(xp, M, K, bits == 4);
    AffineScales ctx{q, K / gs};
    cpu::parallel_for(static_cast<size_t>(N), 16, [&](size_t n0, size_t n1) {
      int8_affine_rows(isa, bits, gs, q.w, affine_row_scales, &ctx, xq, 0, static_cast<int>(M),
                       static_cast<int64_t>(n0), static_cast<int64_t>(n1), o, N);
    });
  } else if (transpose && M <= kGemvMaxRows) {
    int64_t G = K / gs;
    std::vector<float> xsum(M * G);
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t g = 0; g < G; ++g) {
        float t = 0;
        for (int j = 0; j < gs; ++j) t += xp[m * K + g * gs + j];
        xsum[m * G + g] = t;
      }
    }
    QMatArgs a{xp, xsum.data(), q.w, q.scales, q.biases, q.sdt, K, N, G, gs, o};
    cpu::parallel_for(static_cast<size_t>(N), 16, [&](size_t n0, size_t n1) {
      for (int64_t m0 = 0; m0 < M; m0 += kGemvMaxRows) {
        QMatArgs am = a;
        am.x = xp + m0 * K;
        am.xsum = xsum.data() + m0 * G;
        am.out = o + m0 * N;
        gemv(bits, am, static_cast<int>(std::min<int64_t>(kGemvMaxRows, M - m0)), static_cast<int64_t>(n0),
             static_cast<int64_t>(n1));
      }
    });
  } else if (transpose) {
    tiled_gemm_nt(xp, M, K, N, o, affine_rows(q, K, gs, bits));
  } else {
    tiled_gemm_nn(xp, M, K, N, o, affine_rows(q, N, gs, bits));
  }
}

}  // namespace

void QuantizedMatmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  array x = float_contiguous(inputs[0]);
  array wq = row_contiguous(inputs[1]), scales = row_contiguous(inputs[2]),
        biases = row_contiguous(inputs[3]);
  const int nd = out.ndim(), nb = nd - 2;
  int64_t M = out.shape(-2), N = out.shape(-1), K = x.shape(-1);
  array res = out.dtype() == float32 ? out : array(out.shape(), float32, nullptr, {});
  if (out.dtype() != float32) res.set_data(allocator::malloc(res.nbytes()));
  float* o = res.data<float>();
  // Batch entry z of the output (row-major over its batch dims) reads matrix xi of x and wi of the
  // weight: a size-1 batch dim of an input is broadcast (stride 0).
  const int64_t batches = static_cast<int64_t>(out.size() / std::max<size_t>(1, static_cast<size_t>(M * N)));
  const int64_t x_mat = M * K, wq_mat = wq.shape(-2) * wq.shape(-1), s_mat = scales.shape(-2) * scales.shape(-1);
  for (int64_t z = 0; z < (M * N == 0 ? 0 : batches); ++z) {
    int64_t xi = 0, wi = 0, xs = 1, ws = 1, rem = z;
    for (int d = nb - 1; d >= 0; --d) {
      int64_t c = rem % out.shape(d);
      rem /= out.shape(d);
      if (x.shape(d) != 1) xi += c * xs;
      if (wq.shape(d) != 1) wi += c * ws;
      xs *= x.shape(d);
      ws *= wq.shape(d);
    }
    QWeight q{reinterpret_cast<const uint8_t*>(wq.data<uint32_t>() + wi * wq_mat),
              scales.data<char>() + wi * s_mat * scales.itemsize(),
              biases.data<char>() + wi * s_mat * biases.itemsize(), scales.dtype()};
    qmm_one(x.data<float>() + xi * x_mat, q, transpose_, group_size_, bits_, M, N, K, o + z * M * N);
  }
  if (out.dtype() != float32) {
    dispatch_float(out.dtype(), "quantized_matmul", [&](auto t) {
      using T = decltype(t);
      T* d = out.data<T>();
      for (size_t i = 0; i < out.size(); ++i) d[i] = static_cast<T>(o[i]);
    });
  }
}

bool QuantizedMatmul::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const QuantizedMatmul&>(o);
  return transpose_ == p.transpose_ && group_size_ == p.group_size_ && bits_ == p.bits_;
}

}  // namespace tessera
