// Tests of the fused fast ops against float64 loop references: norms, rope and attention.
#include <limits>
#include <optional>

#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

struct Tol {
  double rtol, atol;
};
Tol tol_for(Dtype d) {
  if (d == float16) return {1e-2, 1e-2};
  if (d == bfloat16) return {4e-2, 4e-2};
  if (d == float64) return {1e-6, 1e-6};
  return {1e-4, 1e-5};
}

// Values of `v` after rounding through dtype d (what the op actually receives).
std::vector<double> rounded(const std::vector<double>& v, Dtype d) {
  return astype(array(v, {static_cast<int>(v.size())}, float64), d).to_vector<double>();
}

std::vector<double> ref_rms(const std::vector<double>& x, size_t d, const std::vector<double>* w, double eps) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / d; ++r) {
    double ss = 0;
    for (size_t i = 0; i < d; ++i) ss += x[r * d + i] * x[r * d + i];
    double inv = 1.0 / std::sqrt(ss / d + eps);
    for (size_t i = 0; i < d; ++i) out[r * d + i] = x[r * d + i] * inv * (w ? (*w)[i] : 1.0);
  }
  return out;
}

std::vector<double> ref_ln(const std::vector<double>& x, size_t d, const std::vector<double>* w,
                           const std::vector<double>* b, double eps) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / d; ++r) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < d; ++i) mean += x[r * d + i];
    mean /= d;
    for (size_t i = 0; i < d; ++i) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
    var /= d;
    for (size_t i = 0; i < d; ++i) {
      out[r * d + i] = (x[r * d + i] - mean) / std::sqrt(var + eps) * (w ? (*w)[i] : 1.0) + (b ? (*b)[i] : 0.0);
    }
  }
  return out;
}

// x: (..., L, D) row-major; offsets: one per leading batch element (size 1 = shared).
std::vector<double> ref_rope(const std::vector<double>& x, const Shape& shape, int dims, bool trad, double base,
                             double scale, const std::vector<int>& offsets, const std::vector<double>* freqs = nullptr) {
  size_t d = shape.back(), L = shape[shape.size() - 2], rows = x.size() / d;
  size_t per_batch = rows / offsets.size();
  std::vector<double> out(x);
  int half = dims / 2;
  for (size_t r = 0; r < rows; ++r) {
    double pos = offsets[r / per_batch] + static_cast<double>(r % L);
    for (int i = 0; i < half; ++i) {
      double inv = freqs ? 1.0 / (*freqs)[i] : std::pow(base, -2.0 * i / dims);
      double th = pos * scale * inv;
      size_t a = trad ? 2 * i : i, b = trad ? 2 * i + 1 : i + half;
      double xa = x[r * d + a], xb = x[r * d + b];
      out[r * d + a] = xa * std::cos(th) - xb * std::sin(th);
      out[r * d + b] = xa * std::sin(th) + xb * std::cos(th);
    }
  }
  return out;
}

// Attention reference. mask: additive values of shape (B, Hq, Lq, Lk) already broadcast (or empty).
std::vector<double> ref_sdpa(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                             int B, int Hq, int Hkv, int Lq, int Lk, int D, int Dv, double scale, bool causal,
                             const std::vector<double>& mask) {
  std::vector<double> out(static_cast<size_t>(B) * Hq * Lq * Dv);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < Hq; ++h) {
      int kh = h / (Hq / Hkv);
      for (int i = 0; i < Lq; ++i) {
        std::vector<double> s(Lk);
        double mx = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < Lk; ++j) {
          double dot = 0;
          for (int c = 0; c < D; ++c) {
            dot += q[((static_cast<size_t>(b) * Hq + h) * Lq + i) * D + c] * k[((static_cast<size_t>(b) * Hkv + kh) * Lk + j) * D + c];
          }
          s[j] = dot * scale;
          if (!mask.empty()) s[j] += mask[((static_cast<size_t>(b) * Hq + h) * Lq + i) * Lk + j];
          if (causal && j > i + Lk - Lq) s[j] = -std::numeric_limits<double>::infinity();
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < Lk; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int c = 0; c < Dv; ++c) {
          double acc = 0;
          for (int j = 0; j < Lk; ++j) acc += s[j] / sum * v[((static_cast<size_t>(b) * Hkv + kh) * Lk + j) * Dv + c];
          out[((static_cast<size_t>(b) * Hq + h) * Lq + i) * Dv + c] = acc;
        }
      }
    }
  return out;
}

}  // namespace

