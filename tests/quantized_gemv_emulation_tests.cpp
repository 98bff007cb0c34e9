// Host emulation of the CUDA affine GEMV kernels (quantized_gemv.cu: old qmv_t_kernel, fast
// qmv_fast_kernel, tensor-core qmv_tc_kernel; quantized_gemv_lop3.cu: qmv_lop3_kernel; quantized_gemv_h2.cu:
// qmv_h2_kernel, with f16 rounding): walks blocks, warps and lanes sequentially with the
// kernels' own index functions (tessera/backend/cuda/kernels/qgemv_index.h), emulates shuffles,
// shared memory (bounds-checked) and the m16n8k16 MMA fragment layout of the PTX ISA, and compares
// with a float64 dequantize-then-matmul reference. Runs on the CPU (no CUDA needed).
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "tessera/backend/cuda/kernels/qgemv_index.h"
#include "tessera/half_types.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;
namespace qidx = tessera::cuda::qidx;

namespace {

// A quantized W (N, K) as the kernels see it: packed words, float scales / biases, and x (M, K).
struct Problem {
  int M, N, K, gs, bits;
  std::vector<uint32_t> wq;         // (N, K * bits / 32)
  std::vector<float> scales, bias;  // (N, K / gs)
  std::vector<float> x;             // (M, K), values exact in the x dtype
  std::vector<double> want, mag;    // (M, N) float64 reference and sum |x w|
};

// x and W random; scales/biases/x rounded to dtype d (as the kernels would read them).
Problem make_problem(int M, int N, int K, int gs, int bits, Dtype d, unsigned seed) {
  Problem p{M, N, K, gs, bits, {}, {}, {}, {}, {}, {}};
  auto q = quantize(random_array({N, K}, d, -1, 1, seed), gs, bits, Device::cpu);
  eval(q);
  auto wq = q[0].to_vector<int64_t>();
  p.wq.assign(wq.begin(), wq.end());
  p.scales = astype(q[1], float32, Device::cpu).to_vector<float>();
  p.bias = astype(q[2], float32, Device::cpu).to_vector<float>();
  p.x = astype(random_array({M, K}, d, -1, 1, seed + 101), float32, Device::cpu).to_vector<float>();
  auto wv = dequantize(q[0], astype(q[1], float32, Device::cpu), astype(q[2], float32, Device::cpu), gs, bits,
                       Device::cpu)
                .to_vector<double>();
  p.want.assign(static_cast<size_t>(M) * N, 0.0);
  p.mag.assign(static_cast<size_t>(M) * N, 0.0);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) {
        double v = static_cast<double>(p.x[m * K + k]) * wv[static_cast<size_t>(n) * K + k];
        p.want[m * N + n] += v;
        p.mag[m * N + n] += std::fabs(v);
      }
  return p;
}

