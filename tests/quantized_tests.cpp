// Tests of the quantization ops: MLX affine quantize/dequantize/quantized_matmul and GGUF block matmul.
#include <cstring>

#include "tessera/primitives/quantized.h"
#include "quantized_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

const int kBits[] = {2, 3, 4, 5, 6, 8};
const int kGroups[] = {32, 64, 128};

// Value j of a row read bit by bit from the uint32 words (bit p of the stream is bit p % 32 of word p / 32).
uint32_t read_bits(const uint32_t* words, int64_t j, int bits) {
  uint32_t v = 0;
  for (int b = 0; b < bits; ++b) {
    int64_t p = j * bits + b;
    v |= ((words[p / 32] >> (p % 32)) & 1u) << b;
  }
  return v;
}

// The test's own statement of MLX's affine rule for one group: returns scale, bias and the q's.
void reference_group(const float* w, int gs, int bits, float& scale, float& bias, std::vector<uint32_t>& q) {
  float n_bins = static_cast<float>((1 << bits) - 1);
  float lo = w[0], hi = w[0];
  for (int j = 1; j < gs; ++j) {
    lo = std::min(lo, w[j]);
    hi = std::max(hi, w[j]);
  }
  bool neg_edge = std::fabs(lo) > std::fabs(hi);
  float step = std::max((hi - lo) / n_bins, 1e-7f);
  if (!neg_edge) step = -step;
  float edge = neg_edge ? lo : hi;
  float q0 = std::nearbyint(edge / step);
  scale = q0 == 0 ? step : edge / q0;
  bias = q0 == 0 ? 0.0f : edge;
  q.resize(gs);
  for (int j = 0; j < gs; ++j) {
    float v = std::nearbyint((w[j] - bias) / scale);
    q[j] = static_cast<uint32_t>(std::clamp(v, 0.0f, n_bins));
  }
}

// x (M, K) @ W^T with W (N, K), or x @ W with W (K, N), in float64.
std::vector<double> ref_matmul(const std::vector<double>& x, const std::vector<double>& w, int64_t M,
                               int64_t K, int64_t N, bool transpose, std::vector<double>* abs_out = nullptr) {
  std::vector<double> out(M * N, 0.0), ab(M * N, 0.0);
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double s = 0, a = 0;
      for (int64_t k = 0; k < K; ++k) {
        double wv = transpose ? w[n * K + k] : w[k * N + n];
        s += x[m * K + k] * wv;
        a += std::fabs(x[m * K + k] * wv);
      }
      out[m * N + n] = s;
      ab[m * N + n] = a;
    }
  }
  if (abs_out) *abs_out = ab;
  return out;
}