TEST(FastRMSNorm, MatchesReference) {
  for (Dtype dt : {float32, float64, float16, bfloat16}) {
    for (Shape shape : {Shape{3, 8}, Shape{2, 5, 33}, Shape{1, 1}, Shape{7, 300}, Shape{16}}) {
      size_t d = shape.back();
      auto xv = rounded(random_values(shape_size(shape), -2, 2, 1), dt);
      auto wv = rounded(random_values(d, 0.5, 1.5, 2), dt);
      auto x = astype(array(xv, shape, float64), dt);
      auto w = astype(array(wv, {static_cast<int>(d)}, float64), dt);
      auto t = tol_for(dt);
      auto y = fast::rms_norm(x, w, 1e-5f);
      EXPECT_EQ(y.dtype(), dt);
      EXPECT_EQ(y.shape(), shape);
      EXPECT_TRUE(all_close(y, ref_rms(xv, d, &wv, 1e-5), t.rtol, t.atol)) << dtype_name(dt) << shape_str(shape);
      EXPECT_TRUE(all_close(fast::rms_norm(x, std::nullopt, 1e-3f), ref_rms(xv, d, nullptr, 1e-3), t.rtol, t.atol))
          << dtype_name(dt) << shape_str(shape);
    }
  }
}

TEST(FastRMSNorm, NonContiguousAndFloat32Weight) {
  auto base = random_values(8 * 6, -1, 1, 3);
  // Transposed view: y[i][j] = base[j][i] with base (8, 6) -> x (6, 8).
  auto x = transpose(array(base, {8, 6}, float64));
  std::vector<double> xv(48);
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 8; ++j) xv[i * 8 + j] = base[j * 6 + i];
  auto wv = random_values(8, -1, 1, 4);
  // Weight as a strided slice of a longer vector.
  std::vector<double> wlong(16, 99.0);
  for (int i = 0; i < 8; ++i) wlong[2 * i] = wv[i];
  auto w = slice(array(wlong, {16}, float64), {0}, {16}, {2});
  EXPECT_TRUE(all_close(fast::rms_norm(astype(x, float32), w, 1e-6f), ref_rms(xv, 8, &wv, 1e-6), 1e-4, 1e-5));
  // Broadcast input (stride 0 rows).
  auto row = random_values(5, -1, 1, 5);
  auto xb = broadcast_to(array(row, {1, 5}, float64), {4, 5});
  std::vector<double> rep;
  for (int i = 0; i < 4; ++i) rep.insert(rep.end(), row.begin(), row.end());
  EXPECT_TRUE(all_close(fast::rms_norm(xb, std::nullopt, 1e-5f), ref_rms(rep, 5, nullptr, 1e-5), 1e-6, 1e-7));
}

TEST(FastRMSNorm, Errors) {
  auto x = zeros({4, 8});
  EXPECT_EQ(error_message([&] { fast::rms_norm(zeros({4, 8}, int32), std::nullopt, 1e-5f); }).rfind("[rms_norm]", 0), 0u);
  EXPECT_EQ(error_message([&] { fast::rms_norm(array(1.0f), std::nullopt, 1e-5f); }).rfind("[rms_norm]", 0), 0u);
  EXPECT_EQ(error_message([&] { fast::rms_norm(x, zeros({7}), 1e-5f); }).rfind("[rms_norm]", 0), 0u);
  EXPECT_EQ(error_message([&] { fast::rms_norm(x, zeros({1, 8}), 1e-5f); }).rfind("[rms_norm]", 0), 0u);
  EXPECT_THROW(fast::rms_norm(x, zeros({7}), 1e-5f), std::invalid_argument);
}