::testing::AssertionResult matches(const Problem& p, const std::vector<float>& got, double rel) {
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(std::fabs(got[i] - p.want[i]) <= rel * p.mag[i] + 1e-5)) {
      return ::testing::AssertionFailure() << "out[" << i / p.N << ", " << i % p.N << "]: got " << got[i]
                                           << ", expected " << p.want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// A shared-memory array whose every access is bounds-checked.
template <typename T>
struct Smem {
  std::vector<T> v;
  explicit Smem(size_t n) : v(n) {}
  T& operator[](int64_t i) {
    if (i < 0 || static_cast<size_t>(i) >= v.size()) throw std::out_of_range("[emulation] shared memory index");
    return v[static_cast<size_t>(i)];
  }
};

// Device helpers of quantized.cuh, on the host.
uint32_t extract(const uint32_t* w, int bits, int j) {
  const uint32_t mask = (1u << bits) - 1;
  const int pos = j * bits, wi = pos >> 5, sh = pos & 31;
  uint32_t v = w[wi] >> sh;
  if (sh + bits > 32) v |= w[wi + 1] << (32 - sh);
  return v & mask;
}
float extract_scaled(const uint32_t* w, int bits, int j) {
  const int V = 32 / bits, P = 16 / bits;
  const int wi = j / V, t = j % V, p = t % P;
  const uint32_t h = t >= P ? (w[wi] >> 16) : w[wi];
  return static_cast<float>(h & (((1u << bits) - 1) << (bits * p)));
}

// Warp sum by the xor tree of the kernels (v: 32 lane values).
float warp_sum(std::vector<float> v) {
  for (int off = 16; off > 0; off >>= 1) {
    std::vector<float> n(32);
    for (int l = 0; l < 32; ++l) n[l] = v[l] + v[l ^ off];
    v = n;
  }
  return v[0];
}

// ---- qmv_t_kernel (old) ----
template <int MR, int U>
std::vector<float> emulate_old(const Problem& p) {
  const int bits = p.bits, G = p.K / p.gs, nchunks = p.K / 32, row_words = p.K / 32 * bits;
  const bool fast = bits == 4 || bits == 8;
  const int P = fast ? 16 / bits : 1;
  std::vector<float> out(static_cast<size_t>(p.M) * p.N, NAN);
  const int blocks = ((p.N + qidx::kRows - 1) / qidx::kRows + qidx::kWarps - 1) / qidx::kWarps;
  for (int blk = 0; blk < blocks; ++blk) {
    for (int warp = 0; warp < qidx::kWarps; ++warp) {
      const int n0 = qidx::t_row0(blk, warp);
      if (n0 >= p.N) continue;
      std::vector<float> acc(32 * qidx::kRows * MR, 0.0f);  // [lane][r][m]
      for (int lane = 0; lane < 32; ++lane) {
        for (int it = 0; qidx::t_chunk(it, U, 0, lane) < nchunks; ++it) {
          for (int u = 0; u < U; ++u) {
            const int c = qidx::t_chunk(it, U, u, lane);
            if (c >= nchunks) break;
            for (int r = 0; r < qidx::kRows; ++r) {
              const int row = std::min(n0 + r, p.N - 1);
              const uint32_t* w = p.wq.data() + static_cast<size_t>(row) * row_words + static_cast<size_t>(c) * bits;
              for (int m = 0; m < MR; ++m) {
                const float* xr = p.x.data() + static_cast<size_t>(std::min(m, p.M - 1)) * p.K + c * 32;
                std::vector<float> dot(P, 0.0f);
                float xs = 0.0f;
                for (int j = 0; j < 32; ++j) {
                  xs += xr[j];
                  float qf = fast ? extract_scaled(w, bits, j) : static_cast<float>(extract(w, bits, j));
                  dot[j % P] = std::fma(qf, xr[j], dot[j % P]);
                }
                float d = dot[0];
                for (int q = 1; q < P; ++q) d = std::fma(dot[q], 1.0f / static_cast<float>(1u << (bits * q)), d);
                const int g = c * 32 / p.gs;
                float& a = acc[(lane * qidx::kRows + r) * MR + m];
                a += p.scales[row * G + g] * d + p.bias[row * G + g] * xs;
              }
            }
          }
        }
      }
      for (int r = 0; r < qidx::kRows; ++r)
        for (int m = 0; m < MR; ++m) {
          std::vector<float> v(32);
          for (int l = 0; l < 32; ++l) v[l] = acc[(l * qidx::kRows + r) * MR + m];
          if (n0 + r < p.N && m < p.M) out[m * p.N + n0 + r] = warp_sum(v);
        }
    }
  }
  return out;
}

// ---- qmv_fast_kernel ----
template <int MR>
std::vector<float> emulate_fast(const Problem& p) {
  using S = qidx::FastShape<MR>;
  constexpr int R = S::R, U = S::U, KT = S::KT, CT = S::CT;
  const int bits = p.bits, P = 16 / bits, G = p.K / p.gs, row_words = p.K / 32 * bits;
  std::vector<float> out(static_cast<size_t>(p.M) * p.N, NAN);
  const int rows_per_block = qidx::kWR * R, blocks = (p.N + rows_per_block - 1) / rows_per_block;
  for (int blk = 0; blk < blocks; ++blk) {
    // acc[warp][lane][r][m]
    std::vector<float> acc(8 * 32 * R * MR, 0.0f);
    for (int k0 = 0; k0 < p.K; k0 += KT) {
      const int kt = std::min(KT, p.K - k0), cn = kt / 32;
      Smem<float> xs(MR * CT * 8 * 4), xsum(MR * CT);
      // Staging: threads of a base step, then the two shuffles of each warp.
      const int per_m = kt / 8, items = MR * per_m;
      for (int base = 0; base < items; base += qidx::kFastThreads) {
        std::vector<float> t(qidx::kFastThreads);
        std::vector<qidx::StageItem> its(qidx::kFastThreads);
        for (int tid = 0; tid < qidx::kFastThreads; ++tid) {
          const int e = base + tid;
          const bool ok = e < items;
          const qidx::StageItem it = qidx::fast_stage_item(ok ? e : 0, per_m);
          its[tid] = it;
          float v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
          if (ok && it.m < p.M) {
            for (int j = 0; j < 8; ++j) v[j] = p.x[static_cast<size_t>(it.m) * p.K + k0 + it.c * 32 + it.j8 * 8 + j];
          }
          if (ok) {
            for (int h = 0; h < 2; ++h)
              for (int j = 0; j < 4; ++j) xs[qidx::fast_xs_index(it.m, it.c, 2 * it.j8 + h, CT) * 4 + j] = v[4 * h + j];
          }
          t[tid] = ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
        }
        for (int off : {1, 2}) {  // __shfl_xor_sync inside each warp
          std::vector<float> n(t.size());
          for (int tid = 0; tid < qidx::kFastThreads; ++tid) n[tid] = t[tid] + t[(tid & ~31) | ((tid & 31) ^ off)];
          t = n;
        }
        for (int tid = 0; tid < qidx::kFastThreads; ++tid) {
          if (base + tid < items && its[tid].j8 == 0) xsum[qidx::fast_xsum_index(its[tid].m, its[tid].c, CT)] = t[tid];
        }
      }
      // Compute: every warp and lane, batches of U chunks until the warp's next batch is empty.
      for (int warp = 0; warp < 8; ++warp) {
        const int wk = warp % qidx::kWK, wr = warp / qidx::kWK, nb = qidx::fast_row0(blk, wr, R);
        for (int lane = 0; lane < 32; ++lane) {
          for (int i0 = 0;;) {
            for (int u = 0; u < U; ++u) {
              const int c = qidx::fast_chunk(i0 + u, wk, lane);
              if (c >= cn) continue;
              const int kc = k0 / 32 + c, g = kc * 32 / p.gs;
              for (int r = 0; r < R; ++r) {
                const int row = std::min(nb + r, p.N - 1);
                const uint32_t* w = p.wq.data() + static_cast<size_t>(row) * row_words + static_cast<size_t>(kc) * bits;
                for (int m = 0; m < MR; ++m) {
                  std::vector<float> dot(P, 0.0f);
                  for (int j8 = 0; j8 < 4; ++j8) {
                    float xv[8];
                    for (int h = 0; h < 2; ++h)
                      for (int j = 0; j < 4; ++j) xv[4 * h + j] = xs[qidx::fast_xs_index(m, c, 2 * j8 + h, CT) * 4 + j];
                    for (int j = 0; j < 8; ++j)
                      dot[j % P] = std::fma(extract_scaled(w, bits, j8 * 8 + j), xv[j], dot[j % P]);
                  }
                  float d = dot[0];
                  for (int q = 1; q < P; ++q) d = std::fma(dot[q], 1.0f / static_cast<float>(1u << (bits * q)), d);
                  float& a = acc[((warp * 32 + lane) * R + r) * MR + m];
                  a = std::fma(p.scales[row * G + g], d,
                               std::fma(p.bias[row * G + g], xsum[qidx::fast_xsum_index(m, c, CT)], a));
                }
              }
            }
            i0 += U;
            if (qidx::fast_chunk(i0, wk, 0) >= cn) break;
          }
        }
      }
    }
    Smem<float> red(qidx::kWK * qidx::kWR * R * MR);
    for (int warp = 0; warp < 8; ++warp) {
      const int wk = warp % qidx::kWK, wr = warp / qidx::kWK;
      for (int r = 0; r < R; ++r)
        for (int m = 0; m < MR; ++m) {
          std::vector<float> v(32);
          for (int l = 0; l < 32; ++l) v[l] = acc[((warp * 32 + l) * R + r) * MR + m];
          red[wk * (qidx::kWR * R * MR) + (wr * R + r) * MR + m] = warp_sum(v);
        }
    }
    for (int i = 0; i < qidx::kWR * R * MR; ++i) {
      const int n = qidx::fast_row0(blk, 0, R) + i / MR, m = i % MR;
      float v = 0.0f;
      for (int k = 0; k < qidx::kWK; ++k) v += red[k * (qidx::kWR * R * MR) + i];
      if (n < p.N && m < p.M) out[m * p.N + n] = v;
    }
  }
  return out;
}

// ---- qmv_tc_kernel ----
// 16-bit float formats: bits <-> float (exact for representable values).
float half_to_float(uint32_t h, bool bf16) {
  if (bf16) {
    uint32_t u = h << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  const int e = (h >> 10) & 31, mant = h & 1023;
  float v = e == 0 ? std::ldexp(static_cast<float>(mant), -24) : std::ldexp(static_cast<float>(mant | 1024), e - 25);
  return (h & 0x8000) ? -v : v;
}
uint32_t float_to_half(float f, bool bf16) {
  if (bf16) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if (u & 0xFFFF) throw std::invalid_argument("[emulation] not a bfloat16 value");
    return u >> 16;
  }
  const uint32_t sign = std::signbit(f) ? 0x8000 : 0;
  const float a = std::fabs(f);
  if (a == 0.0f) return sign;
  int e;
  std::frexp(a, &e);  // a = m 2^e, m in [0.5, 1)
  uint32_t h;
  if (e - 1 < -14) {  // subnormal: a = mant 2^-24
    h = static_cast<uint32_t>(std::ldexp(a, 24));
  } else {
    h = (static_cast<uint32_t>(e - 1 + 15) << 10) | (static_cast<uint32_t>(std::ldexp(a, 11 - e)) & 1023);
  }
  if (half_to_float(h, false) != a) throw std::invalid_argument("[emulation] not a float16 value");
  return sign | h;
}
// (lo, hi) 16-bit values of a word as floats.
float lo_of(uint32_t w, bool bf16) { return half_to_float(w & 0xFFFF, bf16); }
float hi_of(uint32_t w, bool bf16) { return half_to_float(w >> 16, bf16); }
// __byte_perm(a, b, s): byte i of the result is byte (s >> 4i) & 7 of the 8 bytes {b, a} (a low).
uint32_t byte_perm(uint32_t a, uint32_t b, uint32_t s) {
  const uint64_t v = (static_cast<uint64_t>(b) << 32) | a;
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) r |= static_cast<uint32_t>((v >> (8 * ((s >> (4 * i)) & 7))) & 255) << (8 * i);
  return r;
}
// TcConst::q2: (magic + a, magic + b) -> (a, b) as a 16-bit float pair (exact).
uint32_t q2(uint32_t bits, bool bf16) {
  const float magic = bf16 ? 128.0f : 1024.0f;
  return float_to_half(lo_of(bits, bf16) - magic, bf16) | (float_to_half(hi_of(bits, bf16) - magic, bf16) << 16);
}

