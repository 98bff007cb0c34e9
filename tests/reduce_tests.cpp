// Tests of reductions, arg-reductions, scans, var/std, logsumexp and softmax against float64 loops.
#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>

#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

// Plain-loop reference: folds x (row-major, `shape`) over sorted `axes`; output in row-major order
// of the kept dims. fin(acc, count) finishes each result.
std::vector<double> ref_reduce(const std::vector<double>& x, const Shape& shape, const std::vector<int>& axes,
                               const std::function<double(double, double)>& f, double init,
                               const std::function<double(double, size_t)>& fin = nullptr) {
  int nd = static_cast<int>(shape.size());
  std::vector<bool> red(nd, false);
  for (int a : axes) red[a] = true;
  size_t out_n = 1, cnt = 1;
  for (int d = 0; d < nd; ++d) (red[d] ? cnt : out_n) *= shape[d];
  std::vector<double> out(out_n, init);
  std::vector<int> idx(nd, 0);
  for (size_t i = 0; i < x.size(); ++i) {
    size_t o = 0;
    for (int d = 0; d < nd; ++d) {
      if (!red[d]) o = o * shape[d] + idx[d];
    }
    out[o] = f(out[o], x[i]);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  if (fin) {
    for (auto& v : out) v = fin(v, cnt);
  }
  return out;
}

double dmax(double a, double b) { return (std::isnan(a) || std::isnan(b)) ? NAN : std::max(a, b); }
double dmin(double a, double b) { return (std::isnan(a) || std::isnan(b)) ? NAN : std::min(a, b); }

std::vector<std::vector<int>> axis_subsets(int nd) {
  std::vector<std::vector<int>> out;
  for (int m = 1; m < (1 << nd); ++m) {
    std::vector<int> s;
    for (int d = 0; d < nd; ++d) {
      if (m & (1 << d)) s.push_back(d);
    }
    out.push_back(s);
  }
  return out;
}

Shape expected_shape(const Shape& s, const std::vector<int>& axes, bool keepdims) {
  Shape out;
  for (int d = 0; d < static_cast<int>(s.size()); ++d) {
    bool r = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (!r) out.push_back(s[d]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

}  // namespace

TEST(Reduce, AllOpsAllAxesSubsets) {
  std::vector<Shape> shapes = {{7}, {3, 4}, {2, 3, 5}, {4, 1, 3}, {2, 3, 2, 3}};
  for (auto& shape : shapes) {
    for (Dtype dt : {float32, float64}) {
      auto a = random_array(shape, dt, -1.0, 1.0, 3);
      auto x = a.to_vector<double>();
      for (auto& axes : axis_subsets(static_cast<int>(shape.size()))) {
        for (bool kd : {false, true}) {
          auto es = expected_shape(shape, axes, kd);
          auto s = sum(a, axes, kd);
          EXPECT_EQ(s.shape(), es);
          EXPECT_EQ(s.dtype(), dt);
          EXPECT_TRUE(all_close(s, ref_reduce(x, shape, axes, std::plus<>(), 0.0), 1e-5, 1e-5));
          EXPECT_TRUE(all_close(prod(a, axes, kd), ref_reduce(x, shape, axes, std::multiplies<>(), 1.0), 1e-5, 1e-6));
          EXPECT_TRUE(all_close(max(a, axes, kd), ref_reduce(x, shape, axes, dmax, -INFINITY)));
          EXPECT_TRUE(all_close(min(a, axes, kd), ref_reduce(x, shape, axes, dmin, INFINITY)));
          EXPECT_TRUE(all_close(mean(a, axes, kd),
                                ref_reduce(x, shape, axes, std::plus<>(), 0.0, [](double v, size_t n) { return v / n; }),
                                1e-5, 1e-6));
          EXPECT_EQ(mean(a, axes, kd).shape(), es);
        }
      }
    }
  }
}

TEST(Reduce, NegativeAxesOverloadsAndEmptyAxes) {
  auto a = random_array({3, 4, 5}, float32, -1, 1, 5);
  auto x = a.to_vector<double>();
  Shape sh{3, 4, 5};
  EXPECT_TRUE(all_close(sum(a, -1), ref_reduce(x, sh, {2}, std::plus<>(), 0.0), 1e-5, 1e-6));
  EXPECT_TRUE(all_close(sum(a, {-3, -1}), ref_reduce(x, sh, {0, 2}, std::plus<>(), 0.0), 1e-5, 1e-6));
  auto total = sum(a);
  EXPECT_EQ(total.ndim(), 0);
  EXPECT_NEAR(total.item<double>(), ref_reduce(x, sh, {0, 1, 2}, std::plus<>(), 0.0)[0], 1e-4);
  EXPECT_EQ(sum(a, true).shape(), Shape({1, 1, 1}));
  EXPECT_EQ(max(a, 1, true).shape(), Shape({3, 1, 5}));
  // Empty axes: no reduction.
  auto e = sum(a, std::vector<int>{});
  EXPECT_EQ(e.shape(), a.shape());
  EXPECT_TRUE(all_close(e, x));
  EXPECT_EQ(sum(astype(a, bool_), std::vector<int>{}).dtype(), int32);
}

TEST(Reduce, Errors) {
  auto a = zeros({2, 3});
  EXPECT_THROW(sum(a, 2), std::out_of_range);
  EXPECT_EQ(error_message([&] { sum(a, -3); }).rfind("[sum]", 0), 0u);
  EXPECT_THROW(sum(a, {0, 0}), std::invalid_argument);
  EXPECT_EQ(error_message([&] { max(a, {1, -1}); }).rfind("[max]", 0), 0u);
  EXPECT_EQ(error_message([&] { argmax(a, 2); }).rfind("[argmax]", 0), 0u);
  EXPECT_EQ(error_message([&] { cumsum(a, 5); }).rfind("[cumsum]", 0), 0u);
  EXPECT_EQ(error_message([&] { max(astype(a, complex64)); }).rfind("[max]", 0), 0u);
  EXPECT_EQ(error_message([&] { softmax(a, 3); }).rfind("[softmax]", 0), 0u);
  EXPECT_EQ(error_message([&] { var(a, {0, 0}); }).rfind("[var]", 0), 0u);
}

TEST(Reduce, EmptyArrays) {
  auto e = zeros({0, 3});
  EXPECT_EQ(sum(e).item<float>(), 0.0f);
  EXPECT_EQ(prod(e).item<float>(), 1.0f);
  EXPECT_TRUE(all_close(sum(e, 0), {0, 0, 0}));
  EXPECT_EQ(sum(e, 1).shape(), Shape({0}));
  EXPECT_EQ(max(e, 1).shape(), Shape({0}));  // nothing to reduce: fine
  EXPECT_EQ(error_message([&] { max(e); }).rfind("[max]", 0), 0u);
  EXPECT_EQ(error_message([&] { min(e, 0); }).rfind("[min]", 0), 0u);
  EXPECT_EQ(error_message([&] { argmax(e, 0); }).rfind("[argmax]", 0), 0u);
  EXPECT_TRUE(all(e).item<bool>());
  EXPECT_FALSE(any(e).item<bool>());
  EXPECT_TRUE(std::isnan(mean(e).item<float>()));
  EXPECT_EQ(cumsum(e, 0).shape(), Shape({0, 3}));
}

TEST(Reduce, IntegerAndBoolDtypes) {
  std::vector<double> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  Shape sh{3, 4};
  struct Case { Dtype in, sum_out; };
  for (auto c : {Case{int8, int32}, Case{int16, int32}, Case{uint8, uint32}, Case{uint16, uint32}, Case{int32, int32},
                 Case{int64, int64}, Case{uint32, uint32}, Case{uint64, uint64}}) {
    auto a = astype(array(v, sh, float64), c.in);
    auto s = sum(a, 0);
    EXPECT_EQ(s.dtype(), c.sum_out) << dtype_name(c.in);
    EXPECT_TRUE(all_close(s, ref_reduce(v, sh, {0}, std::plus<>(), 0.0))) << dtype_name(c.in);
    EXPECT_EQ(prod(a, 1).dtype(), c.sum_out);
    EXPECT_TRUE(all_close(prod(a, 1), ref_reduce(v, sh, {1}, std::multiplies<>(), 1.0)));
    EXPECT_EQ(max(a, 1).dtype(), c.in);
    EXPECT_TRUE(all_close(max(a, 1), ref_reduce(v, sh, {1}, dmax, -INFINITY)));
    EXPECT_TRUE(all_close(min(a, 0), ref_reduce(v, sh, {0}, dmin, INFINITY)));
    EXPECT_EQ(mean(a, 1).dtype(), float32);
    EXPECT_TRUE(all_close(mean(a, 1), {2.5, 6.5, 10.5}));
  }
  // int8 sums past 127 do not wrap (accumulate in int32).
  auto big = astype(full({100}, 100.0f), int8);
  EXPECT_EQ(sum(big).item<int64_t>(), 10000);
  EXPECT_EQ(astype(full({3}, -100.0f), int8).dtype(), int8);
  EXPECT_EQ(min(astype(array({-100.0, 5.0, -3.0}, {3}, float64), int8)).item<int>(), -100);
  // bool
  auto b = array(std::vector<bool>{true, false, true, true, true, true}, {2, 3});
  EXPECT_EQ(sum(b).dtype(), int32);
  EXPECT_EQ(sum(b).item<int>(), 5);
  EXPECT_EQ(sum(b, 1).to_vector<int>(), std::vector<int>({2, 3}));
  EXPECT_EQ(all(b, 1).to_vector<bool>(), std::vector<bool>({false, true}));
  EXPECT_EQ(any(b, 0).to_vector<bool>(), std::vector<bool>({true, true, true}));
  EXPECT_EQ(max(b).dtype(), bool_);
  EXPECT_EQ(min(b, 0).to_vector<bool>(), std::vector<bool>({true, false, true}));
  // all/any of non-bool: nonzero is true
  auto f = array({0.0f, 2.0f, 0.5f, 1.0f}, {2, 2});
  EXPECT_EQ(all(f, 1).to_vector<bool>(), std::vector<bool>({false, true}));
  EXPECT_EQ(any(f, 0).to_vector<bool>(), std::vector<bool>({true, true}));
  EXPECT_EQ(all(f).dtype(), bool_);
}

TEST(Reduce, HalfTypes) {
  Shape sh{33, 70};
  for (Dtype dt : {float16, bfloat16}) {
    auto a = random_array(sh, dt, -1, 1, 9);
    auto x = a.to_vector<double>();
    for (int ax : {0, 1}) {
      auto s = sum(a, ax);
      EXPECT_EQ(s.dtype(), dt);
      EXPECT_TRUE(all_close(s, ref_reduce(x, sh, {ax}, std::plus<>(), 0.0), 2e-2, 5e-2)) << dtype_name(dt);
      EXPECT_TRUE(all_close(mean(a, ax), ref_reduce(x, sh, {ax}, std::plus<>(), 0.0,
                                                    [](double v, size_t n) { return v / n; }), 2e-2, 2e-3));
      EXPECT_TRUE(all_close(max(a, ax), ref_reduce(x, sh, {ax}, dmax, -INFINITY), 0, 0));
      EXPECT_TRUE(all_close(min(a, ax), ref_reduce(x, sh, {ax}, dmin, INFINITY), 0, 0));
    }
    // Accumulating in float: 4096 ones sum exactly even though float16 steps by 4 there.
    EXPECT_EQ(sum(astype(ones({4097}), dt)).item<float>(), dt == float16 ? 4096.0f : 4096.0f);
  }
}

TEST(Reduce, NonContiguousInputs) {
  auto base = random_array({6, 8, 10}, float32, -1, 1, 11);
  auto t = transpose(base, {2, 0, 1});                       // (10, 6, 8)
  auto sl = slice(base, {1, 0, 9}, {6, 8, 0}, {2, 3, -2});  // (3, 3, 5), negative step
  auto bc = broadcast_to(slice(base, {0, 0, 0}, {1, 8, 10}), {4, 8, 10});
  for (auto v : {t, sl, bc}) {
    auto x = v.to_vector<double>();
    for (auto& axes : axis_subsets(3)) {
      EXPECT_TRUE(all_close(sum(v, axes), ref_reduce(x, v.shape(), axes, std::plus<>(), 0.0), 1e-5, 1e-5));
      EXPECT_TRUE(all_close(max(v, axes), ref_reduce(x, v.shape(), axes, dmax, -INFINITY)));
    }
    for (int ax = 0; ax < 3; ++ax) {
      auto am = argmax(v, ax).to_vector<int64_t>();
      auto mx = max(v, ax).to_vector<double>();
      // argmax must point at the max value.
      auto vv = x;
      size_t outer = 1, inner = 1, n = v.shape(ax);
      for (int d = 0; d < ax; ++d) outer *= v.shape(d);
      for (int d = ax + 1; d < 3; ++d) inner *= v.shape(d);
      for (size_t o = 0; o < outer; ++o) {
        for (size_t i = 0; i < inner; ++i) {
          size_t k = am[o * inner + i];
          ASSERT_LT(k, n);
          EXPECT_EQ(vv[(o * n + k) * inner + i], mx[o * inner + i]);
        }
      }
    }
  }
}

TEST(Reduce, LargeParallelPaths) {
  // Few long rows (row split), tall thin columns (column split over R), wide columns.
  for (Shape sh : {Shape{2, 300000}, Shape{300000, 3}, Shape{1000, 700}, Shape{3, 5000, 7}}) {
    auto a = random_array(sh, float32, -1, 1, 13);
    auto x = a.to_vector<double>();
    for (auto& axes : axis_subsets(static_cast<int>(sh.size()))) {
      double n = 1;
      for (int ax : axes) n *= sh[ax];
      EXPECT_TRUE(all_close(sum(a, axes), ref_reduce(x, sh, axes, std::plus<>(), 0.0), 1e-4, 1e-6 * n))
          << shape_str(sh) << " " << axes.size();
      EXPECT_TRUE(all_close(max(a, axes), ref_reduce(x, sh, axes, dmax, -INFINITY)));
      EXPECT_TRUE(all_close(min(a, axes), ref_reduce(x, sh, axes, dmin, INFINITY)));
    }
  }
  auto i = astype(random_array({4, 100000}, float32, 0, 100, 2), int32);
  auto xi = i.to_vector<double>();
  EXPECT_TRUE(all_close(sum(i, 1), ref_reduce(xi, {4, 100000}, {1}, std::plus<>(), 0.0), 0, 0));
  EXPECT_TRUE(all_close(sum(i, 0), ref_reduce(xi, {4, 100000}, {0}, std::plus<>(), 0.0), 0, 0));
}

TEST(Reduce, NaNPropagates) {
  std::vector<double> v(40);
  std::iota(v.begin(), v.end(), 0.0);
  v[17] = NAN;
  for (Dtype dt : {float32, float64, float16}) {
    auto a = astype(array(v, {4, 10}, float64), dt);
    auto r = max(a, 1).to_vector<double>();
    EXPECT_EQ(r[0], 9);
    EXPECT_TRUE(std::isnan(r[1]));
    auto c = min(a, 0).to_vector<double>();
    EXPECT_TRUE(std::isnan(c[7]));
    EXPECT_EQ(c[6], 6);
    EXPECT_TRUE(std::isnan(max(a).item<double>()));
    EXPECT_EQ(argmax(a, 1).to_vector<int>()[1], 7);
    EXPECT_EQ(argmin(a, 0).to_vector<int>()[7], 1);
    auto big = astype(array(std::vector<double>(100000, 1.0), {100000}, float64), dt);
    EXPECT_EQ(max(big).item<double>(), 1.0);
  }
  // NaN first in a long row (the vectorized path)
  std::vector<double> w(1000, 1.0);
  w[0] = NAN;
  EXPECT_TRUE(std::isnan(max(array(w, {1000}, float64)).item<double>()));
  EXPECT_TRUE(std::isnan(min(astype(array(w, {1000}, float64), float32)).item<float>()));
}

TEST(Reduce, ArgMaxArgMin) {
  auto a = array({3.0f, 1.0f, 3.0f, 0.0f, -2.0f, 5.0f, 5.0f, -2.0f}, {2, 4});
  EXPECT_EQ(argmax(a, 1).dtype(), uint32);
  EXPECT_EQ(argmax(a, 1).to_vector<int>(), std::vector<int>({0, 1}));  // first of ties
  EXPECT_EQ(argmin(a, 1).to_vector<int>(), std::vector<int>({3, 0}));
  EXPECT_EQ(argmax(a, 0).to_vector<int>(), std::vector<int>({0, 1, 1, 0}));
  EXPECT_EQ(argmin(a, -2).to_vector<int>(), std::vector<int>({1, 0, 0, 1}));
  EXPECT_EQ(argmax(a, 1, true).shape(), Shape({2, 1}));
  EXPECT_EQ(argmax(a).item<int>(), 5);
  EXPECT_EQ(argmin(a).item<int>(), 4);
  EXPECT_EQ(argmax(a, true).shape(), Shape({1, 1}));
  // random, every dtype class, row and column
  for (Dtype dt : {int8, uint16, int32, int64, float16, bfloat16, float32, float64}) {
    Shape sh{37, 600};
    auto r = random_array(sh, dt, 0, 100, 17);
    auto x = r.to_vector<double>();
    for (int ax : {0, 1}) {
      auto am = argmax(r, ax).to_vector<int64_t>();
      auto an = argmin(r, ax).to_vector<int64_t>();
      size_t n = sh[ax], m = sh[1 - ax];
      for (size_t j = 0; j < m; ++j) {
        auto at = [&](size_t k) { return ax == 1 ? x[j * n + k] : x[k * m + j]; };
        size_t bmax = 0, bmin = 0;
        for (size_t k = 1; k < n; ++k) {
          if (at(k) > at(bmax)) bmax = k;
          if (at(k) < at(bmin)) bmin = k;
        }
        ASSERT_EQ(am[j], static_cast<int64_t>(bmax)) << dtype_name(dt) << " axis " << ax;
        ASSERT_EQ(an[j], static_cast<int64_t>(bmin)) << dtype_name(dt) << " axis " << ax;
      }
    }
  }
}

TEST(Reduce, VarStd) {
  std::vector<Shape> shapes = {{9}, {4, 6}, {3, 4, 5}};
  for (auto& sh : shapes) {
    for (Dtype dt : {float32, float64}) {
      auto a = random_array(sh, dt, -2, 3, 21);
      auto x = a.to_vector<double>();
      for (auto& axes : axis_subsets(static_cast<int>(sh.size()))) {
        for (int ddof : {0, 1}) {
          auto m = ref_reduce(x, sh, axes, std::plus<>(), 0.0, [](double v, size_t n) { return v / n; });
          // second pass over deviations, plain loops
          std::vector<double> ss(m.size(), 0.0);
          std::vector<double> dev(x.size());
          {
            int nd = static_cast<int>(sh.size());
            std::vector<int> idx(nd, 0);
            for (size_t i = 0; i < x.size(); ++i) {
              size_t o = 0;
              for (int d = 0; d < nd; ++d) {
                if (std::find(axes.begin(), axes.end(), d) == axes.end()) o = o * sh[d] + idx[d];
              }
              ss[o] += (x[i] - m[o]) * (x[i] - m[o]);
              for (int d = nd - 1; d >= 0; --d) {
                if (++idx[d] < sh[d]) break;
                idx[d] = 0;
              }
            }
          }
          size_t n = x.size() / m.size();
          std::vector<double> ev(m.size()), es(m.size());
          for (size_t i = 0; i < m.size(); ++i) {
            ev[i] = ss[i] / (double(n) - ddof);
            es[i] = std::sqrt(ev[i]);
          }
          EXPECT_TRUE(all_close(var(a, axes, false, ddof), ev, 1e-5, 1e-6));
          EXPECT_TRUE(all_close(tessera::std(a, axes, false, ddof), es, 1e-5, 1e-6));
          EXPECT_EQ(var(a, axes, true, ddof).shape(), expected_shape(sh, axes, true));
        }
      }
    }
  }
  auto i = array({1, 2, 3, 4});
  EXPECT_EQ(var(i).dtype(), float32);
  EXPECT_NEAR(var(i).item<double>(), 1.25, 1e-6);
  EXPECT_NEAR(tessera::std(i, 0, false, 1).item<double>(), std::sqrt(5.0 / 3.0), 1e-6);
  auto h = astype(array({1.0f, 2.0f, 3.0f, 4.0f}, {4}), bfloat16);
  EXPECT_EQ(var(h).dtype(), bfloat16);
  EXPECT_NEAR(var(h).item<double>(), 1.25, 1e-2);
  // Non-contiguous input and large offset (stability of the two-pass algorithm).
  auto t = transpose(random_array({5, 7}, float32, 1000, 1001, 4));
  auto xt = t.to_vector<double>();
  std::vector<double> ev(7);
  for (int r = 0; r < 7; ++r) {
    double mu = 0, s2 = 0;
    for (int c = 0; c < 5; ++c) mu += xt[r * 5 + c] / 5;
    for (int c = 0; c < 5; ++c) s2 += (xt[r * 5 + c] - mu) * (xt[r * 5 + c] - mu);
    ev[r] = s2 / 5;
  }
  EXPECT_TRUE(all_close(var(t, 1), ev, 1e-3, 1e-5));
}

TEST(Reduce, LogSumExp) {
  Shape sh{3, 4, 5};
  auto a = random_array(sh, float32, -5, 5, 8);
  auto x = a.to_vector<double>();
  for (auto& axes : axis_subsets(3)) {
    for (bool kd : {false, true}) {
      // reference: log of sum of exp, in float64
      auto e = x;
      for (auto& v : e) v = std::exp(v);
      auto s = ref_reduce(e, sh, axes, std::plus<>(), 0.0, [](double v, size_t) { return std::log(v); });
      auto l = logsumexp(a, axes, kd);
      EXPECT_EQ(l.shape(), expected_shape(sh, axes, kd));
      EXPECT_TRUE(all_close(l, s, 1e-5, 1e-5));
    }
  }
  // Stable for large values and handles -inf rows.
  auto big = array({1000.0f, 1000.0f, -INFINITY, -INFINITY, 3.0f, -INFINITY}, {3, 2});
  auto r = logsumexp(big, 1).to_vector<double>();
  EXPECT_NEAR(r[0], 1000.0 + std::log(2.0), 1e-3);
  EXPECT_EQ(r[1], -INFINITY);
  EXPECT_NEAR(r[2], 3.0, 1e-6);
  EXPECT_EQ(logsumexp(array({1, 2, 3})).dtype(), float32);
  EXPECT_NEAR(logsumexp(array({1, 2, 3})).item<double>(), std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)),
              1e-5);
  auto h = astype(a, float16);
  auto xh = h.to_vector<double>();
  std::vector<double> rh(12);
  for (int i = 0; i < 12; ++i) {
    double s = 0;
    for (int j = 0; j < 5; ++j) s += std::exp(xh[i * 5 + j]);
    rh[i] = std::log(s);
  }
  EXPECT_EQ(logsumexp(h, -1).dtype(), float16);
  EXPECT_TRUE(all_close(logsumexp(h, -1), rh, 2e-3, 2e-3));
  std::vector<double> rd(12);
  for (int i = 0; i < 12; ++i) {
    double s = 0;
    for (int j = 0; j < 5; ++j) s += std::exp(x[i * 5 + j]);
    rd[i] = std::log(s);
  }
  EXPECT_TRUE(all_close(logsumexp(astype(a, float64), 2), rd, 1e-12, 1e-12));
}

TEST(Scan, AllScansFlagsAxes) {
  Shape sh{3, 5, 4};
  for (Dtype dt : {float32, float64, int32, int64}) {
    auto a = random_array(sh, dt, dt == float32 || dt == float64 ? -2.0 : -5.0, 5.0, 30);
    auto x = a.to_vector<double>();
    for (int ax = 0; ax < 3; ++ax) {
      size_t n = sh[ax], inner = 1, outer = 1;
      for (int d = ax + 1; d < 3; ++d) inner *= sh[d];
      for (int d = 0; d < ax; ++d) outer *= sh[d];
      for (int op = 0; op < 4; ++op) {
        for (bool rev : {false, true}) {
          for (bool inc : {true, false}) {
            std::vector<double> ref(x.size());
            double init = op == 0 ? 0 : op == 1 ? 1 : op == 2 ? -INFINITY : INFINITY;
            if (op >= 2 && (dt == int32 || dt == int64)) {
              init = op == 2 ? (dt == int32 ? -2147483648.0 : -9.223372036854775808e18)
                             : (dt == int32 ? 2147483647.0 : 9.223372036854775807e18);
            }
            for (size_t o = 0; o < outer; ++o) {
              for (size_t i = 0; i < inner; ++i) {
                double acc = init;
                for (size_t j = 0; j < n; ++j) {
                  size_t p = rev ? n - 1 - j : j;
                  size_t k = (o * n + p) * inner + i;
                  double nv = op == 0 ? acc + x[k] : op == 1 ? acc * x[k] : op == 2 ? std::max(acc, x[k]) : std::min(acc, x[k]);
                  ref[k] = inc ? nv : acc;
                  acc = nv;
                }
              }
            }
            array got = op == 0 ? cumsum(a, ax, rev, inc)
                        : op == 1 ? cumprod(a, ax, rev, inc)
                        : op == 2 ? cummax(a, ax, rev, inc)
                                  : cummin(a, ax, rev, inc);
            EXPECT_EQ(got.dtype(), dt);
            EXPECT_EQ(got.shape(), sh);
            EXPECT_TRUE(all_close(got, ref, 1e-5, 1e-5))
                << dtype_name(dt) << " ax " << ax << " op " << op << " rev " << rev << " inc " << inc;
          }
        }
      }
    }
  }
}

TEST(Scan, DtypesFlattenNonContiguous) {
  auto b = array(std::vector<bool>{true, false, true, true}, {4});
  EXPECT_EQ(cumsum(b).dtype(), int32);
  EXPECT_EQ(cumsum(b).to_vector<int>(), std::vector<int>({1, 1, 2, 3}));
  auto a = array({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, {2, 3});
  EXPECT_TRUE(all_close(cumsum(a), {1, 3, 6, 10, 15, 21}));                  // flattened
  EXPECT_TRUE(all_close(cumsum(transpose(a), 1), {1, 5, 2, 7, 3, 9}));        // (3, 2) view
  EXPECT_TRUE(all_close(cumprod(slice(a, {0, 2}, {2, -4}, {1, -1}), 1), {3, 6, 6, 6, 30, 120}));
  EXPECT_TRUE(all_close(cumsum(a, 0, true, false), {4, 5, 6, 0, 0, 0}));
  auto h = astype(a, float16);
  EXPECT_EQ(cumsum(h, 1).dtype(), float16);
  EXPECT_TRUE(all_close(cumsum(h, 1), {1, 3, 6, 4, 9, 15}));
  auto n = array({1.0f, NAN, 0.0f, 3.0f}, {4});
  auto cm = cummax(n).to_vector<double>();
  EXPECT_EQ(cm[0], 1);
  EXPECT_TRUE(std::isnan(cm[1]) && std::isnan(cm[3]));
  // A long scan (parallel over rows) in float64.
  auto big = random_array({64, 3000}, float64, 0, 1, 3);
  auto xb = big.to_vector<double>();
  auto cs = cumsum(big, 1).to_vector<double>();
  double acc = 0;
  for (int j = 0; j < 3000; ++j) acc += xb[63 * 3000 + j];
  EXPECT_NEAR(cs.back(), acc, 1e-9);
}

namespace {
std::vector<double> ref_softmax_rows(const std::vector<double>& x, size_t n, bool log) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / n; ++r) {
    double m = -INFINITY;
    for (size_t i = 0; i < n; ++i) m = std::max(m, x[r * n + i]);
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += std::exp(x[r * n + i] - m);
    for (size_t i = 0; i < n; ++i) {
      out[r * n + i] = log ? x[r * n + i] - m - std::log(s) : std::exp(x[r * n + i] - m) / s;
    }
  }
  return out;
}
}  // namespace