::testing::AssertionResult close_scaled(array got, const std::vector<double>& want,
                                        const std::vector<double>& mag, double rel) {
  auto g = got.to_vector<double>();
  if (g.size() != want.size())
    return ::testing::AssertionFailure() << "size " << g.size() << " vs " << want.size();
  for (size_t i = 0; i < g.size(); ++i) {
    if (!(std::fabs(g[i] - want[i]) <= rel * mag[i] + 1e-6)) {
      return ::testing::AssertionFailure() << "at " << i << ": got " << g[i] << ", expected " << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

TEST(QuantizedTest, QuantizeMatchesReferenceBitsAndScales) {
  for (int bits : kBits) {
    for (int gs : kGroups) {
      const int rows = 5, K = 2 * gs;
      auto w = random_array({rows, K}, float32, -1.0, 1.0, 100 + bits * 7 + gs);
      auto wv = w.to_vector<float>();
      wv[3] = 0.0f;                                    // a group with an exact zero
      for (int j = 0; j < gs; ++j) wv[K + j] = 0.25f;  // a constant group
      w = array(wv, {rows, K});
      auto qs = quantize(w, gs, bits);
      ASSERT_EQ(qs[0].shape(), (Shape{rows, K * bits / 32}));
      ASSERT_EQ(qs[0].dtype(), uint32);
      ASSERT_EQ(qs[1].shape(), (Shape{rows, K / gs}));
      auto words = qs[0].to_vector<uint32_t>();
      auto sc = qs[1].to_vector<float>(), bi = qs[2].to_vector<float>();
      for (int r = 0; r < rows; ++r) {
        for (int g = 0; g < K / gs; ++g) {
          float s, b;
          std::vector<uint32_t> q;
          reference_group(wv.data() + r * K + g * gs, gs, bits, s, b, q);
          ASSERT_EQ(sc[r * (K / gs) + g], s)
              << "bits " << bits << " gs " << gs << " row " << r << " group " << g;
          ASSERT_EQ(bi[r * (K / gs) + g], b);
          for (int j = 0; j < gs; ++j) {
            ASSERT_EQ(read_bits(words.data() + r * (K * bits / 32), g * gs + j, bits), q[j])
                << "bits " << bits << " gs " << gs << " value " << g * gs + j;
          }
        }
      }
    }
  }
}

TEST(QuantizedTest, RoundTripErrorBound) {
  for (int bits : kBits) {
    for (int gs : kGroups) {
      const int rows = 7, K = 3 * gs;
      auto w = random_array({rows, K}, float32, -2.0, 1.5, 7 * bits + gs);
      auto qs = quantize(w, gs, bits);
      auto deq = dequantize(qs[0], qs[1], qs[2], gs, bits);
      ASSERT_EQ(deq.shape(), w.shape());
      auto wv = w.to_vector<double>(), dv = deq.to_vector<double>();
      auto sc = qs[1].to_vector<double>(), bi = qs[2].to_vector<double>();
      double n_bins = (1 << bits) - 1;
      for (int r = 0; r < rows; ++r) {
        for (int k = 0; k < K; ++k) {
          double s = sc[r * (K / gs) + k / gs], b = bi[r * (K / gs) + k / gs];
          // Values inside the representable range are within half a step; MLX's rule (exact edge,
          // exact zero) may leave the far end of the range short, which adds the distance outside.
          double lo = std::min(b, b + n_bins * s), hi = std::max(b, b + n_bins * s);
          double v = wv[r * K + k];
          double outside = std::max({0.0, lo - v, v - hi});
          double bound = std::fabs(s) / 2 * (1 + 1e-5) + outside + 1e-6;
          ASSERT_LE(std::fabs(dv[r * K + k] - v), bound) << "bits " << bits << " gs " << gs;
          // The dequantized value is exactly scale * q + bias for an integer q in range.
          double q = (dv[r * K + k] - b) / s;
          ASSERT_NEAR(q, std::round(q), 1e-3);
          ASSERT_GE(std::round(q), 0);
          ASSERT_LE(std::round(q), n_bins);
        }
      }
    }
  }
}

TEST(QuantizedTest, DequantizeHalfTypesAndBatchDims) {
  auto w = random_array({2, 3, 128}, bfloat16, -1, 1, 3);
  auto qs = quantize(w, 64, 4);
  EXPECT_EQ(qs[0].shape(), (Shape{2, 3, 16}));
  EXPECT_EQ(qs[1].dtype(), bfloat16);
  EXPECT_EQ(qs[2].dtype(), bfloat16);
  auto d = dequantize(qs[0], qs[1], qs[2], 64, 4);
  EXPECT_EQ(d.dtype(), bfloat16);
  EXPECT_EQ(d.shape(), (Shape{2, 3, 128}));
  // Same values as dequantizing with float32 scales, rounded once to bfloat16.
  auto d32 = dequantize(qs[0], astype(qs[1], float32), astype(qs[2], float32), 64, 4);
  EXPECT_TRUE(all_close(d, astype(d32, bfloat16).to_vector<double>(), 0, 0));
  auto h = random_array({4, 64}, float16, -1, 1, 4);
  auto qh = quantize(h, 32, 8);
  auto dh = dequantize(qh[0], qh[1], qh[2], 32, 8);
  EXPECT_EQ(dh.dtype(), float16);
  EXPECT_TRUE(all_close(astype(dh, float32), astype(h, float32).to_vector<double>(), 0, 0.01));
}

TEST(QuantizedTest, MatmulMatchesDequantizedReference) {
  for (bool transpose : {true, false}) {
    for (int bits : kBits) {
      for (int gs : kGroups) {
        // transpose: W (N, K) with K split in groups; else W (K, N) with N split in groups.
        int64_t K = transpose ? 3 * gs : 37, N = transpose ? 37 : 2 * gs;
        Shape wshape = transpose ? Shape{(int)N, (int)K} : Shape{(int)K, (int)N};
        auto w = random_array(wshape, float32, -1, 1, bits * 31 + gs);
        auto qs = quantize(w, gs, bits);
        auto wd = dequantize(qs[0], qs[1], qs[2], gs, bits).to_vector<double>();
        for (int M : {1, 3, 17, 64}) {
          auto x = random_array({M, (int)K}, float32, -1, 1, M + bits);
          auto y = quantized_matmul(x, qs[0], qs[1], qs[2], transpose, gs, bits);
          ASSERT_EQ(y.shape(), (Shape{M, (int)N}));
          std::vector<double> mag;
          auto want = ref_matmul(x.to_vector<double>(), wd, M, K, N, transpose, &mag);
          ASSERT_TRUE(close_scaled(y, want, mag, 1e-5))
              << "transpose " << transpose << " bits " << bits << " gs " << gs << " M " << M;
        }
      }
    }
  }
}

TEST(QuantizedTest, MatmulLargeTiledAndBatched) {
  // N large enough for several dequantized tiles in the GEMM path, and batch dims on x.
  const int N = 3000, K = 256;
  auto w = random_array({N, K}, float32, -1, 1, 11);
  auto qs = quantize(w, 64, 4);
  auto wd = dequantize(qs[0], qs[1], qs[2], 64, 4).to_vector<double>();
  for (int M : {2, 17}) {
    auto x = random_array({M, K}, float32, -1, 1, 12);
    std::vector<double> mag;
    auto want = ref_matmul(x.to_vector<double>(), wd, M, K, N, true, &mag);
    EXPECT_TRUE(close_scaled(quantized_matmul(x, qs[0], qs[1], qs[2], true, 64, 4), want, mag, 1e-5)) << M;
  }
  auto x3 = random_array({2, 3, K}, float32, -1, 1, 13);
  auto y3 = quantized_matmul(x3, qs[0], qs[1], qs[2]);
  EXPECT_EQ(y3.shape(), (Shape{2, 3, N}));
  std::vector<double> mag;
  auto want = ref_matmul(x3.to_vector<double>(), wd, 6, K, N, true, &mag);
  EXPECT_TRUE(close_scaled(y3, want, mag, 1e-5));
}

TEST(QuantizedTest, MatmulHalfTypes) {
  auto w = random_array({40, 128}, float16, -1, 1, 21);
  auto qs = quantize(w, 64, 4);
  auto wd = dequantize(qs[0], qs[1], qs[2], 64, 4).to_vector<double>();
  for (int M : {1, 9}) {
    auto x = random_array({M, 128}, float16, -1, 1, 22);
    auto y = quantized_matmul(x, qs[0], qs[1], qs[2], true, 64, 4);
    EXPECT_EQ(y.dtype(), float16);
    std::vector<double> mag;
    auto want = ref_matmul(x.to_vector<double>(), wd, M, 128, 40, true, &mag);
    EXPECT_TRUE(close_scaled(y, want, mag, 2e-3)) << M;  // one float16 rounding of the result
  }
}

TEST(QuantizedTest, VjpOfXIsTransposedQuantizedMatmul) {
  const int N = 24, K = 128, M = 3;
  auto w = random_array({N, K}, float32, -1, 1, 31);
  auto qs = quantize(w, 32, 4);
  auto wd = dequantize(qs[0], qs[1], qs[2], 32, 4).to_vector<double>();
  auto x = random_array({M, K}, float32, -1, 1, 32);
  auto y = quantized_matmul(x, qs[0], qs[1], qs[2], true, 32, 4);
  array node = y;
  while (std::string(node.primitive().name()) != "QuantizedMatmul") node = node.inputs()[0];
  auto g = random_array({M, N}, float32, -1, 1, 33);
  auto grads = node.primitive().vjp(node.inputs(), {g}, {0}, {node});
  ASSERT_EQ(grads.size(), 1u);
  ASSERT_EQ(grads[0].shape(), (Shape{M, K}));
  // dx = g @ W with W (N, K): the same as matmul with W as (K, N) "transposed" weight.
  std::vector<double> mag;
  auto want = ref_matmul(g.to_vector<double>(), wd, M, N, K, false, &mag);
  EXPECT_TRUE(close_scaled(grads[0], want, mag, 1e-5));
  EXPECT_THROW(node.primitive().vjp(node.inputs(), {g}, {1}, {node}), std::invalid_argument);
}

TEST(QuantizedTest, Errors) {
  auto w = random_array({4, 96}, float32);
  auto msg = error_message([&] { quantize(w, 64, 4); });
  EXPECT_EQ(msg.rfind("[quantize]", 0), 0u) << msg;
  EXPECT_THROW(quantize(w, 32, 7), std::invalid_argument);
  EXPECT_THROW(quantize(w, 48, 4), std::invalid_argument);
  EXPECT_THROW(quantize(random_array({96}), 32, 4), std::invalid_argument);
  EXPECT_THROW(quantize(astype(w, int32), 32, 4), std::invalid_argument);
  EXPECT_THROW(quantize(astype(w, float64), 32, 4), std::invalid_argument);
  auto qs = quantize(w, 32, 4);
  EXPECT_THROW(dequantize(qs[0], qs[1], qs[2], 64, 4), std::invalid_argument);  // scales do not match
  EXPECT_THROW(dequantize(astype(qs[0], int32), qs[1], qs[2], 32, 4), std::invalid_argument);
  EXPECT_THROW(dequantize(qs[0], qs[1], reshape(qs[2], {3, 4}), 32, 4), std::invalid_argument);
  auto x = random_array({2, 95});
  msg = error_message([&] { quantized_matmul(x, qs[0], qs[1], qs[2], true, 32, 4); });
  EXPECT_EQ(msg.rfind("[quantized_matmul]", 0), 0u) << msg;
  EXPECT_THROW(quantized_matmul(random_array({2, 5}), qs[0], qs[1], qs[2], false, 32, 4),
               std::invalid_argument);
  EXPECT_THROW(quantized_matmul(random_array({2, 96}), qs[0], qs[1], qs[2], true, 32, 3),
               std::invalid_argument);
  EXPECT_THROW(quantized_matmul(astype(random_array({2, 96}), float64), qs[0], qs[1], qs[2]),
               std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// GGUF blocks: a test-side packer writes blocks from chosen integer contents, following ggml's
// documented layouts, and returns the floats those blocks stand for.

namespace {

void put_f16(uint8_t* p, float v, float& exact) {
  float16_t h(v);
  std::memcpy(p, &h.bits, 2);
  exact = static_cast<float>(h);
}

struct Packed {
  std::vector<uint8_t> bytes;
  std::vector<float> values;
};

Packed pack_rows(GGUFType t, int rows, int K, unsigned seed) {
  std::mt19937 gen(seed);
  auto ri = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  auto rf = [&](float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(gen); };
  int bs = gguf_block_size(t), bb = gguf_block_bytes(t);
  Packed p;
  p.bytes.assign(static_cast<size_t>(rows) * (K / bs) * bb, 0);
  p.values.assign(static_cast<size_t>(rows) * K, 0.0f);
  for (int64_t blk = 0; blk < static_cast<int64_t>(rows) * (K / bs); ++blk) {
    uint8_t* b = p.bytes.data() + blk * bb;
    float* y = p.values.data() + blk * bs;
    if (t == GGUFType::Q4_0 || t == GGUFType::Q4_1) {
      float d, m = 0;
      put_f16(b, rf(0.001f, 0.1f), d);
      if (t == GGUFType::Q4_1) put_f16(b + 2, rf(-0.5f, 0.5f), m);
      uint8_t* qs = b + (t == GGUFType::Q4_1 ? 4 : 2);
      for (int j = 0; j < 32; ++j) {
        int q = ri(0, 15);
        qs[j % 16] |= static_cast<uint8_t>(q << (j < 16 ? 0 : 4));
        y[j] = t == GGUFType::Q4_0 ? d * (q - 8) : d * q + m;
      }
    } else if (t == GGUFType::Q8_0) {
      float d;
      put_f16(b, rf(0.001f, 0.01f), d);
      for (int j = 0; j < 32; ++j) {
        int q = ri(-128, 127);
        b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
        y[j] = d * q;
      }
    } else if (t == GGUFType::Q4_K || t == GGUFType::Q5_K) {
      float d, dmin;
      put_f16(b, rf(0.0005f, 0.005f), d);
      put_f16(b + 2, rf(0.0005f, 0.005f), dmin);
      int sc[8], mn[8];
      uint8_t* s = b + 4;
      for (int j = 0; j < 8; ++j) {
        sc[j] = ri(0, 63);
        mn[j] = ri(0, 63);
        if (j < 4) {  // low 6 bits in bytes j and j+4; top 2 bits of the upper pairs ride on top
          s[j] |= static_cast<uint8_t>(sc[j]);
          s[j + 4] |= static_cast<uint8_t>(mn[j]);
        } else {
          s[j + 4] = static_cast<uint8_t>((sc[j] & 15) | ((mn[j] & 15) << 4));
          s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
          s[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
        }
      }
      bool five = t == GGUFType::Q5_K;
      uint8_t* qh = b + 16;
      uint8_t* qs = b + (five ? 48 : 16);
      for (int i = 0; i < 256; ++i) {
        int sub = i / 32, c = i / 64, l = i % 32;
        int q = ri(0, five ? 31 : 15);
        qs[32 * c + l] |= static_cast<uint8_t>((q & 15) << (sub % 2 ? 4 : 0));
        if (five) qh[l] |= static_cast<uint8_t>((q >> 4) << sub);
        y[i] = d * sc[sub] * q - dmin * mn[sub];
      }
    } else {  // Q6_K
      float d;
      put_f16(b + 208, rf(0.0005f, 0.005f), d);
      int8_t sc[16];
      for (int j = 0; j < 16; ++j) {
        sc[j] = static_cast<int8_t>(ri(-128, 127));
        b[192 + j] = static_cast<uint8_t>(sc[j]);
      }
      for (int i = 0; i < 256; ++i) {
        // Value i: half h = i / 128, r = i % 128, quarter qq = r / 32, l = r % 32.
        int h = i / 128, r = i % 128, qq = r / 32, l = r % 32;
        int q = ri(0, 63);
        uint8_t* ql = b + 64 * h;
        uint8_t* qh = b + 128 + 32 * h;
        ql[l + (qq % 2) * 32] |= static_cast<uint8_t>((q & 15) << (qq >= 2 ? 4 : 0));
        qh[l] |= static_cast<uint8_t>((q >> 4) << (2 * qq));
        y[i] = d * sc[8 * h + l / 16 + 2 * qq] * (q - 32);
      }
    }
  }
  return p;
}

const GGUFType kTypes[] = {GGUFType::Q4_0, GGUFType::Q4_1, GGUFType::Q8_0,
                           GGUFType::Q4_K, GGUFType::Q5_K, GGUFType::Q6_K};

}  // namespace

TEST(QuantizedTest, GGUFDequantizeMatchesPacker) {
  for (auto t : kTypes) {
    const int rows = 3, K = 512;
    auto p = pack_rows(t, rows, K, 5 + static_cast<int>(t));
    array blocks(p.bytes, {rows, static_cast<int>(p.bytes.size() / rows)}, uint8);
    auto d = gguf_dequantize(blocks, t, {rows, K});
    std::vector<double> want(p.values.begin(), p.values.end());
    EXPECT_TRUE(all_close(d, want, 1e-6, 1e-7)) << gguf_type_name(t);
  }
}

TEST(QuantizedTest, GGUFMatmulMatchesReference) {
  for (auto t : kTypes) {
    const int N = 37, K = 512;
    auto p = pack_rows(t, N, K, 50 + static_cast<int>(t));
    array blocks(p.bytes, {N, static_cast<int>(p.bytes.size() / N)}, uint8);
    std::vector<double> wd(p.values.begin(), p.values.end());
    for (int M : {1, 3, 17, 64}) {
      auto x = random_array({M, K}, float32, -1, 1, M);
      auto y = gguf_quantized_matmul(x, blocks, t, K);
      ASSERT_EQ(y.shape(), (Shape{M, N}));
      std::vector<double> mag;
      auto xv = x.to_vector<double>();
      auto want = ref_matmul(xv, wd, M, K, N, true, &mag);
      if (M <= 4 && t != GGUFType::Q4_1 && t != GGUFType::Q5_K) {
        // Decode may take the int8 path (x rounded per block of 32 to int8 with d = max|x|/127):
        // the error is at most sum over blocks of d/2 * sum |w| on top of float rounding.
        auto g = y.to_vector<double>();
        for (int m = 0; m < M; ++m) {
          for (int n = 0; n < N; ++n) {
            ASSERT_LE(std::fabs(g[m * N + n] - want[m * N + n]), int8_act_bound(xv, wd, K, m, n, mag[m * N + n]))
                << gguf_type_name(t) << " M " << M;
          }
        }
        // And the rounding really is that small compared with the result's scale.
        EXPECT_TRUE(close_scaled(y, want, mag, 2e-2)) << gguf_type_name(t) << " M " << M;
      } else {
        EXPECT_TRUE(close_scaled(y, want, mag, 1e-5)) << gguf_type_name(t) << " M " << M;
      }
    }
  }
}

TEST(QuantizedTest, GGUFErrors) {
  std::vector<uint8_t> raw(2 * 18 * 2, 0);
  array blocks(raw, {2, 36}, uint8);
  EXPECT_THROW(gguf_quantized_matmul(random_array({1, 64}), blocks, GGUFType::Q4_0, 32),
               std::invalid_argument);
  EXPECT_THROW(gguf_quantized_matmul(random_array({1, 48}), blocks, GGUFType::Q4_0, 48),
               std::invalid_argument);
  EXPECT_THROW(gguf_quantized_matmul(random_array({1, 64}), blocks, GGUFType::Q8_0, 64),
               std::invalid_argument);
  EXPECT_THROW(gguf_quantized_matmul(random_array({1, 64}), astype(blocks, int8), GGUFType::Q4_0, 64),
               std::invalid_argument);
  EXPECT_THROW(gguf_dequantize(blocks, GGUFType::Q4_0, {3, 64}), std::invalid_argument);
  EXPECT_THROW(gguf_dequantize(blocks, static_cast<GGUFType>(99), {2, 64}), std::invalid_argument);
  auto msg = error_message([&] { gguf_dequantize(blocks, GGUFType::Q4_K, {2, 64}); });
  EXPECT_EQ(msg.rfind("[gguf_dequantize]", 0), 0u) << msg;
  EXPECT_EQ(gguf_quantized_matmul(random_array({1, 64}), blocks, GGUFType::Q4_0, 64).shape(), (Shape{1, 2}));
}

// MLX's own outputs (tests/fixtures/make_mlx_quantized_fixture.py, mlx 0.32.4 on the CPU).
TEST(QuantizedTest, MatchesMLXFixture) {
  FILE* f = std::fopen(TESSERA_SOURCE_DIR "/tests/fixtures/mlx_quantized.bin", "rb");
  ASSERT_NE(f, nullptr);
  auto read = [&](void* p, size_t n) { ASSERT_EQ(std::fread(p, 1, n, f), n); };
  int32_t count = 0;
  read(&count, 4);
  ASSERT_EQ(count, 18);
  for (int c = 0; c < count; ++c) {
    int32_t h[5];
    read(h, sizeof(h));
    int bits = h[0], gs = h[1], rows = h[2], K = h[3], M = h[4];
    std::vector<float> w(rows * K), sc(rows * K / gs), bi(sc.size()), deq(rows * K), x(M * K), y(M * rows);
    std::vector<uint32_t> wq(rows * K * bits / 32);
    read(w.data(), w.size() * 4);
    read(wq.data(), wq.size() * 4);
    read(sc.data(), sc.size() * 4);
    read(bi.data(), bi.size() * 4);
    read(deq.data(), deq.size() * 4);
    read(x.data(), x.size() * 4);
    read(y.data(), y.size() * 4);
    auto qs = quantize(array(w, {rows, K}), gs, bits);
    EXPECT_EQ(qs[0].to_vector<uint32_t>(), wq) << "bits " << bits << " gs " << gs;
    EXPECT_TRUE(all_close(qs[1], std::vector<double>(sc.begin(), sc.end()), 1e-6, 0)) << bits << " " << gs;
    EXPECT_TRUE(all_close(qs[2], std::vector<double>(bi.begin(), bi.end()), 1e-6, 0)) << bits << " " << gs;
    auto d = dequantize(qs[0], qs[1], qs[2], gs, bits);
    EXPECT_TRUE(all_close(d, std::vector<double>(deq.begin(), deq.end()), 1e-6, 1e-7)) << bits << " " << gs;
    auto yq = quantized_matmul(array(x, {M, K}), qs[0], qs[1], qs[2], true, gs, bits);
    EXPECT_TRUE(all_close(yq, std::vector<double>(y.begin(), y.end()), 1e-4, 1e-5)) << bits << " " << gs;
  }
  std::fclose(f);
}

TEST(QuantizedTest, StridedInputsAndHalfGGUF) {
  // x as a transposed (non-contiguous) view; w_q as a row slice is not needed: the op takes 2-D w.
  const int N = 20, K = 64;
  auto w = random_array({N, K}, float32, -1, 1, 41);
  auto qs = quantize(w, 32, 5);
  auto wd = dequantize(qs[0], qs[1], qs[2], 32, 5).to_vector<double>();
  auto xt = transpose(random_array({K, 3}, float32, -1, 1, 42));
  std::vector<double> mag;
  auto want = ref_matmul(contiguous(xt).to_vector<double>(), wd, 3, K, N, true, &mag);
  EXPECT_TRUE(close_scaled(quantized_matmul(xt, qs[0], qs[1], qs[2], true, 32, 5), want, mag, 1e-5));
  // GGUF with a float16 x: result in float16.
  auto p = pack_rows(GGUFType::Q4_1, N, K, 43);
  array blocks(p.bytes, {N, static_cast<int>(p.bytes.size() / N)}, uint8);
  auto x16 = random_array({2, K}, float16, -1, 1, 44);
  auto y = gguf_quantized_matmul(x16, blocks, GGUFType::Q4_1, K);
  EXPECT_EQ(y.dtype(), float16);
  auto ref = ref_matmul(x16.to_vector<double>(), std::vector<double>(p.values.begin(), p.values.end()), 2, K, N,
                        true, &mag);
  EXPECT_TRUE(close_scaled(y, ref, mag, 2e-3));
}