// One m16n8k16 MMA over a warp, PTX fragment layout: a[lane][4] (A 16x16 row-major), b0/b1[lane]
// (B 16x8), c[lane][4] += A B. Lane (g = lane / 4, t = lane % 4): a0 (g, 2t..2t+1), a1 (g + 8, 2t..),
// a2 (g, 2t + 8..), a3 (g + 8, 2t + 8..); b0 (k 2t..2t+1, n g), b1 (k 2t + 8.., n g); c0, c1 (g, 2t..2t+1),
// c2, c3 (g + 8, 2t..).
void mma_16816(std::vector<std::array<float, 4>>& c, const std::vector<std::array<uint32_t, 4>>& a,
               const std::vector<uint32_t>& b0, const std::vector<uint32_t>& b1, bool bf16) {
  float A[16][16], B[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int reg = 0; reg < 4; ++reg) {
      const int row = g + 8 * (reg & 1), col = 2 * t + 8 * (reg >> 1);
      A[row][col] = lo_of(a[lane][reg], bf16);
      A[row][col + 1] = hi_of(a[lane][reg], bf16);
    }
    B[2 * t][g] = lo_of(b0[lane], bf16);
    B[2 * t + 1][g] = hi_of(b0[lane], bf16);
    B[2 * t + 8][g] = lo_of(b1[lane], bf16);
    B[2 * t + 9][g] = hi_of(b1[lane], bf16);
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int reg = 0; reg < 4; ++reg) {
      const int row = g + 8 * (reg >> 1), col = 2 * t + (reg & 1);
      double s = 0;
      for (int k = 0; k < 16; ++k) s += static_cast<double>(A[row][k]) * B[k][col];
      c[lane][reg] += static_cast<float>(s);
    }
  }
}

