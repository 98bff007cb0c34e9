// Tests of sort, argsort, partition, argpartition and topk against std::sort on float64 copies.
#include <algorithm>
#include <numeric>

#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {
// Lines of x (row-major `shape`) along `axis`, each as a vector.
std::vector<std::vector<double>> lines(const std::vector<double>& x, const Shape& shape, int axis) {
  size_t outer = 1, inner = 1, n = shape[axis];
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (int d = axis + 1; d < static_cast<int>(shape.size()); ++d) inner *= shape[d];
  std::vector<std::vector<double>> out;
  for (size_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < inner; ++i) {
      std::vector<double> l;
      for (size_t j = 0; j < n; ++j) l.push_back(x[(o * n + j) * inner + i]);
      out.push_back(l);
    }
  }
  return out;
}
bool nan_last(double a, double b) { return a < b || (std::isnan(b) && !std::isnan(a)); }
}  // namespace

TEST(Sort, SortArgsortAxesDtypes) {
  Shape sh{4, 9, 5};
  for (Dtype dt : {float32, float64, int8, uint16, int32, int64, float16, bfloat16}) {
    // Few distinct values: plenty of ties to check argsort's stability.
    auto a = astype(astype(random_array(sh, float32, 0, 6, 50), int32), dt);
    auto x = a.to_vector<double>();
    for (int ax = -3; ax < 3; ++ax) {
      int axis = ax < 0 ? ax + 3 : ax;
      auto s = sort(a, ax);
      auto as = argsort(a, ax);
      EXPECT_EQ(s.dtype(), dt);
      EXPECT_EQ(as.dtype(), uint32);
      auto sl = lines(s.to_vector<double>(), sh, axis);
      auto al = lines(as.to_vector<double>(), sh, axis);
      auto xl = lines(x, sh, axis);
      for (size_t l = 0; l < xl.size(); ++l) {
        auto ref = xl[l];
        std::vector<size_t> ri(ref.size());
        std::iota(ri.begin(), ri.end(), 0);
        std::stable_sort(ri.begin(), ri.end(), [&](size_t p, size_t q) { return ref[p] < ref[q]; });
        std::sort(ref.begin(), ref.end());
        ASSERT_EQ(sl[l], ref) << dtype_name(dt) << " axis " << ax;
        for (size_t j = 0; j < ri.size(); ++j) ASSERT_EQ(al[l][j], ri[j]) << dtype_name(dt) << " axis " << ax;
      }
    }
  }
}

TEST(Sort, NaNsNonContiguousFlatten) {
  auto a = array({3.0f, NAN, 1.0f, -INFINITY, 2.0f, NAN, 0.0f, 5.0f}, {2, 4});
  auto s = sort(a, 1).to_vector<double>();
  EXPECT_EQ(s[0], -INFINITY);
  EXPECT_EQ(s[1], 1);
  EXPECT_EQ(s[2], 3);
  EXPECT_TRUE(std::isnan(s[3]));
  EXPECT_EQ(s[4], 0);
  EXPECT_TRUE(std::isnan(s[7]));
  EXPECT_EQ(argsort(a, 1).to_vector<int>(), std::vector<int>({3, 2, 0, 1, 2, 0, 3, 1}));
  auto flat = sort(a).to_vector<double>();
  EXPECT_EQ(flat.size(), 8u);
  EXPECT_EQ(flat[0], -INFINITY);
  EXPECT_TRUE(std::isnan(flat[6]) && std::isnan(flat[7]));
  EXPECT_EQ(argsort(a).shape(), Shape({8}));
  // transposed and reversed views
  auto b = random_array({6, 11}, float32, -1, 1, 7);
  for (auto v : {transpose(b), slice(b, {5, 10}, {0, 0}, {-2, -3})}) {
    auto xv = v.to_vector<double>();
    for (int ax : {0, 1}) {
      auto got = lines(sort(v, ax).to_vector<double>(), v.shape(), ax);
      auto ref = lines(xv, v.shape(), ax);
      for (size_t l = 0; l < ref.size(); ++l) {
        std::sort(ref[l].begin(), ref[l].end());
        ASSERT_EQ(got[l], ref[l]);
      }
    }
  }
  // size-1 and empty axes
  EXPECT_EQ(sort(zeros({3, 0}), 1).shape(), Shape({3, 0}));
  EXPECT_EQ(argsort(ones({2, 1}), 1).to_vector<int>(), std::vector<int>({0, 0}));
  // large, parallel
  auto big = random_array({200, 1000}, float32, -1, 1, 8);
  auto xb = lines(big.to_vector<double>(), {200, 1000}, 1);
  auto gb = lines(sort(big, 1).to_vector<double>(), {200, 1000}, 1);
  for (size_t l = 0; l < xb.size(); ++l) {
    std::sort(xb[l].begin(), xb[l].end());
    ASSERT_EQ(gb[l], xb[l]);
  }
}

