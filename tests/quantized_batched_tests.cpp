// Batched quantized_matmul (weights with batch dims, numpy broadcasting against x's) on the CPU: against a
// float64 dequantize-then-matmul reference, against per-entry 2-D calls, gradients, vmap and bad shapes;
// quantized_attention with one KV head and in bfloat16 against a float64 reference.
#include <cmath>

#include "tessera/lm/kv_cache.h"
#include "tessera/lm/quantized_attention.h"
#include "tessera/transforms.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

// Row r of the packed words (rows, C * bits / 32), dequantized in float64 by the affine rule read
// bit by bit: w[r, j] = scale[r, j / gs] * q + bias[r, j / gs].
std::vector<double> dequant_ref(const std::vector<uint32_t>& words, const std::vector<double>& sc,
                                const std::vector<double>& bi, int64_t rows, int64_t C, int gs, int bits) {
  std::vector<double> w(rows * C);
  const int64_t row_words = C * bits / 32;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < C; ++j) {
      uint32_t q = 0;
      for (int b = 0; b < bits; ++b) {
        int64_t p = j * bits + b;
        q |= ((words[r * row_words + p / 32] >> (p % 32)) & 1u) << b;
      }
      w[r * C + j] = sc[r * (C / gs) + j / gs] * q + bi[r * (C / gs) + j / gs];
    }
  }
  return w;
}

Shape broadcast_batch(Shape a, Shape b) {
  while (a.size() < b.size()) a.insert(a.begin(), 1);
  while (b.size() < a.size()) b.insert(b.begin(), 1);
  Shape r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = a[i] == 1 ? b[i] : a[i];
  return r;
}

// Index of the matrix of an operand with batch dims `own` (right-aligned) for output batch entry z.
int64_t entry_of(const Shape& out, Shape own, int64_t z) {
  while (own.size() < out.size()) own.insert(own.begin(), 1);
  int64_t idx = 0, stride = 1;
  for (int d = static_cast<int>(out.size()) - 1; d >= 0; --d) {
    int64_t c = z % out[d];
    z /= out[d];
    if (own[d] != 1) idx += c * stride;
    stride *= own[d];
  }
  return idx;
}

struct Case {
  Shape x;      // (..., M, K)
  Shape wb;     // weight batch dims
  int N;
  bool transpose;
  int bits, gs;
  Dtype dt;
};

// quantized_matmul of random x and quantized weights against the float64 reference; returns the
// result for further checks.
void check_case(const Case& c, unsigned seed) {
  const int K = c.x.back(), M = c.x[c.x.size() - 2];
  Shape ws = c.wb;
  ws.push_back(c.transpose ? c.N : K);
  ws.push_back(c.transpose ? K : c.N);
  auto q = quantize(random_array(ws, c.dt, -1, 1, seed), c.gs, c.bits);
  array x = random_array(c.x, c.dt, -1, 1, seed + 1);
  array y = quantized_matmul(x, q[0], q[1], q[2], c.transpose, c.gs, c.bits);
  Shape xb(c.x.begin(), c.x.end() - 2);
  Shape batch = broadcast_batch(xb, c.wb);
  Shape want_shape = batch;
  want_shape.push_back(M);
  want_shape.push_back(c.N);
  ASSERT_EQ(y.shape(), want_shape);
  ASSERT_EQ(y.dtype(), c.dt);
  const int64_t R = ws[ws.size() - 2], C = ws.back(), mats = static_cast<int64_t>(q[0].size() / (R * C * c.bits / 32));
  auto W = dequant_ref(q[0].to_vector<uint32_t>(), q[1].to_vector<double>(), q[2].to_vector<double>(), mats * R, C, c.gs,
                       c.bits);
  auto X = x.to_vector<double>();
  auto Y = y.to_vector<double>();
  int64_t entries = 1;
  for (auto d : batch) entries *= d;
  const double rel = c.dt == float32 ? 1e-5 : 1e-2;
  for (int64_t z = 0; z < entries; ++z) {
    const double* w = W.data() + entry_of(batch, c.wb, z) * R * C;
    const double* xm = X.data() + entry_of(batch, xb, z) * M * K;
    for (int m = 0; m < M; ++m) {
      for (int n = 0; n < c.N; ++n) {
        double s = 0, mag = 0;
        for (int k = 0; k < K; ++k) {
          double p = xm[m * K + k] * (c.transpose ? w[n * K + k] : w[k * c.N + n]);
          s += p;
          mag += std::fabs(p);
        }
        double got = Y[(z * M + m) * c.N + n];
        ASSERT_LE(std::fabs(got - s), rel * mag + 1e-6)
            << "entry " << z << " (" << m << ", " << n << "): got " << got << ", want " << s << "; x "
            << shape_str(c.x) << " w batch " << shape_str(c.wb) << " transpose " << c.transpose << " bits " << c.bits;
      }
    }
  }
}

}  // namespace