template <int MODE>
std::vector<float> emulate_tc(const Problem& p, bool bf16) {
  constexpr int kTcWarps = 8, kTcU = 4;
  const uint32_t magic = bf16 ? 0x43004300u : 0x64006400u, ones = bf16 ? 0x3F803F80u : 0x3C003C00u;
  const int G = p.K / p.gs, S = p.K / 128, row_words = p.K / 8;
  std::vector<float> out(static_cast<size_t>(p.M) * p.N, NAN);
  std::vector<uint32_t> xbits(p.x.size());
  for (size_t i = 0; i < p.x.size(); ++i) xbits[i] = float_to_half(p.x[i], bf16);
  const int blocks = (p.N + 15) / 16;
  for (int blk = 0; blk < blocks; ++blk) {
    const int n0 = blk * 16;
    Smem<float> red(kTcWarps * 16 * 8);
    for (int warp = 0; warp < kTcWarps; ++warp) {
      std::vector<std::array<float, 4>> acc(32, {0, 0, 0, 0});
      for (int s0 = warp; s0 < S; s0 += kTcWarps * kTcU) {
        for (int u = 0; u < kTcU; ++u) {
          const int s = s0 + u * kTcWarps;
          if (s >= S) break;
          // Loads: lane (g, t) reads uint4 4s + t of rows n0 + g and n0 + g + 8.
          std::vector<std::array<uint32_t, 4>> wa(32), wb(32);
          for (int lane = 0; lane < 32; ++lane) {
            const int g = lane / 4, t = lane % 4;
            const int nl = std::min(n0 + g, p.N - 1), nh = std::min(n0 + g + 8, p.N - 1);
            for (int i = 0; i < 4; ++i) {
              wa[lane][i] = p.wq[static_cast<size_t>(nl) * row_words + (4 * s + t) * 4 + i];
              wb[lane][i] = p.wq[static_cast<size_t>(nh) * row_words + (4 * s + t) * 4 + i];
            }
          }
          // Quad transposes: every lane swaps its slot with lane ^ mask at the same time.
          for (int step = 1; step <= qidx::tc_steps(MODE); ++step) {
            for (int j = 0; j < 2; ++j) {
              for (auto* w : {&wa, &wb}) {
                std::vector<uint32_t> sent(32);
                for (int lane = 0; lane < 32; ++lane) sent[lane] = (*w)[lane][qidx::tc_swap_slot(step, lane % 4, j)];
                for (int lane = 0; lane < 32; ++lane) {
                  (*w)[lane][qidx::tc_swap_slot(step, lane % 4, j)] = sent[lane ^ qidx::tc_swap_mask(step)];
                }
              }
            }
          }
          for (int i = 0; i < 4; ++i) {
            std::vector<std::array<uint32_t, 4>> a0(32), a1(32), one(32, {ones, ones, ones, ones});
            std::vector<uint32_t> x0(32), x1(32), x2(32), x3(32);
            for (int lane = 0; lane < 32; ++lane) {
              const int g = lane / 4, t = lane % 4;
              const int k = s * 128 + qidx::tc_offset<MODE>(i, t);
              uint32_t xv[4] = {0, 0, 0, 0};
              if (g < p.M) {
                for (int h = 0; h < 4; ++h) {
                  const size_t base = static_cast<size_t>(g) * p.K + k + 2 * h;
                  xv[h] = xbits[base] | (xbits[base + 1] << 16);
                }
              }
              x0[lane] = byte_perm(xv[0], xv[2], 0x5410), x1[lane] = byte_perm(xv[0], xv[2], 0x7632);
              x2[lane] = byte_perm(xv[1], xv[3], 0x5410), x3[lane] = byte_perm(xv[1], xv[3], 0x7632);
              const uint32_t A = wa[lane][i], B = wb[lane][i];
              a0[lane] = {q2((A & 0x000F000Fu) | magic, bf16), q2((B & 0x000F000Fu) | magic, bf16),
                          q2(((A >> 4) & 0x000F000Fu) | magic, bf16), q2(((B >> 4) & 0x000F000Fu) | magic, bf16)};
              a1[lane] = {q2(((A >> 8) & 0x000F000Fu) | magic, bf16), q2(((B >> 8) & 0x000F000Fu) | magic, bf16),
                          q2(((A >> 12) & 0x000F000Fu) | magic, bf16), q2(((B >> 12) & 0x000F000Fu) | magic, bf16)};
            }
            std::vector<std::array<float, 4>> c(32, {0, 0, 0, 0}), xs(32, {0, 0, 0, 0});
            mma_16816(c, a0, x0, x1, bf16);
            mma_16816(c, a1, x2, x3, bf16);
            mma_16816(xs, one, x0, x1, bf16);
            mma_16816(xs, one, x2, x3, bf16);
            for (int lane = 0; lane < 32; ++lane) {
              const int g = lane / 4, t = lane % 4;
              const int nl = std::min(n0 + g, p.N - 1), nh = std::min(n0 + g + 8, p.N - 1);
              const int grp = (s * 128 + qidx::tc_offset<MODE>(i, t)) / p.gs;
              const float sl = p.scales[nl * G + grp], bl = p.bias[nl * G + grp];
              const float sh = p.scales[nh * G + grp], bh = p.bias[nh * G + grp];
              auto& a = acc[lane];
              a[0] = std::fma(sl, c[lane][0], std::fma(bl, xs[lane][0], a[0]));
              a[1] = std::fma(sl, c[lane][1], std::fma(bl, xs[lane][1], a[1]));
              a[2] = std::fma(sh, c[lane][2], std::fma(bh, xs[lane][2], a[2]));
              a[3] = std::fma(sh, c[lane][3], std::fma(bh, xs[lane][3], a[3]));
            }
          }
        }
      }
      for (int lane = 0; lane < 32; ++lane) {
        const int g = lane / 4, t = lane % 4;
        red[(warp * 16 + g) * 8 + 2 * t] = acc[lane][0];
        red[(warp * 16 + g) * 8 + 2 * t + 1] = acc[lane][1];
        red[(warp * 16 + g + 8) * 8 + 2 * t] = acc[lane][2];
        red[(warp * 16 + g + 8) * 8 + 2 * t + 1] = acc[lane][3];
      }
    }
    for (int tid = 0; tid < 128; ++tid) {
      const int r = tid / 8, m = tid % 8;
      float v = 0.0f;
      for (int w = 0; w < kTcWarps; ++w) v += red[(w * 16 + r) * 8 + m];
      if (n0 + r < p.N && m < p.M) out[m * p.N + n0 + r] = v;
    }
  }
  return out;
}