TEST(Sort, PartitionArgpartitionTopk) {
  Shape sh{5, 13, 4};
  for (Dtype dt : {float32, int32, float16, uint8}) {
    auto a = random_array(sh, dt, 0, 100, 60);
    auto x = a.to_vector<double>();
    for (int ax : {0, 1, 2}) {
      int n = sh[ax];
      for (int kth : {0, n / 2, n - 1, -1}) {
        int k = kth < 0 ? kth + n : kth;
        auto p = lines(partition(a, kth, ax).to_vector<double>(), sh, ax);
        auto ap = lines(argpartition(a, kth, ax).to_vector<double>(), sh, ax);
        auto xl = lines(x, sh, ax);
        for (size_t l = 0; l < xl.size(); ++l) {
          auto sorted = xl[l];
          std::sort(sorted.begin(), sorted.end());
          ASSERT_EQ(p[l][k], sorted[k]) << dtype_name(dt);
          for (int j = 0; j < k; ++j) ASSERT_LE(p[l][j], p[l][k]);
          for (int j = k + 1; j < n; ++j) ASSERT_GE(p[l][j], p[l][k]);
          auto ps = p[l];
          std::sort(ps.begin(), ps.end());
          ASSERT_EQ(ps, sorted);  // a permutation
          // argpartition: indices are a permutation and point at partitioned values
          std::vector<double> gathered;
          std::vector<double> idx = ap[l];
          for (double id : idx) gathered.push_back(xl[l][static_cast<size_t>(id)]);
          ASSERT_EQ(gathered[k], sorted[k]);
          for (int j = 0; j < k; ++j) ASSERT_LE(gathered[j], gathered[k]);
          for (int j = k + 1; j < n; ++j) ASSERT_GE(gathered[j], gathered[k]);
          std::sort(idx.begin(), idx.end());
          for (int j = 0; j < n; ++j) ASSERT_EQ(idx[j], j);
        }
      }
      for (int kk : {1, 3, n}) {
        auto t = topk(a, kk, ax);
        Shape ts = sh;
        ts[ax] = kk;
        EXPECT_EQ(t.shape(), ts);
        auto tl = lines(t.to_vector<double>(), ts, ax);
        auto xl = lines(x, sh, ax);
        for (size_t l = 0; l < xl.size(); ++l) {
          auto sorted = xl[l];
          std::sort(sorted.begin(), sorted.end(), std::greater<>());
          std::vector<double> ref(sorted.begin(), sorted.begin() + kk);
          auto got = tl[l];
          std::sort(got.begin(), got.end(), std::greater<>());
          ASSERT_EQ(got, ref);  // same multiset of the k largest
        }
      }
    }
  }
  auto v = array({4.0f, 1.0f, 9.0f, 7.0f, 3.0f});
  auto t = topk(v, 2).to_vector<double>();
  std::sort(t.begin(), t.end());
  EXPECT_EQ(t, std::vector<double>({7, 9}));
  auto tt = topk(transpose(array({4.0f, 1.0f, 9.0f, 7.0f, 3.0f, 8.0f}, {2, 3})), 1, 0);  // (3,2) -> (1,2)
  EXPECT_EQ(tt.to_vector<double>(), std::vector<double>({9, 8}));
  EXPECT_EQ(partition(array({3, 1, 2}), 1).to_vector<int>()[1], 2);
  EXPECT_EQ(partition(v, 2).shape(), Shape({5}));
}

TEST(Sort, Errors) {
  auto a = zeros({3, 4});
  EXPECT_EQ(error_message([&] { sort(a, 2); }).rfind("[sort]", 0), 0u);
  EXPECT_THROW(argsort(a, -3), std::out_of_range);
  EXPECT_EQ(error_message([&] { partition(a, 4, 1); }).rfind("[partition]", 0), 0u);
  EXPECT_EQ(error_message([&] { argpartition(a, -5, 1); }).rfind("[argpartition]", 0), 0u);
  EXPECT_THROW(partition(a, 3, 0), std::invalid_argument);
  EXPECT_EQ(error_message([&] { topk(a, 5); }).rfind("[topk]", 0), 0u);
  EXPECT_EQ(error_message([&] { topk(a, -1, 0); }).rfind("[topk]", 0), 0u);
  EXPECT_EQ(error_message([&] { topk(a, 1, 2); }).rfind("[topk]", 0), 0u);
}