TEST(FastLayerNorm, MatchesReference) {
  for (Dtype dt : {float32, float64, float16, bfloat16}) {
    for (Shape shape : {Shape{3, 8}, Shape{2, 3, 47}, Shape{4, 256}}) {
      size_t d = shape.back();
      auto xv = rounded(random_values(shape_size(shape), -3, 5, 6), dt);
      auto wv = rounded(random_values(d, 0.5, 1.5, 7), dt);
      auto bv = rounded(random_values(d, -1, 1, 8), dt);
      auto x = astype(array(xv, shape, float64), dt);
      auto w = astype(array(wv, {static_cast<int>(d)}, float64), dt);
      auto b = astype(array(bv, {static_cast<int>(d)}, float64), dt);
      auto t = tol_for(dt);
      auto y = fast::layer_norm(x, w, b, 1e-5f);
      EXPECT_EQ(y.dtype(), dt);
      EXPECT_TRUE(all_close(y, ref_ln(xv, d, &wv, &bv, 1e-5), t.rtol, t.atol)) << dtype_name(dt) << shape_str(shape);
      EXPECT_TRUE(all_close(fast::layer_norm(x, std::nullopt, std::nullopt, 1e-5f), ref_ln(xv, d, nullptr, nullptr, 1e-5),
                            t.rtol, t.atol));
      EXPECT_TRUE(all_close(fast::layer_norm(x, w, std::nullopt, 1e-5f), ref_ln(xv, d, &wv, nullptr, 1e-5), t.rtol, t.atol));
      EXPECT_TRUE(all_close(fast::layer_norm(x, std::nullopt, b, 1e-5f), ref_ln(xv, d, nullptr, &bv, 1e-5), t.rtol, t.atol));
    }
  }
}

TEST(FastLayerNorm, NonContiguousAndErrors) {
  auto base = random_values(10 * 12, -1, 1, 9);
  // Every other row and reversed columns of a (10, 12) array -> (5, 12).
  auto x = slice(array(base, {10, 12}, float64), {0, 11}, {10, -13}, {2, -1});
  std::vector<double> xv;
  for (int i = 0; i < 10; i += 2)
    for (int j = 11; j >= 0; --j) xv.push_back(base[i * 12 + j]);
  EXPECT_TRUE(all_close(fast::layer_norm(astype(x, float32), std::nullopt, std::nullopt, 1e-5f),
                        ref_ln(xv, 12, nullptr, nullptr, 1e-5), 1e-4, 1e-5));
  EXPECT_EQ(error_message([] { fast::layer_norm(zeros({2, 3}, int32), std::nullopt, std::nullopt, 1e-5f); }).rfind("[layer_norm]", 0), 0u);
  EXPECT_EQ(error_message([] { fast::layer_norm(zeros({2, 3}), std::nullopt, zeros({4}), 1e-5f); }).rfind("[layer_norm]", 0), 0u);
  EXPECT_EQ(error_message([] { fast::layer_norm(zeros({2, 3}), zeros({2}), std::nullopt, 1e-5f); }).rfind("[layer_norm]", 0), 0u);
}

TEST(FastRoPE, MatchesReference) {
  for (Dtype dt : {float32, float16, bfloat16}) {
    for (bool trad : {false, true}) {
      for (int dims : {16, 8}) {
        Shape shape{2, 3, 5, 16};
        auto xv = rounded(random_values(shape_size(shape), -1, 1, 10), dt);
        auto x = astype(array(xv, shape, float64), dt);
        auto t = tol_for(dt);
        auto y = fast::rope(x, dims, trad, 10000.0f, 1.0f, 0);
        EXPECT_EQ(y.dtype(), dt);
        EXPECT_TRUE(all_close(y, ref_rope(xv, shape, dims, trad, 10000.0, 1.0, {0}), t.rtol, t.atol))
            << trad << " " << dims << dtype_name(dt);
        auto y2 = fast::rope(x, dims, trad, 500.0f, 0.5f, 37);
        EXPECT_TRUE(all_close(y2, ref_rope(xv, shape, dims, trad, 500.0, 0.5, {37}), t.rtol, t.atol))
            << trad << " " << dims << dtype_name(dt);
      }
    }
  }
}