// ---- qmv_lop3_kernel ----
template <int MR>
std::vector<float> emulate_lop3(const Problem& p) {
  const int bits = p.bits, P = 16 / bits, nchunks = p.K / 32, row_words = p.K / 32 * bits;
  constexpr int R = qidx::LopShape<MR, 4>::R;
  const int U = p.bits == 4 ? qidx::LopShape<MR, 4>::U : qidx::LopShape<MR, 8>::U;
  const int gshift = qidx::lop_group_shift(p.gs), G = p.K >> (gshift + 5);
  if (gshift < 0) throw std::invalid_argument("[emulation] lop3 takes power-of-two group sizes");
  std::vector<float> out(static_cast<size_t>(p.M) * p.N, NAN);
  const int blocks = (p.N + R - 1) / R;
  for (int blk = 0; blk < blocks; ++blk) {
    const int n0 = qidx::lop_row0(blk, R);
    Smem<float> red(qidx::kLWarps * R * MR);
    for (int wk = 0; wk < qidx::kLWarps; ++wk) {
      std::vector<float> acc(32 * R * MR, 0.0f);  // [lane][r][m]
      for (int lane = 0; lane < 32; ++lane) {
        for (int i0 = 0; qidx::lop_chunk(i0, wk, 0) < nchunks; i0 += U) {
          for (int u = 0; u < U; ++u) {
            const int c = qidx::lop_chunk(i0 + u, wk, lane);
            if (c >= nchunks) break;
            const int g = c >> gshift;
            for (int m = 0; m < MR; ++m) {
              const float* xr = p.x.data() + static_cast<size_t>(std::min(m, p.M - 1)) * p.K + c * 32;
              float xs = 0.0f;
              for (int j8 = 0; j8 < 4; ++j8) {
                const float* v = xr + 8 * j8;
                xs += ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
              }
              for (int r = 0; r < R; ++r) {
                const int row = std::min(n0 + r, p.N - 1);
                const uint32_t* w = p.wq.data() + static_cast<size_t>(row) * row_words + static_cast<size_t>(c) * bits;
                std::vector<float> dot(P, 0.0f);
                for (int j = 0; j < 32; ++j) {
                  const float qf = extract_scaled(w, bits, j);
                  dot[j % P] = std::fma(qf, xr[j], dot[j % P]);
                }
                float d = dot[0];
                for (int q = 1; q < P; ++q) d = std::fma(dot[q], 1.0f / static_cast<float>(1u << (bits * q)), d);
                float& a = acc[(lane * R + r) * MR + m];
                a = std::fma(p.scales[row * G + g], d, std::fma(p.bias[row * G + g], xs, a));
              }
            }
          }
        }
      }
      for (int r = 0; r < R; ++r)
        for (int m = 0; m < MR; ++m) {
          std::vector<float> v(32);
          for (int l = 0; l < 32; ++l) v[l] = acc[(l * R + r) * MR + m];
          red[wk * R * MR + r * MR + m] = warp_sum(v);
        }
    }
    for (int t = 0; t < R * MR; ++t) {
      const int r = t / MR, m = t % MR;
      float v = 0.0f;
      for (int k = 0; k < qidx::kLWarps; ++k) v += red[k * R * MR + t];
      if (n0 + r < p.N && m < p.M) out[m * p.N + n0 + r] = v;
    }
  }
  return out;
}

// ---- qmv_h2_kernel (M = 1): f16 rounding of the staged x, products and chunk sums emulated ----
float f16r(double v) { return static_cast<float>(float16_t(static_cast<float>(v))); }
// An f16 pair (low half first) as floats.
std::array<float, 2> h2_of(uint32_t v) {
  return {static_cast<float>(float16_t::from_bits(static_cast<uint16_t>(v & 0xFFFFu))),
          static_cast<float>(float16_t::from_bits(static_cast<uint16_t>(v >> 16)))};
}
// The kernel's unit_pairs: the q pairs of one 8-value unit from its words (1 for 4 bits, 2 for 8).
std::array<std::array<float, 2>, 4> unit_pairs(const uint32_t* w, int bits) {
  const uint32_t magic = 0x64006400u;
  std::array<std::array<float, 2>, 4> q{};
  auto sub1024 = [](std::array<float, 2> h) { return std::array<float, 2>{h[0] - 1024.0f, h[1] - 1024.0f}; };
  auto fma16 = [](std::array<float, 2> h) {  // (1024 + 16 q) / 16 - 64
    return std::array<float, 2>{f16r(std::fma(h[0], 0.0625, -64.0)), f16r(std::fma(h[1], 0.0625, -64.0))};
  };
  if (bits == 4) {
    q[0] = sub1024(h2_of((w[0] & 0x000F000Fu) | magic));
    q[1] = fma16(h2_of((w[0] & 0x00F000F0u) | magic));
    q[2] = sub1024(h2_of(((w[0] >> 8) & 0x000F000Fu) | magic));
    q[3] = fma16(h2_of(((w[0] >> 8) & 0x00F000F0u) | magic));
  } else {
    q[0] = sub1024(h2_of((w[0] & 0x00FF00FFu) | magic));
    q[1] = sub1024(h2_of(((w[0] >> 8) & 0x00FF00FFu) | magic));
    q[2] = sub1024(h2_of((w[1] & 0x00FF00FFu) | magic));
    q[3] = sub1024(h2_of(((w[1] >> 8) & 0x00FF00FFu) | magic));
  }
  return q;
}

// W (N, K) as float64 from the problem's words, scales and biases.
std::vector<double> dequantize_problem(const Problem& p) {
  const int G = p.K / p.gs;
  const int64_t row_words = static_cast<int64_t>(p.K) / 32 * p.bits;
  std::vector<double> w(static_cast<size_t>(p.N) * p.K);
  for (int n = 0; n < p.N; ++n)
    for (int j = 0; j < p.K; ++j)
      w[static_cast<size_t>(n) * p.K + j] =
          static_cast<double>(p.scales[n * G + j / p.gs]) * extract(p.wq.data() + n * row_words, p.bits, j) +
          p.bias[n * G + j / p.gs];
  return w;
}