TEST(Softmax, RowsDtypesAndStability) {
  for (size_t n : {1, 7, 16, 33, 1000}) {
    for (Dtype dt : {float32, float64, float16, bfloat16}) {
      auto a = random_array({5, static_cast<int>(n)}, dt, -20, 20, 41);
      auto x = a.to_vector<double>();
      double tol = dt == float32 ? 1e-5 : dt == float64 ? 1e-12 : 1e-2;
      auto s = softmax(a, -1);
      EXPECT_EQ(s.dtype(), dt);
      EXPECT_TRUE(all_close(s, ref_softmax_rows(x, n, false), tol, tol * 1e-2)) << dtype_name(dt) << " n " << n;
      EXPECT_TRUE(all_close(log_softmax(a, -1), ref_softmax_rows(x, n, true), tol, tol)) << dtype_name(dt);
    }
  }
  // Huge values (no overflow), -inf entries, ints promote to float32.
  auto big = array({1000.0f, 999.0f, -INFINITY, 0.0f}, {1, 4});
  EXPECT_TRUE(all_close(softmax(big), ref_softmax_rows({1000, 999, -INFINITY, 0}, 4, false), 1e-6, 1e-7));
  auto i = softmax(array({1, 2, 3}));
  EXPECT_EQ(i.dtype(), float32);
  EXPECT_TRUE(all_close(i, ref_softmax_rows({1, 2, 3}, 3, false), 1e-6));
  // exp accuracy over the whole range the kernel sees
  std::vector<double> wide;
  for (int k = 0; k <= 200; ++k) wide.push_back(-100.0 + k * 0.5);
  auto w = array(wide, {1, 201}, float64);
  EXPECT_TRUE(all_close(softmax(astype(w, float32)), ref_softmax_rows(wide, 201, false), 2e-6, 1e-30));
}