TEST(FastRoPE, FreqsArrayOffsetAndViews) {
  Shape shape{3, 4, 6, 10};
  auto xv = random_values(shape_size(shape), -1, 1, 11);
  auto x = array(xv, shape, float32);
  // Per-batch offsets.
  std::vector<int> offs{0, 5, 100};
  auto y = fast::rope(x, 8, false, 10000.0f, 1.0f, array({0, 5, 100}));
  EXPECT_TRUE(all_close(y, ref_rope(xv, shape, 8, false, 10000.0, 1.0, offs), 1e-4, 1e-5));
  // A scalar array offset.
  EXPECT_TRUE(all_close(fast::rope(x, 8, true, 10000.0f, 2.0f, array(7)), ref_rope(xv, shape, 8, true, 10000.0, 2.0, {7}),
                        1e-4, 1e-5));
  // Custom frequencies.
  std::vector<double> fv{1.0, 3.0, 10.0, 40.0};
  auto yf = fast::rope(x, 8, false, std::nullopt, 1.0f, 3, array(fv, {4}, float64));
  EXPECT_TRUE(all_close(yf, ref_rope(xv, shape, 8, false, 0.0, 1.0, {3}, &fv), 1e-4, 1e-5));
  // Transposed input: (B, L, H, D) viewed as (B, H, L, D).
  Shape tshape{2, 5, 3, 8};
  auto tv = random_values(shape_size(tshape), -1, 1, 12);
  auto xt = swapaxes(array(tv, tshape, float32), 1, 2);
  std::vector<double> tref(tv.size());
  for (int b = 0; b < 2; ++b)
    for (int h = 0; h < 3; ++h)
      for (int l = 0; l < 5; ++l)
        for (int c = 0; c < 8; ++c) tref[((b * 3 + h) * 5 + l) * 8 + c] = tv[((b * 5 + l) * 3 + h) * 8 + c];
  EXPECT_TRUE(all_close(fast::rope(xt, 8, false, 10000.0f, 1.0f, 2), ref_rope(tref, {2, 3, 5, 8}, 8, false, 10000.0, 1.0, {2}),
                        1e-4, 1e-5));
}

TEST(FastRoPE, Errors) {
  auto x = zeros({2, 4, 8});
  auto starts = [](const std::string& m) { return m.rfind("[rope]", 0) == 0; };
  EXPECT_TRUE(starts(error_message([&] { fast::rope(x, 7, false, 10000.0f, 1.0f, 0); })));
  EXPECT_TRUE(starts(error_message([&] { fast::rope(x, 10, false, 10000.0f, 1.0f, 0); })));
  EXPECT_TRUE(starts(error_message([&] { fast::rope(zeros({2, 4, 8}, int32), 8, false, 10000.0f, 1.0f, 0); })));
  EXPECT_TRUE(starts(error_message([&] { fast::rope(x, 8, false, std::nullopt, 1.0f, 0); })));
  EXPECT_TRUE(starts(error_message([&] { fast::rope(x, 8, false, 10000.0f, 1.0f, 0, zeros({4})); })));
  EXPECT_TRUE(starts(error_message([&] { fast::rope(x, 8, false, std::nullopt, 1.0f, 0, zeros({3})); })));
  EXPECT_TRUE(starts(error_message([&] { fast::rope(x, 8, false, 10000.0f, 1.0f, array(1.5f)); })));
  EXPECT_TRUE(starts(error_message([&] { fast::rope(x, 8, false, 10000.0f, 1.0f, array({1, 2, 3})); })));
  EXPECT_TRUE(starts(error_message([&] { fast::rope(zeros({8}), 8, false, 10000.0f, 1.0f, 0); })));
}