std::vector<float> emulate_h2(const Problem& p) {
  if (p.M != 1 || (p.bits != 4 && p.bits != 8)) throw std::invalid_argument("[emulation] h2 takes M 1, bits 4/8");
  const int bits = p.bits, R = 2, U = bits == 4 ? qidx::H2Shape<4>::U : qidx::H2Shape<8>::U;
  const int gshift = qidx::lop_group_shift(p.gs), nchunks = p.K / 32, G = p.K / p.gs;
  const int64_t row_words = static_cast<int64_t>(nchunks) * bits;
  std::vector<float> out(static_cast<size_t>(p.N), 0.0f);
  // Staging (the same in every block): each chunk's sum, max |x| and scale 2^k, its scaled f16 copy.
  Smem<float> staged(static_cast<size_t>(nchunks) * 32);
  std::vector<float> xsum(nchunks), xinv(nchunks);
  for (int c = 0; c < nchunks; ++c) {
    float s = 0.0f, mx = 0.0f;
    for (int j = 0; j < 32; ++j) {
      s += p.x[c * 32 + j];
      mx = std::fmax(mx, std::fabs(p.x[c * 32 + j]));
    }
    int e = 0;
    std::frexp(mx, &e);
    const int k = std::isfinite(mx) && mx > 0 ? qidx::h2_scale_shift(bits, e) : 0;
    xsum[c] = s;
    xinv[c] = std::ldexp(1.0f, -k);
    for (int u = 0; u < 4; ++u)
      for (int j = 0; j < 8; ++j)
        staged[qidx::h2_unit_slot(c, u) * 8 + j] =
            f16r(std::ldexp(p.x[c * 32 + u * 8 + qidx::h2_half_value(bits, j)], k));
  }
  const int rows_per_block = qidx::kHWarps * R, blocks = (p.N + rows_per_block - 1) / rows_per_block;
  for (int blk = 0; blk < blocks; ++blk) {
    for (int wk = 0; wk < qidx::kHWarps; ++wk) {
      const int n0 = qidx::h2_row0(blk, wk, R);
      for (int r = 0; r < R; ++r) {
        const int row = std::min(n0 + r, p.N - 1);
        std::vector<float> lanes(32);
        for (int lane = 0; lane < 32; ++lane) {
          float fa = 0.0f, fb = 0.0f;
          for (int i0 = 0; i0 < (nchunks + 31) / 32; i0 += U) {
            for (int u = 0; u < U; ++u) {
              const int c = qidx::h2_chunk(i0 + u, lane);
              if (c >= nchunks) continue;
              const uint32_t* w = p.wq.data() + row * row_words + static_cast<int64_t>(c) * bits;
              std::array<std::array<float, 2>, 4> acc{};
              for (int un = 0; un < 4; ++un) {
                auto q = unit_pairs(w + un * (bits / 4), bits);
                for (int pp = 0; pp < 4; ++pp)
                  for (int h = 0; h < 2; ++h) {
                    const double xv = staged[qidx::h2_unit_slot(c, un) * 8 + 2 * pp + h];
                    acc[pp][h] = f16r(std::fma(static_cast<double>(q[pp][h]), xv, un == 0 ? 0.0 : acc[pp][h]));
                  }
              }
              float d[2];
              for (int h = 0; h < 2; ++h) d[h] = f16r(f16r(acc[0][h] + acc[1][h]) + f16r(acc[2][h] + acc[3][h]));
              const int g = c >> gshift;
              fa = std::fma(p.scales[row * G + g] * xinv[c], d[0] + d[1], fa);
              fb = std::fma(p.bias[row * G + g], xsum[c], fb);
            }
          }
          lanes[lane] = fa + fb;
        }
        if (n0 + r < p.N) out[n0 + r] = warp_sum(lanes);
      }
    }
  }
  return out;
}

// The launchers' choice of MR (dispatch_rows) and of U (launch_old).
template <typename F>
std::vector<float> by_rows(int M, F&& f) {
  if (M <= 1) return f(std::integral_constant<int, 1>{});
  if (M <= 2) return f(std::integral_constant<int, 2>{});
  if (M <= 4) return f(std::integral_constant<int, 4>{});
  return f(std::integral_constant<int, 8>{});
}
std::vector<float> run_old(const Problem& p) {
  return by_rows(p.M, [&](auto mr) {
    constexpr int MR = decltype(mr)::value;
    return p.bits <= 4 && MR <= 4 ? emulate_old<MR, 2>(p) : emulate_old<MR, 1>(p);
  });
}
std::vector<float> run_fast(const Problem& p) {
  return by_rows(p.M, [&](auto mr) { return emulate_fast<decltype(mr)::value>(p); });
}
std::vector<float> run_lop3(const Problem& p) {
  return by_rows(p.M, [&](auto mr) { return emulate_lop3<decltype(mr)::value>(p); });
}
std::vector<float> run_tc(const Problem& p, bool bf16) {
  switch (qidx::tc_mode(p.gs)) {
    case 0: return emulate_tc<0>(p, bf16);
    case 1: return emulate_tc<1>(p, bf16);
    default: return emulate_tc<2>(p, bf16);
  }
}

const int kN = 37;  // not a multiple of any kernel's rows per block

}  // namespace

TEST(QuantGemvEmulation, FastKernelEveryGroupSizeAndTile) {
  // K 1152: one partial x tile; K 2304: M >= 5 (MR 8, 1024-value tiles) crosses two tiles and ends in
  // a partial one; K 8576: MR 1 (8192-value tiles) crosses a tile.
  for (int bits : {4, 8}) {
    for (int gs : {32, 64, 128}) {
      for (int K : {1152, 2304}) {
        for (int M : {1, 2, 3, 5, 8}) {
          auto p = make_problem(M, kN, K, gs, bits, float32, 10 * bits + gs + K + M);
          EXPECT_TRUE(matches(p, run_fast(p), 5e-5)) << "bits " << bits << " gs " << gs << " K " << K << " M " << M;
        }
      }
    }
    auto p = make_problem(1, 9, 8576, 64, bits, float32, 7 + bits);
    EXPECT_TRUE(matches(p, run_fast(p), 5e-5)) << "bits " << bits << " K 8576 M 1";
  }
}

TEST(QuantGemvEmulation, Lop3KernelEveryRowCountGroupAndTail) {
  // Every M (MR 1, 2, 4, 8: 8, 4, 2, 2 rows a block); N 37 and 3 (fewer rows than a block); K 1152
  // (36 chunks: lanes of 3 warps idle), 4224 (132 chunks: one round of 4 warps and a partial one).
  for (int bits : {4, 8}) {
    for (int gs : {32, 64, 128}) {
      for (int K : {1152, 4224}) {
        for (int M = 1; M <= 8; ++M) {
          for (int N : {kN, 3}) {
            if (N == 3 && M % 3 != 1) continue;
            auto p = make_problem(M, N, K, gs, bits, float32, 5 * bits + gs + K + M + N);
            EXPECT_TRUE(matches(p, run_lop3(p), 5e-5))
                << "bits " << bits << " gs " << gs << " K " << K << " M " << M << " N " << N;
          }
        }
      }
    }
  }
}