TEST(QuantizedBatched, MatchesFloat64ReferenceWithBroadcasting) {
  const std::vector<Case> cases = {
      {{2, 3, 5, 64}, {2, 3}, 40, true, 4, 32, float32},     // equal batch dims
      {{1, 3, 4, 128}, {2, 1}, 24, true, 3, 64, float32},    // both sides broadcast
      {{4, 64}, {3}, 64, false, 8, 32, float32},             // 2-D x against a batch of weights
      {{2, 1, 3, 128}, {3}, 128, false, 6, 64, float32},     // fewer weight batch dims
      {{2, 2, 9, 64}, {2, 2}, 33, true, 2, 64, bfloat16},    // more than 8 rows, bfloat16
      {{2, 2, 9, 64}, {1, 1}, 16, true, 5, 32, float32},     // size-1 weight batch: one matrix
      {{1, 4, 4, 64}, {1, 4}, 37, true, 8, 64, float16},     // decode scores: 4 rows, odd key count
      {{1, 4, 4, 37}, {1, 4}, 64, false, 4, 64, float16},    // decode values: K = 37 keys
      {{2, 3, 12, 128}, {2, 3}, 128, false, 4, 128, float32},  // values with more than 8 rows
  };
  unsigned seed = 10;
  for (const auto& c : cases) {
    SCOPED_TRACE(shape_str(c.x) + " vs " + shape_str(c.wb));
    check_case(c, seed += 7);
  }
}

TEST(QuantizedBatched, EqualsPerEntryCalls) {
  for (bool transpose : {true, false}) {
    auto w = random_array(transpose ? Shape{2, 3, 48, 64} : Shape{2, 3, 64, 64}, float32, -1, 1, 3);
    auto q = quantize(w, 64, 4);
    auto x = random_array({2, 3, 4, 64}, float32, -1, 1, 4);
    auto y = quantized_matmul(x, q[0], q[1], q[2], transpose, 64, 4);
    for (int b = 0; b < 2; ++b) {
      for (int h = 0; h < 3; ++h) {
        auto at = [&](const array& a) {
          return reshape(slice(a, {b, h, 0, 0}, {b + 1, h + 1, a.shape(2), a.shape(3)}), {a.shape(2), a.shape(3)});
        };
        auto one = quantized_matmul(at(x), at(q[0]), at(q[1]), at(q[2]), transpose, 64, 4);
        // Bit-equal on the CPU (same routine); on the GPU the batched kernel and the 2-D GEMV sum in
        // different orders (float32 rounding).
        const double tol = default_device() == Device::gpu ? 2e-6 : 0;
        EXPECT_TRUE(all_close(at(y), one.to_vector<double>(), tol, tol)) << b << " " << h << " transpose " << transpose;
      }
    }
  }
}

TEST(QuantizedBatched, GradientOfBroadcastXAndVmapOverWeights) {
  // x (1, M, K) broadcast over 3 weights: dx = sum_z c_z @ W_z, against the dequantize-then-matmul graph.
  auto q = quantize(random_array({3, 8, 64}, float32, -1, 1, 5), 32, 4);
  auto wd = dequantize(q[0], q[1], q[2], 32, 4);
  auto x = random_array({1, 2, 64}, float32, -1, 1, 6);
  auto c = random_array({3, 2, 8}, float32, -1, 1, 7);
  auto f = [&](const std::vector<array>& a) {
    return std::vector<array>{sum(quantized_matmul(a[0], q[0], a[1], a[2], true, 32, 4) * c)};
  };
  auto ref = [&](const std::vector<array>& a) {
    return std::vector<array>{sum(matmul(a[0], swapaxes(dequantize(q[0], a[1], a[2], 32, 4), -1, -2)) * c)};
  };
  auto got = vjp(f, {x, q[1], q[2]}, {array(1.0f)}).second;
  auto want = vjp(ref, {x, q[1], q[2]}, {array(1.0f)}).second;
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(got[i].shape(), want[i].shape()) << i;
    EXPECT_TRUE(all_close(got[i], want[i].to_vector<double>(), 1e-4, 1e-4)) << "cotangent " << i;
  }
  // vmap of a 2-D quantized_matmul over the weights' batch axis = the batched call.
  auto one = [&](const std::vector<array>& a) {
    return std::vector<array>{quantized_matmul(a[0], a[1], a[2], a[3], true, 32, 4)};
  };
  auto x2 = random_array({2, 64}, float32, -1, 1, 8);
  auto mapped = vmap(one, {-1, 0, 0, 0})({x2, q[0], q[1], q[2]})[0];
  auto batched = quantized_matmul(x2, q[0], q[1], q[2], true, 32, 4);
  ASSERT_EQ(mapped.shape(), (Shape{3, 2, 8}));
  EXPECT_TRUE(all_close(mapped, batched.to_vector<double>(), 1e-6, 1e-6));
}

