// Tests of manipulation ops against float64 references computed with plain loops.
#include <functional>

#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

using Idx = std::vector<int>;

// Row-major values of shape s with element f(multi-index).
std::vector<double> gen(const Shape& s, const std::function<double(const Idx&)>& f) {
  std::vector<double> out;
  size_t n = 1;
  for (auto d : s) n *= d;
  Idx idx(s.size(), 0);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(f(idx));
    for (int d = static_cast<int>(s.size()) - 1; d >= 0; --d) {
      if (++idx[d] < s[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// Element of a row-major vector of shape s at multi-index idx.
double at(const std::vector<double>& v, const Shape& s, const Idx& idx) {
  size_t off = 0;
  for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + idx[d];
  return v[off];
}

// Reference data (values rounded through dtype) and the array holding it.
struct Ref {
  std::vector<double> v;
  Shape s;
  array a;
};
Ref make(const Shape& s, Dtype dt = float32, unsigned seed = 1) {
  auto a = random_array(s, dt, -5, 5, seed);
  return {a.to_vector<double>(), s, a};
}
// The transpose of a 2-D reference: a non-contiguous view and its reference values.
Ref make_t(const Shape& s, Dtype dt = float32, unsigned seed = 2) {
  auto r = make({s[1], s[0]}, dt, seed);
  auto v = gen(s, [&](const Idx& i) { return at(r.v, r.s, {i[1], i[0]}); });
  return {v, s, transpose(r.a)};
}

double tol(Dtype d) { return (d == float16 || d == bfloat16) ? 1e-2 : 1e-6; }

}  // namespace

TEST(Manipulation, ConcatenateShapesDtypesViews) {
  for (Dtype dt : {float32, float16, bfloat16, int32, float64}) {
    auto x = make({2, 3}, dt, 1);
    auto y = make_t({2, 4}, dt);
    auto out = concatenate({x.a, y.a}, 1);
    EXPECT_EQ(out.shape(), Shape({2, 7}));
    EXPECT_EQ(out.dtype(), dt);
    auto ref = gen({2, 7}, [&](const Idx& i) { return i[1] < 3 ? at(x.v, x.s, i) : at(y.v, y.s, {i[0], i[1] - 3}); });
    EXPECT_TRUE(all_close(out, ref, tol(dt), tol(dt))) << dtype_name(dt);
  }
  // Axis 0, three inputs, promotion int32 + float32 -> float32, negative axis.
  auto x = make({1, 3}, int32, 3), y = make({2, 3}, float32, 4), z = make_t({3, 3}, float32);
  auto out = concatenate({x.a, y.a, z.a}, -2);
  EXPECT_EQ(out.dtype(), float32);
  EXPECT_EQ(out.shape(), Shape({6, 3}));
  auto ref = gen({6, 3}, [&](const Idx& i) {
    if (i[0] < 1) return at(x.v, x.s, i);
    if (i[0] < 3) return at(y.v, y.s, {i[0] - 1, i[1]});
    return at(z.v, z.s, {i[0] - 3, i[1]});
  });
  EXPECT_TRUE(all_close(out, ref));
  // Flattened.
  auto f = concatenate({x.a, z.a});
  EXPECT_EQ(f.shape(), Shape({12}));
  std::vector<double> fr = x.v;
  fr.insert(fr.end(), z.v.begin(), z.v.end());
  EXPECT_TRUE(all_close(f, fr));
  // Empty piece.
  auto e = concatenate({zeros({2, 0}), y.a}, 1);
  EXPECT_TRUE(all_close(e, y.v));
}

TEST(Manipulation, ConcatenateErrors) {
  auto a = zeros({2, 3}), b = zeros({3, 2});
  EXPECT_EQ(error_message([&] { concatenate({a, b}, 0); }).rfind("[concatenate]", 0), 0u);
  EXPECT_THROW(concatenate({a, b}, 0), std::invalid_argument);
  EXPECT_THROW(concatenate({a, a}, 2), std::out_of_range);
  EXPECT_THROW(concatenate(std::vector<array>{}, 0), std::invalid_argument);
  EXPECT_THROW(concatenate({array(1.0f), array(2.0f)}, 0), std::invalid_argument);
}

TEST(Manipulation, Stack) {
  auto x = make({2, 3}, float32, 1), y = make_t({2, 3}, float32);
  for (int axis : {0, 1, 2, -1}) {
    auto out = stack({x.a, y.a}, axis);
    int ax = axis < 0 ? axis + 3 : axis;
    Shape s = {2, 3};
    s.insert(s.begin() + ax, 2);
    EXPECT_EQ(out.shape(), s);
    auto ref = gen(s, [&](const Idx& i) {
      Idx j = i;
      int w = j[ax];
      j.erase(j.begin() + ax);
      return w == 0 ? at(x.v, x.s, j) : at(y.v, y.s, j);
    });
    EXPECT_TRUE(all_close(out, ref)) << axis;
  }
  EXPECT_EQ(error_message([&] { stack({x.a, zeros({3, 2})}); }).rfind("[stack]", 0), 0u);
  EXPECT_THROW(stack({x.a, x.a}, 3), std::out_of_range);
}

TEST(Manipulation, Split) {
  auto x = make_t({6, 4});
  auto parts = split(x.a, 3, 0);
  ASSERT_EQ(parts.size(), 3u);
  for (int p = 0; p < 3; ++p) {
    EXPECT_EQ(parts[p].shape(), Shape({2, 4}));
    EXPECT_TRUE(all_close(parts[p], gen({2, 4}, [&](const Idx& i) { return at(x.v, x.s, {i[0] + 2 * p, i[1]}); })));
  }
  auto q = split(x.a, Shape{1, 3}, 1);
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].shape(), Shape({6, 1}));
  EXPECT_EQ(q[1].shape(), Shape({6, 2}));
  EXPECT_EQ(q[2].shape(), Shape({6, 1}));
  EXPECT_TRUE(all_close(q[1], gen({6, 2}, [&](const Idx& i) { return at(x.v, x.s, {i[0], i[1] + 1}); })));
  // NumPy: indices past the end give empty sections; decreasing indices give empty ones.
  auto r = split(x.a, Shape{5, 2, 10}, 0);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].shape(0), 5);
  EXPECT_EQ(r[1].shape(0), 0);
  EXPECT_EQ(r[2].shape(0), 1);
  EXPECT_EQ(r[3].shape(0), 0);
  EXPECT_EQ(error_message([&] { split(x.a, 4, 0); }).rfind("[split]", 0), 0u);
  EXPECT_THROW(split(x.a, 4, 0), std::invalid_argument);
  EXPECT_THROW(split(x.a, 2, 2), std::out_of_range);
  EXPECT_THROW(split(x.a, 0, 0), std::invalid_argument);
}