TEST(QuantGemvEmulation, Lop3GroupShiftAndChunks) {
  EXPECT_EQ(qidx::lop_group_shift(32), 0);
  EXPECT_EQ(qidx::lop_group_shift(64), 1);
  EXPECT_EQ(qidx::lop_group_shift(128), 2);
  EXPECT_EQ(qidx::lop_group_shift(96), -1);
  EXPECT_EQ(qidx::lop_group_shift(16), -1);
  // The warps and lanes of a block visit every chunk once.
  std::vector<int> seen(300, 0);
  for (int wk = 0; wk < qidx::kLWarps; ++wk)
    for (int lane = 0; lane < 32; ++lane)
      for (int i = 0; qidx::lop_chunk(i, wk, lane) < 300; ++i) ++seen[qidx::lop_chunk(i, wk, lane)];
  for (int v : seen) EXPECT_EQ(v, 1);
  // The kernel advances its row pointers by kLStep chunks a step.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(qidx::lop_chunk(i + 1, 3, 17) - qidx::lop_chunk(i, 3, 17), qidx::kLStep);
}

TEST(QuantGemvEmulation, GGUFQ40Q80FieldsAreTheGgmlValues) {
  // The staged GGUF kernel reads field t of quant word i at bits 16 (t / P) + bits (t % P) and pairs
  // it with x value gg_q4_0_value / gg_q8_0_value(i, t): that must be the ggml layout (Q4_0: byte j
  // holds value j in its low nibble and j + 16 in its high one, value = nibble - 8; Q8_0: byte j is
  // int8 value j, read as (byte ^ 0x80) - 128), each value exactly once.
  std::mt19937 gen(3);
  for (int bits : {4, 8}) {
    const int nbytes = bits == 4 ? 16 : 32, P = 16 / bits, V = 32 / bits;
    std::vector<uint8_t> q(nbytes);
    for (auto& b : q) b = static_cast<uint8_t>(gen());
    std::vector<int> ggml(32), seen(32, 0);
    for (int j = 0; j < 32; ++j) {
      ggml[j] = bits == 4 ? ((j < 16 ? q[j] & 15 : q[j - 16] >> 4) - 8) : static_cast<int8_t>(q[j]);
    }
    for (int i = 0; i < nbytes / 4; ++i) {
      uint32_t w;
      std::memcpy(&w, q.data() + 4 * i, 4);
      for (int t = 0; t < V; ++t) {
        const int sh = 16 * (t / P) + bits * (t % P);
        uint32_t f = (w >> sh) & ((1u << bits) - 1);
        int value = bits == 4 ? static_cast<int>(f) - 8 : static_cast<int>(f ^ 0x80u) - 128;
        const int j = bits == 4 ? qidx::gg_q4_0_value(i, t) : qidx::gg_q8_0_value(i, t);
        ASSERT_TRUE(j >= 0 && j < 32);
        ++seen[j];
        EXPECT_EQ(value, ggml[j]) << "bits " << bits << " word " << i << " field " << t;
      }
    }
    for (int v : seen) EXPECT_EQ(v, 1) << "bits " << bits;
  }
}

TEST(QuantGemvEmulation, H2KernelEveryGroupWidthAndTail) {
  // f16 products and chunk sums: within 2e-3 of sum |x w| (the f32 kernels: 5e-5). N 37 and 3
  // (fewer rows than a block); K 1152 (36 chunks: idle lanes), 4224 (132 chunks: a partial step of U),
  // 11008 (344 chunks); x from bf16 and f16 values.
  for (int bits : {4, 8}) {
    for (int gs : {32, 64, 128}) {
      for (int K : {1152, 4224, 11008}) {
        for (int N : {kN, 3}) {
          if (K == 11008 && N == 3) continue;
          for (Dtype d : {bfloat16, float16}) {
            auto p = make_problem(1, N, K, gs, bits, d, 3 * bits + gs + K + N);
            EXPECT_TRUE(matches(p, emulate_h2(p), 2e-3))
                << "bits " << bits << " gs " << gs << " K " << K << " N " << N << " " << dtype_name(d);
          }
        }
      }
    }
  }
}

TEST(QuantGemvEmulation, H2KernelLargeAndTinyActivations) {
  // Each staged chunk of x is scaled by a power of two: outliers of 3000 (f16 products would overflow
  // unscaled: 15 x 3000 x 32 > 65504) and values near 1e-6 keep the accuracy of x in [-1, 1].
  for (int bits : {4, 8}) {
    for (float scale : {3000.0f, 1e-6f}) {
      auto p = make_problem(1, kN, 4224, 64, bits, bfloat16, 40 + bits);
      for (size_t i = 0; i < p.x.size(); ++i) {
        const float v = static_cast<float>(bfloat16_t(p.x[i] * (i % 97 == 0 ? scale : scale / 8)));
        p.x[i] = v;
      }
      for (size_t n = 0; n < p.want.size(); ++n) {
        p.want[n] = 0.0;
        p.mag[n] = 0.0;
      }
      auto wv = dequantize_problem(p);
      for (int n = 0; n < p.N; ++n)
        for (int j = 0; j < p.K; ++j) {
          const double v = static_cast<double>(p.x[j]) * wv[static_cast<size_t>(n) * p.K + j];
          p.want[n] += v;
          p.mag[n] += std::fabs(v);
        }
      auto got = emulate_h2(p);
      for (int n = 0; n < p.N; ++n) {
        EXPECT_TRUE(std::isfinite(got[n]));
        EXPECT_NEAR(got[n], p.want[n], 2e-3 * p.mag[n]) << "bits " << bits << " scale " << scale << " row " << n;
      }
    }
  }
}