namespace {
struct SdpaCase {
  int B, Hq, Hkv, Lq, Lk, D, Dv;
};

void check_sdpa(const SdpaCase& c, Dtype dt, bool causal, int mask_kind, unsigned seed) {
  auto qv = rounded(random_values(static_cast<size_t>(c.B) * c.Hq * c.Lq * c.D, -1, 1, seed), dt);
  auto kv = rounded(random_values(static_cast<size_t>(c.B) * c.Hkv * c.Lk * c.D, -1, 1, seed + 1), dt);
  auto vv = rounded(random_values(static_cast<size_t>(c.B) * c.Hkv * c.Lk * c.Dv, -1, 1, seed + 2), dt);
  auto q = astype(array(qv, {c.B, c.Hq, c.Lq, c.D}, float64), dt);
  auto k = astype(array(kv, {c.B, c.Hkv, c.Lk, c.D}, float64), dt);
  auto v = astype(array(vv, {c.B, c.Hkv, c.Lk, c.Dv}, float64), dt);
  double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
  std::vector<double> mask_full;
  std::optional<array> mask;
  size_t nfull = static_cast<size_t>(c.B) * c.Hq * c.Lq * c.Lk;
  if (mask_kind == 1) {  // additive (Lq, Lk), broadcast over batch and heads
    auto mv = random_values(static_cast<size_t>(c.Lq) * c.Lk, -2, 2, seed + 3);
    mask = array(mv, {c.Lq, c.Lk}, float32);
    mask_full.resize(nfull);
    for (size_t i = 0; i < nfull; ++i) mask_full[i] = static_cast<float>(mv[i % mv.size()]);
  } else if (mask_kind == 2) {  // boolean (B, 1, Lq, Lk), one visible key per row at least
    std::vector<bool> bm(static_cast<size_t>(c.B) * c.Lq * c.Lk);
    auto r = random_values(bm.size(), 0, 1, seed + 4);
    for (size_t i = 0; i < bm.size(); ++i) bm[i] = r[i] < 0.6 || (i % c.Lk) == 0;
    mask = array(bm, {c.B, 1, c.Lq, c.Lk});
    mask_full.resize(nfull);
    for (int b = 0; b < c.B; ++b)
      for (int h = 0; h < c.Hq; ++h)
        for (int i = 0; i < c.Lq * c.Lk; ++i) {
          mask_full[(static_cast<size_t>(b) * c.Hq + h) * c.Lq * c.Lk + i] =
              bm[static_cast<size_t>(b) * c.Lq * c.Lk + i] ? 0.0 : -std::numeric_limits<double>::infinity();
        }
  }
  auto out = fast::scaled_dot_product_attention(q, k, v, static_cast<float>(scale), causal ? "causal" : "", mask);
  EXPECT_EQ(out.shape(), Shape({c.B, c.Hq, c.Lq, c.Dv}));
  EXPECT_EQ(out.dtype(), dt);
  auto ref = ref_sdpa(qv, kv, vv, c.B, c.Hq, c.Hkv, c.Lq, c.Lk, c.D, c.Dv, static_cast<float>(scale), causal, mask_full);
  auto t = tol_for(dt);
  EXPECT_TRUE(all_close(out, ref, t.rtol, t.atol))
      << dtype_name(dt) << " causal=" << causal << " mask=" << mask_kind << " Lq=" << c.Lq << " Lk=" << c.Lk;
}
}  // namespace

TEST(FastSDPA, Plain) {
  check_sdpa({2, 4, 4, 5, 7, 16, 8}, float32, false, 0, 20);
  check_sdpa({1, 2, 2, 3, 200, 64, 64}, float32, false, 0, 21);  // several key blocks
  check_sdpa({1, 2, 2, 1, 1, 4, 3}, float32, false, 0, 22);
  check_sdpa({2, 2, 2, 4, 9, 8, 8}, float16, false, 0, 23);
  check_sdpa({2, 2, 2, 4, 9, 8, 8}, bfloat16, false, 0, 24);
  check_sdpa({2, 2, 2, 4, 9, 8, 8}, float64, false, 0, 25);
}

TEST(FastSDPA, CausalAndGQA) {
  check_sdpa({2, 3, 3, 6, 6, 8, 8}, float32, true, 0, 30);
  check_sdpa({1, 2, 2, 3, 9, 8, 4}, float32, true, 0, 31);      // Lq < Lk: bottom-right aligned
  check_sdpa({1, 2, 2, 70, 140, 16, 16}, float32, true, 0, 32);  // across block boundaries
  check_sdpa({2, 6, 2, 5, 7, 8, 8}, float32, false, 0, 33);     // GQA, 3 query heads per kv head
  check_sdpa({1, 8, 1, 4, 12, 16, 8}, float32, true, 0, 34);    // MQA + causal
}

