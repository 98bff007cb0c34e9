// Tests of the random module: Threefry known answers, key handling, distributions' ranges and moments.
#include <algorithm>
#include <numeric>
#include <set>

#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

struct Moments {
  double mean, var;
};
Moments moments(const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) s += (x - m) * (x - m);
  return {m, s / (v.size() - 1)};
}

// |got - want| within k standard errors of a mean of n samples with variance var.
void expect_mean(double got, double want, double var, size_t n, double k = 5.0) {
  EXPECT_NEAR(got, want, k * std::sqrt(var / n));
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

constexpr size_t kN = 100000;

}  // namespace

TEST(Random, ThreefryKnownAnswers) {
  // Random123 known-answer vectors for threefry2x32 with 20 rounds (counter, key).
  auto r = random::threefry2x32_hash({0, 0}, {0, 0});
  EXPECT_EQ(r.first, 0x6b200159u);
  EXPECT_EQ(r.second, 0x99ba4efeu);
  r = random::threefry2x32_hash({0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(r.first, 0x1cb996fcu);
  EXPECT_EQ(r.second, 0xbb002be7u);
  r = random::threefry2x32_hash({0x13198a2eu, 0x03707344u}, {0x243f6a88u, 0x85a308d3u});
  EXPECT_EQ(r.first, 0xc4923a9cu);
  EXPECT_EQ(r.second, 0x483df7a0u);
}

TEST(Random, KeyAndSplit) {
  auto k = random::key(0x0000000500000007ull);
  EXPECT_EQ(k.dtype(), uint32);
  EXPECT_EQ(k.to_vector<uint32_t>(), std::vector<uint32_t>({5u, 7u}));
  // Same layout as JAX/MLX: split(key(0)) is JAX's split(PRNGKey(0)).
  auto ks = random::split(random::key(0), 2);
  EXPECT_EQ(ks.shape(), Shape({2, 2}));
  EXPECT_EQ(ks.to_vector<uint32_t>(), std::vector<uint32_t>({4146024105u, 967050713u, 2718843009u, 1272950319u}));
  auto [a, b] = random::split(random::key(0));
  EXPECT_EQ(a.to_vector<uint32_t>(), std::vector<uint32_t>({4146024105u, 967050713u}));
  EXPECT_EQ(b.to_vector<uint32_t>(), std::vector<uint32_t>({2718843009u, 1272950319u}));
  // Many keys, all distinct.
  auto many = random::split(random::key(3), 50).to_vector<uint32_t>();
  std::set<std::pair<uint32_t, uint32_t>> seen;
  for (size_t i = 0; i < 50; ++i) seen.insert({many[2 * i], many[2 * i + 1]});
  EXPECT_EQ(seen.size(), 50u);
}

TEST(Random, BitsLayout) {
  auto k = random::key(1234);
  std::pair<uint32_t, uint32_t> kp{0, 1234};
  // 3 words: the pair (0, 2) fills words 0 and 2, the odd middle word is hash(1, 0).first.
  auto b = random::bits({3}, 4, k).to_vector<uint32_t>();
  EXPECT_EQ(b[0], random::threefry2x32_hash(kp, {0, 2}).first);
  EXPECT_EQ(b[2], random::threefry2x32_hash(kp, {0, 2}).second);
  EXPECT_EQ(b[1], random::threefry2x32_hash(kp, {1, 0}).first);
  // 5 bytes = 2 words from the pair (0, 1), little-endian.
  auto b8 = random::bits({5}, 1, k);
  EXPECT_EQ(b8.dtype(), uint8);
  auto v8 = b8.to_vector<uint32_t>();
  auto h = random::threefry2x32_hash(kp, {0, 1});
  EXPECT_EQ(v8[0], h.first & 0xffu);
  EXPECT_EQ(v8[3], h.first >> 24);
  EXPECT_EQ(v8[4], h.second & 0xffu);
  EXPECT_EQ(random::bits({7}, 2, k).dtype(), uint16);
  EXPECT_EQ(random::bits({0, 3}, k).size(), 0u);
}

TEST(Random, Determinism) {
  auto k = random::key(42);
  auto x = random::uniform({1000}, k).to_vector<double>();
  EXPECT_EQ(x, random::uniform({1000}, k).to_vector<double>());
  EXPECT_NE(x, random::uniform({1000}, random::key(43)).to_vector<double>());
  auto n1 = random::normal({100}, k).to_vector<double>();
  EXPECT_EQ(n1, random::normal({100}, k).to_vector<double>());
  // Split keys give different streams.
  auto [k1, k2] = random::split(k);
  auto y1 = random::uniform({100}, k1).to_vector<double>();
  auto y2 = random::uniform({100}, k2).to_vector<double>();
  EXPECT_NE(y1, y2);
  EXPECT_NE(y1, std::vector<double>(x.begin(), x.begin() + 100));
  // The global key: seeding reproduces, and successive draws differ.
  random::seed(7);
  auto g1 = random::uniform({20}).to_vector<double>();
  auto g2 = random::uniform({20}).to_vector<double>();
  random::seed(7);
  EXPECT_EQ(g1, random::uniform({20}).to_vector<double>());
  EXPECT_NE(g1, g2);
}

TEST(Random, UniformRangeAndMoments) {
  auto v = random::uniform(-3.0, 5.0, {kN}, float32, random::key(1)).to_vector<double>();
  for (double x : v) {
    ASSERT_GE(x, -3.0);
    ASSERT_LT(x, 5.0);
  }
  auto m = moments(v);
  expect_mean(m.mean, 1.0, 64.0 / 12, kN);
  EXPECT_NEAR(m.var, 64.0 / 12, 0.05 * 64.0 / 12);
  // Default [0, 1), every float dtype, strictly below high even after rounding.
  for (Dtype dt : {float32, float16, bfloat16, float64}) {
    auto u = random::uniform({20000}, dt, random::key(2));
    EXPECT_EQ(u.dtype(), dt);
    auto uv = u.to_vector<double>();
    for (double x : uv) {
      ASSERT_GE(x, 0.0);
      ASSERT_LT(x, 1.0) << dtype_name(dt);
    }
    expect_mean(moments(uv).mean, 0.5, 1.0 / 12, uv.size());
  }
  // A narrow range where rounding to bfloat16 would hit `high`.
  auto nb = random::uniform(1.0, 1.0078125, {5000}, bfloat16, random::key(3)).to_vector<double>();
  for (double x : nb) ASSERT_LT(x, 1.0078125);
  // Array bounds broadcast over the shape: column j in [lo[j], hi[j]).
  auto lo = array({0.0f, 10.0f, -2.0f});
  auto hi = array({1.0f, 20.0f, -1.0f});
  auto w = random::uniform(lo, hi, {1000, 3}, float32, random::key(4)).to_vector<double>();
  double los[3] = {0, 10, -2}, his[3] = {1, 20, -1};
  for (size_t i = 0; i < w.size(); ++i) {
    ASSERT_GE(w[i], los[i % 3]);
    ASSERT_LT(w[i], his[i % 3]);
  }
  // An array and a number mixed.
  auto mixed = random::uniform(array({0.0f, 10.0f}), 20.0, {500, 2}, float32, random::key(5)).to_vector<double>();
  for (size_t i = 0; i < mixed.size(); ++i) {
    ASSERT_GE(mixed[i], i % 2 ? 10.0 : 0.0);
    ASSERT_LT(mixed[i], 20.0);
  }
}

TEST(Random, NormalMoments) {
  auto v = random::normal({kN}, random::key(5)).to_vector<double>();
  auto m = moments(v);
  expect_mean(m.mean, 0.0, 1.0, kN);
  EXPECT_NEAR(m.var, 1.0, 5 * std::sqrt(2.0 / kN));
  // The CDF at a few points (checks the erfinv shape, not just two moments).
  for (double z : {-2.0, -1.0, 0.5, 1.0, 2.5}) {
    double p = 0.5 * std::erfc(-z / std::sqrt(2.0));
    double frac = std::count_if(v.begin(), v.end(), [&](double x) { return x < z; }) / double(kN);
    EXPECT_NEAR(frac, p, 5 * std::sqrt(p * (1 - p) / kN)) << z;
  }
  auto w = random::normal({kN}, float32, 3.0f, 2.0f, random::key(6)).to_vector<double>();
  auto mw = moments(w);
  expect_mean(mw.mean, 3.0, 4.0, kN);
  EXPECT_NEAR(mw.var, 4.0, 5 * 4.0 * std::sqrt(2.0 / kN));
  for (Dtype dt : {float16, bfloat16, float64}) {
    auto h = random::normal({20000}, dt, random::key(7));
    EXPECT_EQ(h.dtype(), dt);
    auto hv = h.to_vector<double>();
    for (double x : hv) ASSERT_TRUE(std::isfinite(x));
    expect_mean(moments(hv).mean, 0.0, 1.0, hv.size());
    EXPECT_NEAR(moments(hv).var, 1.0, 0.05);
  }
}

TEST(Random, TruncatedNormal) {
  double a = -1.0, b = 2.0;
  auto v = random::truncated_normal(array(a), array(b), {kN}, float32, random::key(8)).to_vector<double>();
  for (double x : v) {
    ASSERT_GE(x, a);
    ASSERT_LE(x, b);
  }
  auto phi = [](double x) { return std::exp(-x * x / 2) / std::sqrt(2 * M_PI); };
  auto Phi = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  double Z = Phi(b) - Phi(a);
  double mean = (phi(a) - phi(b)) / Z;
  double var = 1 + (a * phi(a) - b * phi(b)) / Z - mean * mean;
  auto m = moments(v);
  expect_mean(m.mean, mean, var, kN);
  EXPECT_NEAR(m.var, var, 0.03 * var);
  // Per-column bounds and the shape from broadcasting lower/upper.
  auto t = random::truncated_normal(array({-0.5f, 1.0f}, {1, 2}), array({0.5f, 3.0f}, {1, 2}), {500, 2}, float32,
                                    random::key(9));
  auto tv = t.to_vector<double>();
  for (size_t i = 0; i < tv.size(); ++i) {
    ASSERT_GE(tv[i], i % 2 ? 1.0 : -0.5);
    ASSERT_LE(tv[i], i % 2 ? 3.0 : 0.5);
  }
  EXPECT_EQ(random::truncated_normal(array({-1.0f, 0.0f}), array(1.0f), float32, random::key(1)).shape(), Shape({2}));
}

TEST(Random, Randint) {
  auto v = random::randint(-5, 3, {kN}, int32, random::key(10));
  EXPECT_EQ(v.dtype(), int32);
  auto vv = v.to_vector<double>();
  std::vector<size_t> counts(8, 0);
  for (double x : vv) {
    ASSERT_GE(x, -5);
    ASSERT_LT(x, 3);
    ASSERT_EQ(x, std::floor(x));
    counts[static_cast<int>(x) + 5]++;
  }
  for (size_t c : counts) EXPECT_NEAR(c / double(kN), 1.0 / 8, 5 * std::sqrt((1.0 / 8) * (7.0 / 8) / kN));
  expect_mean(moments(vv).mean, -1.5, (64.0 - 1) / 12, kN);
  for (Dtype dt : {uint8, int64, int16}) {
    auto r = random::randint(0, 200, {1000}, dt, random::key(11));
    EXPECT_EQ(r.dtype(), dt);
    for (double x : r.to_vector<double>()) {
      ASSERT_GE(x, 0);
      ASSERT_LT(x, 200);
    }
  }
  // Array bounds.
  auto r2 = random::randint(array({0, 100}), array({2, 105}), {300, 2}, int32, random::key(12)).to_vector<int>();
  for (size_t i = 0; i < r2.size(); ++i) {
    ASSERT_GE(r2[i], i % 2 ? 100 : 0);
    ASSERT_LT(r2[i], i % 2 ? 105 : 2);
  }
}

TEST(Random, Bernoulli) {
  auto v = random::bernoulli(0.3, {kN}, random::key(13));
  EXPECT_EQ(v.dtype(), bool_);
  auto m = moments(v.to_vector<double>());
  expect_mean(m.mean, 0.3, 0.21, kN);
  auto p = array({0.0f, 1.0f, 0.5f});
  auto w = random::bernoulli(p, {1000, 3}, random::key(14)).to_vector<double>();
  double s[3] = {0, 0, 0};
  for (size_t i = 0; i < w.size(); ++i) s[i % 3] += w[i];
  EXPECT_EQ(s[0], 0.0);
  EXPECT_EQ(s[1], 1000.0);
  EXPECT_NEAR(s[2] / 1000, 0.5, 5 * std::sqrt(0.25 / 1000));
  EXPECT_EQ(random::bernoulli(p, random::key(1)).shape(), Shape({3}));
  EXPECT_EQ(random::bernoulli().shape(), Shape({}));
}

TEST(Random, Gumbel) {
  auto v = random::gumbel({kN}, float32, random::key(15)).to_vector<double>();
  for (double x : v) ASSERT_TRUE(std::isfinite(x));
  auto m = moments(v);
  double var = M_PI * M_PI / 6;
  expect_mean(m.mean, 0.5772156649, var, kN);
  EXPECT_NEAR(m.var, var, 0.05 * var);
}

TEST(Random, Categorical) {
  std::vector<double> p{0.1, 0.2, 0.7};
  auto logits = array({std::log(0.1f), std::log(0.2f), std::log(0.7f)});
  auto s = random::categorical(logits, -1, static_cast<int>(kN), random::key(16));
  EXPECT_EQ(s.dtype(), uint32);
  EXPECT_EQ(s.shape(), Shape({static_cast<int>(kN)}));
  std::vector<double> c(3, 0);
  for (auto x : s.to_vector<uint32_t>()) {
    ASSERT_LT(x, 3u);
    c[x]++;
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(c[i] / kN, p[i], 5 * std::sqrt(p[i] * (1 - p[i]) / kN));
  // A batch of distributions along axis 0: column j is a distribution over 2 categories.
  // logits (2, 3): column 0 always picks 1, column 1 always 0, column 2 is 50/50.
  float inf = std::numeric_limits<float>::infinity();
  auto lg = array({-inf, 0.0f, 0.0f, 0.0f, -inf, 0.0f}, {2, 3});
  auto draws = random::categorical(lg, 0, Shape{4000, 3}, random::key(17));
  EXPECT_EQ(draws.shape(), Shape({4000, 3}));
  auto dv = draws.to_vector<uint32_t>();
  double ones = 0;
  for (size_t i = 0; i < dv.size(); ++i) {
    if (i % 3 == 0) ASSERT_EQ(dv[i], 1u);
    if (i % 3 == 1) ASSERT_EQ(dv[i], 0u);
    if (i % 3 == 2) ones += dv[i];
  }
  EXPECT_NEAR(ones / 4000, 0.5, 5 * std::sqrt(0.25 / 4000));
  EXPECT_EQ(random::categorical(lg, 0, random::key(1)).shape(), Shape({3}));
  EXPECT_EQ(random::categorical(lg, 1, 5, random::key(1)).shape(), Shape({2, 5}));
}

TEST(Random, Permutation) {
  auto p = random::permutation(1000, random::key(18));
  EXPECT_EQ(p.dtype(), int32);
  auto pv = p.to_vector<int>();
  auto sorted = pv;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> expect(1000);
  std::iota(expect.begin(), expect.end(), 0);
  EXPECT_EQ(sorted, expect);
  EXPECT_NE(pv, expect);
  EXPECT_EQ(pv, random::permutation(1000, random::key(18)).to_vector<int>());
  // Rows of a 2-D array along axis 1, on a transposed (non-contiguous) input: each row keeps its values.
  std::vector<double> base(6 * 4);
  std::iota(base.begin(), base.end(), 0.0);
  auto x = transpose(array(base, {6, 4}, float32));  // (4, 6), x[i][j] = 4 j + i
  auto y = random::permutation(x, 1, random::key(19));
  auto yv = y.to_vector<double>();
  std::vector<double> first_perm;
  for (int i = 0; i < 4; ++i) {
    std::vector<double> row(yv.begin() + 6 * i, yv.begin() + 6 * (i + 1));
    // The same column order for every row.
    for (int j = 0; j < 6; ++j) ASSERT_EQ(row[j] - i, yv[j]);
    std::sort(row.begin(), row.end());
    for (int j = 0; j < 6; ++j) ASSERT_EQ(row[j], 4 * j + i);
  }
}

TEST(Random, Errors) {
  auto k = random::key(0);
  auto msg = [](auto f) { return error_message(f); };
  EXPECT_TRUE(starts_with(msg([&] { random::uniform({3}, int32, k); }), "[random.uniform]"));
  EXPECT_TRUE(starts_with(msg([&] { random::uniform(array({0.0f, 1.0f, 2.0f}), array(5.0f), {2}, float32, k); }),
                          "[random.uniform]"));
  EXPECT_TRUE(starts_with(msg([&] { random::uniform({3}, float32, array({1, 2})); }), "[random.uniform]"));
  EXPECT_TRUE(starts_with(msg([&] { random::uniform({3}, float32, array({1u, 2u, 3u})); }), "[random.uniform]"));
  EXPECT_TRUE(starts_with(msg([&] { random::uniform({-1}, float32, k); }), "[random.uniform]"));
  EXPECT_TRUE(starts_with(msg([&] { random::bits({3}, 3, k); }), "[random.bits]"));
  EXPECT_TRUE(starts_with(msg([&] { random::split(k, 0); }), "[random.split]"));
  EXPECT_TRUE(starts_with(msg([&] { random::normal({3}, int32, k); }), "[random.normal]"));
  EXPECT_TRUE(starts_with(msg([&] { random::truncated_normal(array(0.0f), array(1.0f), {3}, int8, k); }),
                          "[random.truncated_normal]"));
  EXPECT_TRUE(starts_with(msg([&] { random::randint(0, 3, {3}, float32, k); }), "[random.randint]"));
  EXPECT_TRUE(starts_with(msg([&] { random::bernoulli(array(1), {3}, k); }), "[random.bernoulli]"));
  EXPECT_TRUE(starts_with(msg([&] { random::gumbel({3}, uint8, k); }), "[random.gumbel]"));
  EXPECT_TRUE(starts_with(msg([&] { random::categorical(zeros({2, 3}), 1, Shape{3}, k); }), "[random.categorical]"));
  EXPECT_TRUE(starts_with(msg([&] { random::categorical(array(1.0f), 0, k); }), "[random.categorical]"));
  EXPECT_THROW(random::categorical(zeros({2, 3}), 2, k), std::out_of_range);
  EXPECT_TRUE(starts_with(msg([&] { random::permutation(array(1.0f), 0, k); }), "[random.permutation]"));
  EXPECT_TRUE(starts_with(msg([&] { random::permutation(-1, k); }), "[random.permutation]"));
  EXPECT_THROW(random::permutation(zeros({2, 3}), 2, k), std::out_of_range);
}