TEST(Manipulation, Tile) {
  for (Dtype dt : {float32, int16, bfloat16}) {
    auto x = make_t({2, 3}, dt);
    auto t = tile(x.a, {2, 3});
    EXPECT_EQ(t.shape(), Shape({4, 9}));
    EXPECT_TRUE(all_close(t, gen({4, 9}, [&](const Idx& i) { return at(x.v, x.s, {i[0] % 2, i[1] % 3}); }), tol(dt), tol(dt)));
  }
  auto x = make({2, 3});
  auto t = tile(x.a, {2});  // reps shorter than ndim: prepended with 1
  EXPECT_EQ(t.shape(), Shape({2, 6}));
  EXPECT_TRUE(all_close(t, gen({2, 6}, [&](const Idx& i) { return at(x.v, x.s, {i[0], i[1] % 3}); })));
  auto u = tile(x.a, {2, 1, 2});  // reps longer: array prepended with 1
  EXPECT_EQ(u.shape(), Shape({2, 2, 6}));
  EXPECT_TRUE(all_close(u, gen({2, 2, 6}, [&](const Idx& i) { return at(x.v, x.s, {i[1], i[2] % 3}); })));
  EXPECT_EQ(tile(x.a, {0, 1}).size(), 0u);
  EXPECT_EQ(error_message([&] { tile(x.a, {-1, 1}); }).rfind("[tile]", 0), 0u);
}

TEST(Manipulation, Repeat) {
  auto x = make_t({2, 3}, float32);
  auto r0 = repeat(x.a, 2, 0);
  EXPECT_EQ(r0.shape(), Shape({4, 3}));
  EXPECT_TRUE(all_close(r0, gen({4, 3}, [&](const Idx& i) { return at(x.v, x.s, {i[0] / 2, i[1]}); })));
  auto r1 = repeat(x.a, 3, -1);
  EXPECT_EQ(r1.shape(), Shape({2, 9}));
  EXPECT_TRUE(all_close(r1, gen({2, 9}, [&](const Idx& i) { return at(x.v, x.s, {i[0], i[1] / 3}); })));
  auto rf = repeat(x.a, 2);
  EXPECT_EQ(rf.shape(), Shape({12}));
  EXPECT_TRUE(all_close(rf, gen({12}, [&](const Idx& i) { return x.v[i[0] / 2]; })));
  EXPECT_EQ(repeat(x.a, 0, 1).shape(), Shape({2, 0}));
  EXPECT_EQ(error_message([&] { repeat(x.a, -1, 0); }).rfind("[repeat]", 0), 0u);
  EXPECT_THROW(repeat(x.a, 2, 2), std::out_of_range);
}