TEST(QuantGemvEmulation, H2StagingIndices) {
  // Each chunk's 4 units go to 4 distinct slots of its own 4; chunks c .. c + 7 (an 8-lane phase of
  // 16-byte shared loads) hit 8 distinct 4-bank groups for every unit.
  for (int c = 0; c < 64; ++c) {
    std::vector<int> seen(4, 0);
    for (int u = 0; u < 4; ++u) ++seen.at(qidx::h2_unit_slot(c, u) - 4 * c);
    for (int v : seen) EXPECT_EQ(v, 1);
  }
  for (int c0 = 0; c0 < 64; c0 += 8)
    for (int u = 0; u < 4; ++u) {
      std::vector<int> banks(8, 0);
      for (int c = c0; c < c0 + 8; ++c) ++banks.at((qidx::h2_unit_slot(c, u) * 16 / 4 % 32) / 4);
      for (int v : banks) EXPECT_EQ(v, 1) << "chunk " << c0 << " unit " << u;
    }
  // The halves of a unit are a permutation of its 8 values, and the pairs meet the decoders' pairs.
  for (int bits : {4, 8}) {
    std::vector<int> seen(8, 0);
    for (int h = 0; h < 8; ++h) ++seen.at(qidx::h2_half_value(bits, h));
    for (int v : seen) EXPECT_EQ(v, 1);
    std::mt19937 rng(bits);
    for (int trial = 0; trial < 100; ++trial) {
      uint32_t w[2] = {static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng())};
      auto q = unit_pairs(w, bits);
      for (int pp = 0; pp < 4; ++pp)
        for (int h = 0; h < 2; ++h) {
          const int j = qidx::h2_half_value(bits, 2 * pp + h);  // value of the unit this half holds
          EXPECT_EQ(q[pp][h], static_cast<float>(extract(w, bits, j))) << "bits " << bits << " value " << j;
        }
    }
  }
  // Scaled max |x| lands in [2^(E-1), 2^E).
  for (int bits : {4, 8}) {
    for (float mx : {1e-30f, 3e-6f, 0.7f, 1.0f, 64.0f, 3000.0f, 1e30f}) {
      int e = 0;
      std::frexp(mx, &e);
      const float scaled = std::ldexp(mx, qidx::h2_scale_shift(bits, e));
      EXPECT_GE(scaled, std::ldexp(1.0f, qidx::h2_scale_exp(bits) - 1)) << mx;
      EXPECT_LT(scaled, std::ldexp(1.0f, qidx::h2_scale_exp(bits))) << mx;
    }
  }
}

TEST(QuantGemvEmulation, OldKernelEveryWidth) {
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    for (int gs : {32, 64, 128}) {
      for (int M : {1, 3, 8}) {
        auto p = make_problem(M, kN, 1152, gs, bits, float32, 3 * bits + gs + M);
        EXPECT_TRUE(matches(p, run_old(p), 5e-5)) << "bits " << bits << " gs " << gs << " M " << M;
      }
    }
  }
}

TEST(QuantGemvEmulation, TensorCoreKernelEveryGroupSize) {
  // K 128: one super-step (7 idle warps); 1152: 9 super-steps over 8 warps; 4608: 36 (two rounds of
  // 8 warps x 4 in flight, the last one partial). f16 and bf16 (magic constants, x pairs).
  for (Dtype d : {float16, bfloat16}) {
    for (int gs : {32, 64, 128}) {
      for (int K : {128, 1152, 4608}) {
        for (int M : {1, 3, 8}) {
          auto p = make_problem(M, kN, K, gs, 4, d, gs + K + M);
          EXPECT_TRUE(matches(p, run_tc(p, d == bfloat16), 5e-5))
              << dtype_name(d) << " gs " << gs << " K " << K << " M " << M;
        }
      }
    }
  }
}

TEST(QuantGemvEmulation, TensorCoreTransposesPlaceEverySlotInOneGroup) {
  // Every (slot, lane) of a super-step is a distinct 8-value piece, and the 4 lanes of a slot lie in
  // one group of the mode's group size; the swaps pair lanes that exchange the same slot.
  auto check = [](auto mode, int gs) {
    constexpr int MODE = decltype(mode)::value;
    std::vector<int> seen(16, 0);
    for (int i = 0; i < 4; ++i) {
      const int grp = qidx::tc_offset<MODE>(i, 0) / gs;
      for (int t = 0; t < 4; ++t) {
        const int off = qidx::tc_offset<MODE>(i, t);
        EXPECT_EQ(off % 8, 0);
        ++seen[off / 8];
        EXPECT_EQ(off / gs, grp) << "mode " << MODE << " slot " << i << " lane " << t;
      }
    }
    for (int v : seen) EXPECT_EQ(v, 1) << "mode " << MODE;
    for (int step = 1; step <= qidx::tc_steps(MODE); ++step)
      for (int j = 0; j < 2; ++j)
        for (int t = 0; t < 4; ++t)
          EXPECT_EQ(qidx::tc_swap_slot(step, t, j), qidx::tc_swap_slot(step, t ^ qidx::tc_swap_mask(step), j) ^
                                                         (step == 1 ? 2 : 1));
  };
  check(std::integral_constant<int, 0>{}, 128);
  check(std::integral_constant<int, 1>{}, 64);
  check(std::integral_constant<int, 2>{}, 32);
  EXPECT_EQ(qidx::tc_mode(16), -1);
}

TEST(QuantGemvEmulation, EmulationCatchesAWrongBiasSum) {
  // The bug the fast kernel had (bias times the x sum of the whole group for every 32-value chunk of a
  // 64/128 group) is visible to this comparison: a corrupted reference must fail.
  auto p = make_problem(2, kN, 256, 64, 4, float32, 5);
  auto got = run_fast(p);
  auto wrong = p;
  for (int m = 0; m < p.M; ++m)
    for (int n = 0; n < p.N; ++n) {
      double extra = 0;  // bias(g) * sum over the other chunk of each group
      for (int g = 0; g < p.K / 64; ++g) {
        double s = 0;
        for (int k = 0; k < 64; ++k) s += p.x[m * p.K + g * 64 + k];
        extra += p.bias[n * (p.K / 64) + g] * s;
      }
      wrong.want[m * p.N + n] += extra;
    }
  EXPECT_TRUE(matches(p, got, 5e-5));
  EXPECT_FALSE(matches(wrong, got, 5e-5));
}