TEST(Softmax, AxesAndNonContiguous) {
  Shape sh{4, 3, 6};
  auto a = random_array(sh, float32, -3, 3, 44);
  auto x = a.to_vector<double>();
  // softmax over axis 0 and over axes {0, 2}: reference via exp and sums per group
  for (auto& axes : axis_subsets(3)) {
    auto e = x;
    auto m = ref_reduce(x, sh, axes, dmax, -INFINITY);
    std::vector<double> ex(x.size());
    std::vector<size_t> grp(x.size());
    std::vector<int> idx(3, 0);
    for (size_t i = 0; i < x.size(); ++i) {
      size_t o = 0;
      for (int d = 0; d < 3; ++d) {
        if (std::find(axes.begin(), axes.end(), d) == axes.end()) o = o * sh[d] + idx[d];
      }
      grp[i] = o;
      ex[i] = std::exp(x[i] - m[o]);
      for (int d = 2; d >= 0; --d) {
        if (++idx[d] < sh[d]) break;
        idx[d] = 0;
      }
    }
    auto s = ref_reduce(ex, sh, axes, std::plus<>(), 0.0);
    std::vector<double> ref(x.size()), lref(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      ref[i] = ex[i] / s[grp[i]];
      lref[i] = x[i] - m[grp[i]] - std::log(s[grp[i]]);
    }
    auto got = softmax(a, axes);
    EXPECT_EQ(got.shape(), sh);
    EXPECT_TRUE(all_close(got, ref, 1e-5, 1e-7));
    EXPECT_TRUE(all_close(log_softmax(a, axes), lref, 1e-5, 1e-5));
  }
  auto t = transpose(a, {2, 0, 1});  // (6, 4, 3)
  auto xt = t.to_vector<double>();
  EXPECT_TRUE(all_close(softmax(t, -1), ref_softmax_rows(xt, 3, false), 1e-5, 1e-7));
  EXPECT_TRUE(all_close(softmax(a), softmax(reshape(a, {-1}), 0).to_vector<double>(), 1e-6, 1e-9));
}

TEST(Softmax, LargeParallel) {
  auto a = random_array({513, 4096}, float32, -10, 10, 3);
  auto x = a.to_vector<double>();
  EXPECT_TRUE(all_close(softmax(a, -1), ref_softmax_rows(x, 4096, false), 1e-5, 1e-9));
}