TEST(Manipulation, PadConstantAndEdge) {
  for (Dtype dt : {float32, float16, int32}) {
    auto x = make_t({3, 2}, dt);
    auto p = pad(x.a, {{1, 2}, {0, 3}}, array(7));
    EXPECT_EQ(p.shape(), Shape({6, 5}));
    EXPECT_EQ(p.dtype(), dt);
    auto ref = gen({6, 5}, [&](const Idx& i) {
      int r = i[0] - 1, c = i[1];
      return (r >= 0 && r < 3 && c < 2) ? at(x.v, x.s, {r, c}) : 7.0;
    });
    EXPECT_TRUE(all_close(p, ref, tol(dt), tol(dt))) << dtype_name(dt);
    auto e = pad(x.a, {{2, 1}, {1, 1}}, array(0), "edge");
    EXPECT_EQ(e.shape(), Shape({6, 4}));
    auto eref = gen({6, 4}, [&](const Idx& i) {
      int r = std::clamp(i[0] - 2, 0, 2), c = std::clamp(i[1] - 1, 0, 1);
      return at(x.v, x.s, {r, c});
    });
    EXPECT_TRUE(all_close(e, eref, tol(dt), tol(dt))) << dtype_name(dt);
  }
  auto x = make({2, 2});
  auto p = pad(x.a, 1);
  EXPECT_EQ(p.shape(), Shape({4, 4}));
  EXPECT_TRUE(all_close(p, gen({4, 4}, [&](const Idx& i) {
    bool in = i[0] >= 1 && i[0] <= 2 && i[1] >= 1 && i[1] <= 2;
    return in ? at(x.v, x.s, {i[0] - 1, i[1] - 1}) : 0.0;
  })));
  auto q = pad(x.a, {1}, {0}, {2}, array(-1.5f));  // only axis 1
  EXPECT_TRUE(all_close(q, gen({2, 4}, [&](const Idx& i) { return i[1] < 2 ? at(x.v, x.s, i) : -1.5; })));
  EXPECT_EQ(error_message([&] { pad(x.a, -1); }).rfind("[pad]", 0), 0u);
  EXPECT_THROW(pad(x.a, 1, array(0), "reflect"), std::invalid_argument);
  EXPECT_THROW(pad(x.a, {{1, 1}, {1, 1}, {1, 1}}), std::invalid_argument);
  EXPECT_THROW(pad(x.a, 1, zeros({2})), std::invalid_argument);
}

TEST(Manipulation, Roll) {
  auto x = make_t({3, 4});
  auto r = roll(x.a, 1, 1);
  EXPECT_TRUE(all_close(r, gen({3, 4}, [&](const Idx& i) { return at(x.v, x.s, {i[0], (i[1] + 3) % 4}); })));
  auto r2 = roll(x.a, Shape{-1, 6}, {0, 1});
  EXPECT_TRUE(all_close(r2, gen({3, 4}, [&](const Idx& i) { return at(x.v, x.s, {(i[0] + 1) % 3, (i[1] + 2) % 4}); })));
  auto rf = roll(x.a, 5);  // flattened
  EXPECT_EQ(rf.shape(), Shape({3, 4}));
  EXPECT_TRUE(all_close(rf, gen({3, 4}, [&](const Idx& i) { return x.v[(i[0] * 4 + i[1] + 12 - 5) % 12]; })));
  EXPECT_TRUE(all_close(roll(x.a, 4, 1), x.v));
  EXPECT_EQ(error_message([&] { roll(x.a, 1, 2); }).rfind("[roll]", 0), 0u);
  EXPECT_THROW(roll(x.a, Shape{1, 2, 3}, {0, 1}), std::invalid_argument);
}