TEST(FastSDPA, Masks) {
  check_sdpa({2, 4, 2, 5, 7, 8, 8}, float32, false, 1, 40);
  check_sdpa({2, 4, 2, 5, 7, 8, 8}, float32, false, 2, 41);
  check_sdpa({1, 2, 2, 3, 130, 8, 8}, float32, false, 2, 42);
  check_sdpa({2, 2, 1, 3, 9, 8, 8}, float16, false, 1, 43);
}

TEST(FastSDPA, NonContiguousInputs) {
  // q, k, v laid out (B, L, H, D) and transposed to (B, H, L, D), as after a projection.
  int B = 2, H = 3, Lq = 4, Lk = 6, D = 8;
  auto qv = random_values(static_cast<size_t>(B) * Lq * H * D, -1, 1, 50);
  auto kv = random_values(static_cast<size_t>(B) * Lk * H * D, -1, 1, 51);
  auto vv = random_values(static_cast<size_t>(B) * Lk * H * D, -1, 1, 52);
  auto to_bhld = [&](const std::vector<double>& x, int L) {
    std::vector<double> o(x.size());
    for (int b = 0; b < B; ++b)
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h)
          for (int c = 0; c < D; ++c) o[((b * H + h) * L + l) * D + c] = x[((b * L + l) * H + h) * D + c];
    return o;
  };
  auto q = swapaxes(array(qv, {B, Lq, H, D}, float32), 1, 2);
  auto k = swapaxes(array(kv, {B, Lk, H, D}, float32), 1, 2);
  auto v = swapaxes(array(vv, {B, Lk, H, D}, float32), 1, 2);
  // A transposed additive mask (Lk, Lq) -> (Lq, Lk).
  auto mv = random_values(static_cast<size_t>(Lk) * Lq, -1, 1, 53);
  auto mask = transpose(array(mv, {Lk, Lq}, float32));
  std::vector<double> mfull(static_cast<size_t>(B) * H * Lq * Lk);
  for (size_t n = 0; n < mfull.size(); ++n) {
    int j = static_cast<int>(n % Lk), i = static_cast<int>((n / Lk) % Lq);
    mfull[n] = static_cast<float>(mv[j * Lq + i]);
  }
  auto out = fast::scaled_dot_product_attention(q, k, v, 0.3f, mask);
  auto ref = ref_sdpa(to_bhld(qv, Lq), to_bhld(kv, Lk), to_bhld(vv, Lk), B, H, H, Lq, Lk, D, D, 0.3f, false, mfull);
  EXPECT_TRUE(all_close(out, ref, 1e-4, 1e-5));
}

TEST(FastSDPA, Errors) {
  auto q = zeros({1, 4, 3, 8}), k = zeros({1, 2, 5, 8}), v = zeros({1, 2, 5, 8});
  const char* p = "[scaled_dot_product_attention]";
  auto starts = [&](const std::string& m) { return m.rfind(p, 0) == 0; };
  EXPECT_TRUE(starts(error_message([&] { fast::scaled_dot_product_attention(zeros({4, 3, 8}), k, v, 1.0f); })));
  EXPECT_TRUE(starts(error_message([&] { fast::scaled_dot_product_attention(zeros({1, 3, 3, 8}), k, v, 1.0f); })));
  EXPECT_TRUE(starts(error_message([&] { fast::scaled_dot_product_attention(q, zeros({1, 2, 5, 4}), v, 1.0f); })));
  EXPECT_TRUE(starts(error_message([&] { fast::scaled_dot_product_attention(q, k, zeros({1, 2, 6, 8}), 1.0f); })));
  EXPECT_TRUE(starts(error_message([&] { fast::scaled_dot_product_attention(q, k, v, 1.0f, "sideways"); })));
  EXPECT_TRUE(starts(error_message([&] { fast::scaled_dot_product_attention(q, k, v, 1.0f, zeros({3, 4})); })));
  EXPECT_TRUE(starts(error_message([&] {
    fast::scaled_dot_product_attention(zeros({1, 4, 3, 8}, int32), zeros({1, 2, 5, 8}, int32), zeros({1, 2, 5, 8}, int32), 1.0f);
  })));
  EXPECT_TRUE(starts(error_message([&] { fast::scaled_dot_product_attention(q, k, v, 1.0f, "causal", zeros({3, 5})); })));
}
