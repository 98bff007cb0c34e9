// Tests of creation ops: linspace, eye, identity, tri (plus full/zeros/arange basics).
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {
bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
}  // namespace

TEST(Creation, Linspace) {
  for (auto [start, stop, num] : std::vector<std::tuple<double, double, int>>{{0, 1, 5}, {-3, 7, 11}, {2, -2, 4}, {1, 1, 3}, {0.5, 9.25, 50}}) {
    std::vector<double> want(num);
    for (int i = 0; i < num; ++i) want[i] = num == 1 ? start : start + (stop - start) * i / (num - 1);
    for (Dtype d : {float32, float64, float16, bfloat16}) {
      auto a = linspace(start, stop, num, d);
      EXPECT_EQ(a.dtype(), d);
      EXPECT_EQ(a.shape(), Shape({num}));
      double rt = d == float64 ? 1e-14 : d == float32 ? 1e-6 : d == float16 ? 1e-3 : 8e-3;
      EXPECT_TRUE(all_close(a, want, rt, rt)) << dtype_name(d);
    }
    // Exact end points.
    auto v = linspace(start, stop, num).to_vector<float>();
    EXPECT_EQ(v.front(), float(start));
    if (num > 1) EXPECT_EQ(v.back(), float(stop));
  }
  EXPECT_EQ(linspace(0, 1, 1).to_vector<float>(), std::vector<float>({0.0f}));
  EXPECT_EQ(linspace(0, 1, 0).shape(), Shape({0}));
  // Integer dtypes floor (NumPy): -1, -0.5 -> -1, 0, 0.5 -> 0, 1.
  EXPECT_EQ(linspace(-1, 1, 5, int32).to_vector<int>(), std::vector<int>({-1, -1, 0, 0, 1}));
  EXPECT_EQ(linspace(0, 10, 6, int32).dtype(), int32);
  EXPECT_TRUE(starts_with(error_message([] { linspace(0, 1, -1); }), "[linspace]"));
}

TEST(Creation, EyeIdentityTri) {
  for (auto [n, m, k] : std::vector<std::tuple<int, int, int>>{{3, 3, 0}, {3, 5, 1}, {4, 2, -1}, {2, 2, 5}, {3, 4, -2}}) {
    for (Dtype d : {float32, int32, bool_, float16, bfloat16, float64}) {
      auto e = eye(n, m, k, d);
      auto t = tri(n, m, k, d);
      EXPECT_EQ(e.shape(), Shape({n, m}));
      EXPECT_EQ(e.dtype(), d);
      EXPECT_EQ(t.dtype(), d);
      std::vector<double> we(n * m), wt(n * m);
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < m; ++j) {
          we[i * m + j] = j - i == k ? 1 : 0;
          wt[i * m + j] = j <= i + k ? 1 : 0;
        }
      }
      EXPECT_TRUE(all_close(e, we, 0, 0)) << n << " " << m << " " << k << " " << dtype_name(d);
      EXPECT_TRUE(all_close(t, wt, 0, 0)) << n << " " << m << " " << k << " " << dtype_name(d);
    }
  }
  auto id = identity(4, int64);
  EXPECT_EQ(id.dtype(), int64);
  auto v = id.to_vector<int64_t>();
  for (int i = 0; i < 16; ++i) EXPECT_EQ(v[i], i % 5 == 0 ? 1 : 0);
  EXPECT_EQ(eye(3).shape(), Shape({3, 3}));
  EXPECT_EQ(eye(2, float16).dtype(), float16);
  EXPECT_EQ(tri(3).to_vector<float>(), std::vector<float>({1, 0, 0, 1, 1, 0, 1, 1, 1}));
  EXPECT_EQ(eye(0).shape(), Shape({0, 0}));
  EXPECT_TRUE(starts_with(error_message([] { eye(-1); }), "[eye]"));
  EXPECT_TRUE(starts_with(error_message([] { eye(2, -3, 0); }), "[eye]"));
  EXPECT_TRUE(starts_with(error_message([] { tri(-2, 2, 0); }), "[tri]"));
  EXPECT_TRUE(starts_with(error_message([] { identity(-1); }), "[identity]"));
}

TEST(Creation, FullZerosArange) {
  EXPECT_TRUE(all_close(full({2, 2}, 3.5f), {3.5, 3.5, 3.5, 3.5}));
  EXPECT_EQ(zeros({3}, int8).dtype(), int8);
  EXPECT_TRUE(all_close(arange(1.0, 2.0, 0.25), {1, 1.25, 1.5, 1.75}));
  EXPECT_TRUE(starts_with(error_message([] { arange(0.0, 1.0, 0.0); }), "[arange]"));
}