TEST(Manipulation, DiagAndDiagonal) {
  auto v = make({3}, float32);
  for (int k : {0, 1, -2}) {
    auto d = diag(v.a, k);
    int n = 3 + std::abs(k);
    EXPECT_EQ(d.shape(), Shape({n, n}));
    EXPECT_TRUE(all_close(d, gen({n, n}, [&](const Idx& i) {
      if (i[1] - i[0] != k) return 0.0;
      return v.v[k >= 0 ? i[0] : i[1]];
    }))) << k;
  }
  auto m = make_t({3, 4}, float32);
  for (int k : {0, 1, 3, -1, -2, 5}) {
    auto d = diag(m.a, k);
    std::vector<double> ref;
    for (int i = 0; i < 3; ++i) {
      int j = i + k;
      if (j >= 0 && j < 4) ref.push_back(at(m.v, m.s, {i, j}));
    }
    EXPECT_EQ(d.shape(), Shape({static_cast<int>(ref.size())}));
    EXPECT_TRUE(all_close(d, ref)) << k;
  }
  auto t = make({2, 3, 4}, float64);
  auto dg = diagonal(t.a, -1, 2, 1);  // diagonal of (axis2=4, axis1=3) planes, offset -1
  EXPECT_EQ(dg.shape(), Shape({2, 3}));
  EXPECT_TRUE(all_close(dg, gen({2, 3}, [&](const Idx& i) { return at(t.v, t.s, {i[0], i[1], i[1] + 1}); })));
  auto dg2 = diagonal(t.a, 1, 0, 2);
  EXPECT_EQ(dg2.shape(), Shape({3, 2}));
  EXPECT_TRUE(all_close(dg2, gen({3, 2}, [&](const Idx& i) { return at(t.v, t.s, {i[1], i[0], i[1] + 1}); })));
  EXPECT_EQ(error_message([&] { diagonal(v.a); }).rfind("[diagonal]", 0), 0u);
  EXPECT_THROW(diagonal(t.a, 0, 1, 1), std::invalid_argument);
  EXPECT_THROW(diagonal(t.a, 0, 0, 3), std::out_of_range);
  EXPECT_EQ(error_message([&] { diag(t.a); }).rfind("[diag]", 0), 0u);
}

TEST(Manipulation, TrilTriu) {
  for (Dtype dt : {float32, bfloat16, int64, bool_}) {
    auto x = make_t({3, 4}, dt);
    for (int k : {0, 1, -1, -5, 5}) {
      auto lo = tril(x.a, k);
      auto up = triu(x.a, k);
      EXPECT_TRUE(all_close(lo, gen({3, 4}, [&](const Idx& i) { return i[1] - i[0] <= k ? at(x.v, x.s, i) : 0.0; }),
                            tol(dt), tol(dt)));
      EXPECT_TRUE(all_close(up, gen({3, 4}, [&](const Idx& i) { return i[1] - i[0] >= k ? at(x.v, x.s, i) : 0.0; }),
                            tol(dt), tol(dt)));
    }
  }
  auto b = make({2, 3, 3}, float32);
  auto lo = tril(b.a, -1);
  EXPECT_TRUE(all_close(lo, gen({2, 3, 3}, [&](const Idx& i) { return i[2] - i[1] <= -1 ? at(b.v, b.s, i) : 0.0; })));
  // Input stays intact (no aliasing of a held input).
  EXPECT_TRUE(all_close(b.a, b.v));
  EXPECT_EQ(error_message([&] { tril(zeros({3})); }).rfind("[tril]", 0), 0u);
  EXPECT_EQ(error_message([&] { triu(zeros({3})); }).rfind("[triu]", 0), 0u);
}

TEST(Manipulation, Flip) {
  auto x = make_t({3, 4});
  EXPECT_TRUE(all_close(flip(x.a, {0}), gen({3, 4}, [&](const Idx& i) { return at(x.v, x.s, {2 - i[0], i[1]}); })));
  EXPECT_TRUE(all_close(flip(x.a), gen({3, 4}, [&](const Idx& i) { return at(x.v, x.s, {2 - i[0], 3 - i[1]}); })));
  EXPECT_THROW(flip(x.a, {2}), std::out_of_range);
}

TEST(Manipulation, LargeParallelPaths) {
  auto x = make({300, 700}, float32, 3);
  auto y = make_t({300, 500}, float32);
  auto c = concatenate({x.a, y.a}, 1);
  EXPECT_TRUE(all_close(c, gen({300, 1200}, [&](const Idx& i) {
    return i[1] < 700 ? at(x.v, x.s, i) : at(y.v, y.s, {i[0], i[1] - 700});
  })));
  auto l = tril(x.a, 5);
  EXPECT_TRUE(all_close(l, gen({300, 700}, [&](const Idx& i) { return i[1] - i[0] <= 5 ? at(x.v, x.s, i) : 0.0; })));
  auto p = pad(y.a, {{3, 0}, {0, 2}}, array(1.0f));
  EXPECT_TRUE(all_close(p, gen({303, 502}, [&](const Idx& i) {
    return (i[0] >= 3 && i[1] < 500) ? at(y.v, y.s, {i[0] - 3, i[1]}) : 1.0;
  })));
}