TEST(QuantizedBatched, BadShapesThrow) {
  auto q = quantize(random_array({4, 3, 8, 64}, float32, -1, 1, 9), 32, 4);
  auto msg = error_message([&] { quantized_matmul(random_array({2, 3, 5, 64}), q[0], q[1], q[2], true, 32, 4); });
  EXPECT_EQ(msg.rfind("[quantized_matmul]", 0), 0u) << msg;
  EXPECT_NE(msg.find("broadcast"), std::string::npos) << msg;
  EXPECT_THROW(quantized_matmul(random_array({64}), q[0], q[1], q[2], true, 32, 4), std::invalid_argument);
  EXPECT_THROW(quantized_matmul(random_array({4, 3, 5, 32}), q[0], q[1], q[2], true, 32, 4), std::invalid_argument);
  // Scales of another batch than the packed weight.
  auto q2 = quantize(random_array({2, 3, 8, 64}, float32, -1, 1, 9), 32, 4);
  EXPECT_THROW(quantized_matmul(random_array({4, 3, 5, 64}), q[0], q2[1], q2[2], true, 32, 4), std::invalid_argument);
  // transpose = false: x's last dim must be the weight's rows (8).
  EXPECT_THROW(quantized_matmul(random_array({4, 3, 5, 64}), q[0], q[1], q[2], false, 32, 4), std::invalid_argument);
}

TEST(QuantizedBatched, AttentionOneKVHeadAndBfloat16MatchReference) {
  // B = 1, one KV head (the unbatched weight path) and B = 2, 2 KV heads in bfloat16 (batched path).
  for (auto [B, Hkv, dt] : {std::tuple{1, 1, float32}, std::tuple{2, 2, bfloat16}}) {
    const int Hq = 4, L = 2, T0 = 7, D = 64;
    lm::KVCache c(1);
    c.set_quantization(8, 64, 0);
    c.update_and_fetch_quantized(0, random_array({B, Hkv, T0, D}, dt, -2, 2, 1), random_array({B, Hkv, T0, D}, dt, -2, 2, 2));
    auto kv = c.update_and_fetch_quantized(0, random_array({B, Hkv, L, D}, dt, -2, 2, 3),
                                           random_array({B, Hkv, L, D}, dt, -2, 2, 4));
    const int T = T0 + L;
    array q = random_array({B, Hq, L, D}, dt, -1, 1, 5);
    array out = lm::quantized_attention(q, kv, 0.125f, std::nullopt);
    ASSERT_EQ(out.shape(), (Shape{B, Hq, L, D}));
    auto [kd, vd] = c.state(0);
    auto K = astype(kd, float32).to_vector<double>(), V = astype(vd, float32).to_vector<double>(),
         Q = astype(q, float32).to_vector<double>();
    auto got = astype(out, float32).to_vector<double>();
    double worst = 0;
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < Hq; ++h)
        for (int i = 0; i < L; ++i) {
          const int g = h / (Hq / Hkv);
          std::vector<double> s(T);
          double mx = -1e300, z = 0;
          for (int j = 0; j < T; ++j) {
            double d = 0;
            for (int e = 0; e < D; ++e) d += Q[((b * Hq + h) * L + i) * D + e] * K[((b * Hkv + g) * T + j) * D + e];
            s[j] = d * 0.125;
            mx = std::max(mx, s[j]);
          }
          for (auto& v : s) z += (v = std::exp(v - mx));
          for (int e = 0; e < D; ++e) {
            double o = 0;
            for (int j = 0; j < T; ++j) o += s[j] / z * V[((b * Hkv + g) * T + j) * D + e];
            worst = std::max(worst, std::fabs(o - got[((b * Hq + h) * L + i) * D + e]));
          }
        }
    // bfloat16: the probabilities and the output are rounded to 8 bits of mantissa.
    EXPECT_LT(worst, dt == float32 ? 1e-5 : 3e-2) << "B " << B << " Hkv " << Hkv;
  }
}
