// Tests of indexing ops (take, gather/scatter, slice updates, NumPy indexing) against plain-loop references.
#include <functional>

#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

using Idx = std::vector<int>;

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

double at(const std::vector<double>& v, const Shape& s, const Idx& idx) {
  size_t off = 0;
  for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + idx[d];
  return v[off];
}

struct Ref {
  std::vector<double> v;
  Shape s;
  array a;
};
Ref make(const Shape& s, Dtype dt = float32, unsigned seed = 1) {
  auto a = random_array(s, dt, -5, 5, seed);
  return {a.to_vector<double>(), s, a};
}
Ref make_t(const Shape& s, Dtype dt = float32, unsigned seed = 2) {
  auto r = make({s[1], s[0]}, dt, seed);
  auto v = gen(s, [&](const Idx& i) { return at(r.v, r.s, {i[1], i[0]}); });
  return {v, s, transpose(r.a)};
}
double tol(Dtype d) { return (d == float16 || d == bfloat16) ? 1e-2 : 1e-6; }
int wrap(int i, int n) { return i < 0 ? i + n : i; }
bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

}  // namespace

TEST(Indexing, TakeAxis) {
  for (Dtype dt : {float32, float16, int64, complex64}) {
    auto x = make_t({4, 5}, dt);
    std::vector<int> iv = {3, -1, 0, 2, 0, -4};
    array ind(iv, {2, 3}, int32);
    auto t0 = take(x.a, ind, 0);
    EXPECT_EQ(t0.shape(), Shape({2, 3, 5}));
    EXPECT_TRUE(all_close(t0, gen({2, 3, 5}, [&](const Idx& i) { return at(x.v, x.s, {wrap(iv[i[0] * 3 + i[1]], 4), i[2]}); }),
                          tol(dt), tol(dt)));
    array ind1(std::vector<int64_t>{4, -5, 1}, {3}, int64);
    auto t1 = take(x.a, ind1, 1);
    EXPECT_EQ(t1.shape(), Shape({4, 3}));
    std::vector<int> jv = {4, 0, 1};
    EXPECT_TRUE(all_close(t1, gen({4, 3}, [&](const Idx& i) { return at(x.v, x.s, {i[0], jv[i[1]]}); }), tol(dt), tol(dt)));
  }
  // 3-D, middle axis, index array a non-contiguous (broadcast) view, uint8 indices.
  auto y = make({2, 3, 4}, float64);
  auto ind = broadcast_to(array(std::vector<uint8_t>{2, 0}, {1, 2}, uint8), {2, 2});
  auto t = take(y.a, ind, 1);
  EXPECT_EQ(t.shape(), Shape({2, 2, 2, 4}));
  std::vector<int> kv = {2, 0};
  EXPECT_TRUE(all_close(t, gen({2, 2, 2, 4}, [&](const Idx& i) { return at(y.v, y.s, {i[0], kv[i[2]], i[3]}); })));
  // Scalar index forms and flattened take.
  EXPECT_TRUE(all_close(take(y.a, -1, 2), gen({2, 3}, [&](const Idx& i) { return at(y.v, y.s, {i[0], i[1], 3}); })));
  EXPECT_TRUE(all_close(take(y.a, array({23, 0, -2})), {y.v[23], y.v[0], y.v[22]}));
  EXPECT_EQ(take(y.a, 5).item<double>(), y.v[5]);
  EXPECT_EQ(take(y.a, array(1), 0).shape(), Shape({3, 4}));
}

TEST(Indexing, TakeErrors) {
  auto x = zeros({3, 4});
  EXPECT_TRUE(starts_with(error_message([&] { take(x, array({0.5f}), 0); }), "[take]"));
  EXPECT_THROW(take(x, array(std::vector<bool>{true}, {1}), 0), std::invalid_argument);
  EXPECT_THROW(take(x, array({0}), 2), std::out_of_range);
  EXPECT_THROW(take(x, 3, 0), std::out_of_range);
  EXPECT_TRUE(starts_with(error_message([&] { take(x, -4, 0); }), "[take]"));
  // Out-of-range array indices throw at evaluation.
  auto bad = take(x, array({0, 3}), 0);
  auto msg = error_message([&] { bad.eval(); });
  EXPECT_TRUE(starts_with(msg, "[gather]")) << msg;
  EXPECT_THROW(take(x, array({-5}), 1).eval(), std::out_of_range);
}

TEST(Indexing, TakeAlongAxisAndPut) {
  auto x = make_t({3, 4}, float32);
  std::vector<int> iv = {0, 3, 1, 2, -1, 0};
  array ind(iv, {3, 2}, int32);
  auto t = take_along_axis(x.a, ind, 1);
  EXPECT_EQ(t.shape(), Shape({3, 2}));
  EXPECT_TRUE(all_close(t, gen({3, 2}, [&](const Idx& i) { return at(x.v, x.s, {i[0], wrap(iv[i[0] * 2 + i[1]], 4)}); })));
  // Broadcast indices (1, 4) along axis 0 with an f16 input.
  auto h = make({3, 4}, float16);
  std::vector<int> jv = {2, 0, 1, 2};
  auto t0 = take_along_axis(h.a, array(jv, {1, 4}, int32), 0);
  EXPECT_EQ(t0.shape(), Shape({1, 4}));
  EXPECT_TRUE(all_close(t0, gen({1, 4}, [&](const Idx& i) { return at(h.v, h.s, {jv[i[1]], i[1]}); }), 1e-2, 1e-2));

  // put_along_axis: values broadcast; later duplicates win.
  std::vector<int> pv = {1, 1, 3, 0, 2, 2};
  auto p = put_along_axis(x.a, array(pv, {3, 2}, int32), array({10.0f, 20.0f}, {1, 2}), 1);
  auto ref = x.v;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 2; ++c) ref[r * 4 + pv[r * 2 + c]] = c == 0 ? 10 : 20;
  }
  EXPECT_TRUE(all_close(p, ref));
  auto sa = scatter_add_axis(x.a, array(pv, {3, 2}, int32), array({10.0f, 20.0f}, {1, 2}), 1);
  auto sref = x.v;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 2; ++c) sref[r * 4 + pv[r * 2 + c]] += c == 0 ? 10 : 20;
  }
  EXPECT_TRUE(all_close(sa, sref));
  EXPECT_TRUE(all_close(x.a, x.v));  // input unchanged

  EXPECT_TRUE(starts_with(error_message([&] { take_along_axis(x.a, array({0, 1}), 0); }), "[take_along_axis]"));
  EXPECT_THROW(take_along_axis(x.a, ind, 2), std::out_of_range);
  EXPECT_THROW(take_along_axis(x.a, array(std::vector<int>{4}, {1, 1}), 1).eval(), std::out_of_range);
  EXPECT_TRUE(starts_with(error_message([&] { put_along_axis(x.a, ind, zeros({5}), 1); }), "[put_along_axis]"));
}

TEST(Indexing, GatherSlices) {
  auto x = make({4, 5, 6}, float32);
  std::vector<int> i0 = {0, 2, -1}, i1 = {1, 3};
  // Indices (3, 1) and (2,) broadcast to (3, 2); slices of (1, 2, 3) at (i0, i1, 0).
  auto g = gather(x.a, std::vector<array>{array(i0, {3, 1}, int32), array(i1, {2}, int32)}, {0, 1}, {1, 2, 3});
  EXPECT_EQ(g.shape(), Shape({3, 2, 1, 2, 3}));
  EXPECT_TRUE(all_close(g, gen({3, 2, 1, 2, 3}, [&](const Idx& i) {
    return at(x.v, x.s, {wrap(i0[i[0]], 4) + i[2], i1[i[1]] + i[3], i[4]});
  })));
  // Gather from a transposed view along its second axis.
  auto y = make_t({5, 3});
  auto gy = gather(y.a, array({2, 0}), 1, {5, 1});
  EXPECT_EQ(gy.shape(), Shape({2, 5, 1}));
  EXPECT_TRUE(all_close(gy, gen({2, 5, 1}, [&](const Idx& i) { return at(y.v, y.s, {i[1], i[0] == 0 ? 2 : 0}); })));
  // A slice reaching past the end is an error at evaluation.
  EXPECT_THROW(gather(x.a, array({4}), 1, {1, 2, 6}).eval(), std::out_of_range);
  EXPECT_TRUE(starts_with(error_message([&] { gather(x.a, array({0}), 0, {1, 1}); }), "[gather]"));
  EXPECT_THROW(gather(x.a, array({0}), 0, {1, 6, 1}), std::invalid_argument);
  EXPECT_THROW(gather(x.a, std::vector<array>{array({0}), array({0})}, {0}, {1, 1, 1}), std::invalid_argument);
}

// Plain scatter with many duplicate indices: the last update of each row wins (on every device; the
// GPU finds the last writer through a table above 1024 index tuples and by direct checks below).
TEST(Indexing, ScatterLastDuplicateWins) {
  for (int n : {300, 3000}) {
    std::vector<int> iv(n);
    std::vector<float> uv(n * 2);
    for (int i = 0; i < n; ++i) {
      iv[i] = (i * 37 + i / 7) % 50 - (i % 3 == 0 ? 50 : 0);  // negative indices wrap
      uv[2 * i] = static_cast<float>(i);
      uv[2 * i + 1] = static_cast<float>(-i);
    }
    array x = zeros({50, 2});
    array out = scatter(x, array(iv, {n}, int32), array(uv, {n, 1, 2}, float32), 0);
    std::vector<float> ref(100, 0.0f);
    for (int i = 0; i < n; ++i) {
      int r = (iv[i] + 50) % 50;
      ref[2 * r] = uv[2 * i];
      ref[2 * r + 1] = uv[2 * i + 1];
    }
    EXPECT_EQ(out.to_vector<float>(), ref) << n << " indices";
  }
}

TEST(Indexing, ScatterReductions) {
  for (Dtype dt : {float32, bfloat16, int32, float64}) {
    auto x = make({5, 3}, dt);
    std::vector<int> iv = {1, 3, 1, -1};
    auto upd = make({4, 1, 3}, dt, 7);
    array ind(iv, {4}, int32);
    struct Case {
      std::function<array()> op;
      std::function<double(double, double)> f;
    };
    std::vector<Case> cases = {
        {[&] { return scatter(x.a, ind, upd.a, 0); }, [](double, double u) { return u; }},
        {[&] { return scatter_add(x.a, ind, upd.a, 0); }, [](double o, double u) { return o + u; }},
        {[&] { return scatter_prod(x.a, ind, upd.a, 0); }, [](double o, double u) { return o * u; }},
        {[&] { return scatter_max(x.a, ind, upd.a, 0); }, [](double o, double u) { return std::max(o, u); }},
        {[&] { return scatter_min(x.a, ind, upd.a, 0); }, [](double o, double u) { return std::min(o, u); }},
    };
    for (size_t c = 0; c < cases.size(); ++c) {
      auto ref = x.v;
      for (int k = 0; k < 4; ++k) {
        int r = wrap(iv[k], 5);
        for (int j = 0; j < 3; ++j) ref[r * 3 + j] = cases[c].f(ref[r * 3 + j], upd.v[k * 3 + j]);
      }
      double t = dt == bfloat16 ? 5e-2 : tol(dt);
      EXPECT_TRUE(all_close(cases[c].op(), ref, t, t)) << dtype_name(dt) << " case " << c;
    }
  }
  // Two index axes, partial update slices, strided (transposed) base, broadcast updates.
  auto y = make_t({4, 6});
  std::vector<int> r = {0, 2}, c = {1, 4};
  auto out = scatter_add(y.a, std::vector<array>{array(r, {2}, int32), array(c, {2}, int32)}, full({2, 2, 2}, 1.0f), {0, 1});
  auto ref = y.v;
  for (int k = 0; k < 2; ++k) {
    for (int a = 0; a < 2; ++a) {
      for (int b = 0; b < 2; ++b) ref[(r[k] + a) * 6 + c[k] + b] += 1.0;
    }
  }
  EXPECT_TRUE(all_close(out, ref));
  EXPECT_TRUE(all_close(y.a, y.v));
  // Errors.
  EXPECT_TRUE(starts_with(error_message([&] { scatter(y.a, array({0}), zeros({1, 1}), 0); }), "[scatter]"));
  EXPECT_THROW(scatter(y.a, array({0}), zeros({1, 5, 1}), 0), std::invalid_argument);
  EXPECT_THROW(scatter_add(y.a, array({0}), zeros({1, 1, 1}), 2), std::out_of_range);
  EXPECT_THROW(scatter(y.a, array({4}), zeros({1, 1, 6}), 0).eval(), std::out_of_range);
  EXPECT_THROW(scatter_max(astype(y.a, complex64), array({0}), zeros({1, 1, 1}), 0), std::invalid_argument);
}

TEST(Indexing, SliceUpdate) {
  for (Dtype dt : {float32, float16, int8}) {
    auto x = make_t({5, 4}, dt);
    auto u = make({2, 2}, float32, 9);
    auto out = slice_update(x.a, u.a, {1, 3}, {5, -5}, {2, -2});  // rows 1,3; cols 3,1
    auto ref = x.v;
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) ref[(1 + 2 * i) * 4 + 3 - 2 * j] = astype(u.a, dt).to_vector<double>()[i * 2 + j];
    }
    EXPECT_EQ(out.dtype(), dt);
    EXPECT_TRUE(all_close(out, ref, tol(dt), tol(dt))) << dtype_name(dt);
    EXPECT_TRUE(all_close(x.a, x.v, tol(dt), tol(dt)));
  }
  // In place on a donated buffer still gives the right values; broadcast update.
  auto y = arange(0.0, 12.0, 1.0);
  auto z = slice_update(reshape(y * array(2.0f), {3, 4}), array(-1.0f), {0, 1}, {3, 2});
  EXPECT_TRUE(all_close(z, gen({3, 4}, [&](const Idx& i) { return i[1] == 1 ? -1.0 : 2.0 * (i[0] * 4 + i[1]); })));
  EXPECT_TRUE(all_close(y, gen({12}, [&](const Idx& i) { return double(i[0]); })));
  auto w = zeros({3, 4});
  EXPECT_TRUE(starts_with(error_message([&] { slice_update(w, zeros({2}), {0, 0}, {3, 3}); }), "[slice_update]"));
  EXPECT_THROW(slice_update(w, zeros({1}), {0}, {1}), std::invalid_argument);
  EXPECT_THROW(slice_update(w, zeros({1}), {0, 0}, {1, 1}, {1, 0}), std::invalid_argument);
}

TEST(Indexing, DynamicSlice) {
  auto x = make_t({5, 6});
  auto d = dynamic_slice(x.a, array({1, -3}), {0, 1}, {2, 3});
  EXPECT_TRUE(all_close(d, gen({2, 3}, [&](const Idx& i) { return at(x.v, x.s, {1 + i[0], 3 + i[1]}); })));
  auto c = dynamic_slice(x.a, array({4}), {0}, {3, 6});  // clamped to start 2
  EXPECT_TRUE(all_close(c, gen({3, 6}, [&](const Idx& i) { return at(x.v, x.s, {2 + i[0], i[1]}); })));
  auto u = dynamic_slice_update(x.a, full({2, 2}, 9.0f), array({3, 1}), {0, 1});
  auto ref = x.v;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) ref[(3 + i) * 6 + 1 + j] = 9.0;
  }
  EXPECT_TRUE(all_close(u, ref));
  EXPECT_TRUE(starts_with(error_message([&] { dynamic_slice(x.a, array({1}), {0, 1}, {1, 1}); }), "[dynamic_slice]"));
  EXPECT_THROW(dynamic_slice(x.a, array({1.0f}), {0}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(dynamic_slice(x.a, array({1}), {0}, {6, 1}), std::invalid_argument);
  EXPECT_THROW(dynamic_slice_update(x.a, zeros({6, 1}), array({0}), {0}), std::invalid_argument);
}

TEST(Indexing, BasicIndexIsView) {
  auto x = make({4, 5, 6}, float32);
  // x[1, ::2, -1]
  auto a = index(x.a, {int64_t{1}, SliceIndex{std::nullopt, std::nullopt, 2}, int64_t{-1}});
  EXPECT_EQ(a.shape(), Shape({3}));
  EXPECT_TRUE(all_close(a, gen({3}, [&](const Idx& i) { return at(x.v, x.s, {1, 2 * i[0], 5}); })));
  // x[..., newaxis, 3:0:-2] on a view
  auto b = index(x.a, {ellipsis, newaxis, SliceIndex{3, 0, -2}});
  EXPECT_EQ(b.shape(), Shape({4, 5, 1, 2}));
  EXPECT_TRUE(all_close(b, gen({4, 5, 1, 2}, [&](const Idx& i) { return at(x.v, x.s, {i[0], i[1], 3 - 2 * i[3]}); })));
  // x[::-1] reverses all the way, x[-100:100] clamps, x[2] shares memory with x.
  auto c = index(x.a, {SliceIndex{std::nullopt, std::nullopt, -1}});
  EXPECT_TRUE(all_close(c, gen({4, 5, 6}, [&](const Idx& i) { return at(x.v, x.s, {3 - i[0], i[1], i[2]}); })));
  EXPECT_EQ(index(x.a, {SliceIndex{-100, 100, std::nullopt}}).shape(), Shape({4, 5, 6}));
  auto v = index(x.a, {int64_t{2}});
  v.eval();
  EXPECT_EQ(v.data_shared_ptr(), x.a.data_shared_ptr());
  EXPECT_EQ(index(x.a, {SliceIndex{5, 2, std::nullopt}}).shape(), Shape({0, 5, 6}));
  // Errors.
  auto msg = error_message([&] { index(x.a, {int64_t{4}}); });
  EXPECT_TRUE(starts_with(msg, "[index]")) << msg;
  EXPECT_THROW(index(x.a, {int64_t{-5}}), std::out_of_range);
  EXPECT_THROW(index(x.a, {int64_t{0}, int64_t{0}, int64_t{0}, int64_t{0}}), std::out_of_range);
  EXPECT_THROW(index(x.a, {ellipsis, ellipsis}), std::invalid_argument);
  EXPECT_THROW(index(x.a, {SliceIndex{0, 2, 0}}), std::invalid_argument);
  EXPECT_THROW(index(x.a, {array({0.5f})}), std::invalid_argument);
}

TEST(Indexing, AdvancedIndex) {
  auto x = make({4, 5, 6}, float64);
  std::vector<int> i0 = {3, -1, 0}, i1 = {4, 0};
  // Adjacent advanced indices: x[:, [[4],[0]], [3,-1,0]] -> (4, 2, 3)
  auto a = index(x.a, {SliceIndex{}, array(i1, {2, 1}, int32), array(i0, {3}, int32)});
  EXPECT_EQ(a.shape(), Shape({4, 2, 3}));
  EXPECT_TRUE(all_close(a, gen({4, 2, 3}, [&](const Idx& i) { return at(x.v, x.s, {i[0], i1[i[1]], wrap(i0[i[2]], 6)}); })));
  // Separated by a slice: advanced dims go first. x[[3,-1,0], 1:3, [0,1,2]] -> (3, 2)
  std::vector<int> k = {0, 1, 2};
  auto b = index(x.a, {array(i0, {3}, int32), SliceIndex{1, 3, std::nullopt}, array(k, {3}, int32)});
  EXPECT_EQ(b.shape(), Shape({3, 2}));
  EXPECT_TRUE(all_close(b, gen({3, 2}, [&](const Idx& i) { return at(x.v, x.s, {wrap(i0[i[0]], 4), 1 + i[1], k[i[0]]}); })));
  // NumPy quirk: an int and an array separated by a slice: x[0, :, [1, 2]] -> (2, 5).
  auto c = index(x.a, {int64_t{0}, SliceIndex{}, array({1, 2})});
  EXPECT_EQ(c.shape(), Shape({2, 5}));
  EXPECT_TRUE(all_close(c, gen({2, 5}, [&](const Idx& i) { return at(x.v, x.s, {0, i[1], 1 + i[0]}); })));
  // Adjacent int and array stay in place: x[:, 1, [5, 0]] -> (4, 2).
  auto d = index(x.a, {SliceIndex{}, int64_t{1}, array({5, 0})});
  EXPECT_EQ(d.shape(), Shape({4, 2}));
  EXPECT_TRUE(all_close(d, gen({4, 2}, [&](const Idx& i) { return at(x.v, x.s, {i[0], 1, i[1] == 0 ? 5 : 0}); })));
  // Transposed input with a newaxis and an array.
  auto t = make_t({3, 4});
  auto e = index(t.a, {newaxis, array({2, 0, 2}), SliceIndex{std::nullopt, std::nullopt, -1}});
  EXPECT_EQ(e.shape(), Shape({1, 3, 4}));
  std::vector<int> rr = {2, 0, 2};
  EXPECT_TRUE(all_close(e, gen({1, 3, 4}, [&](const Idx& i) { return at(t.v, t.s, {rr[i[1]], 3 - i[2]}); })));
  // Out of range array indices throw at evaluation.
  EXPECT_THROW(index(x.a, {array({4})}).eval(), std::out_of_range);
  EXPECT_THROW(index(x.a, {array({0, 1}), array({0, 1, 2})}), std::invalid_argument);
}

TEST(Indexing, BooleanMask) {
  auto x = make({3, 4}, float32);
  std::vector<bool> m = {true, false, true, false, false, false, true, true, false, true, false, false};
  auto out = index(x.a, {array(m, {3, 4})});
  std::vector<double> ref;
  for (int i = 0; i < 12; ++i) {
    if (m[i]) ref.push_back(x.v[i]);
  }
  EXPECT_EQ(out.shape(), Shape({static_cast<int>(ref.size())}));
  EXPECT_TRUE(all_close(out, ref));
  // Row mask then a column slice.
  std::vector<bool> rm = {true, false, true};
  auto r = index(x.a, {array(rm, {3}), SliceIndex{1, 3, std::nullopt}});
  EXPECT_EQ(r.shape(), Shape({2, 2}));
  EXPECT_TRUE(all_close(r, gen({2, 2}, [&](const Idx& i) { return at(x.v, {3, 4}, {2 * i[0], 1 + i[1]}); })));
  // Scalar bool adds an axis.
  EXPECT_EQ(index(x.a, {array(true)}).shape(), Shape({1, 3, 4}));
  EXPECT_EQ(index(x.a, {array(false)}).shape(), Shape({0, 3, 4}));
  EXPECT_TRUE(starts_with(error_message([&] { index(x.a, {array(std::vector<bool>{true, false}, {2})}); }), "[index]"));
}

TEST(Indexing, IndexUpdate) {
  for (Dtype dt : {float32, int32, bfloat16}) {
    auto x = make_t({4, 5}, dt);
    // Basic: x[1:4:2, -1] = [7, 8]
    auto a = index_update(x.a, {SliceIndex{1, 4, 2}, int64_t{-1}}, array({7.0f, 8.0f}));
    auto ref = x.v;
    ref[1 * 5 + 4] = 7;
    ref[3 * 5 + 4] = 8;
    EXPECT_EQ(a.dtype(), dt);
    EXPECT_TRUE(all_close(a, ref, tol(dt), tol(dt))) << dtype_name(dt);
    EXPECT_TRUE(all_close(x.a, x.v, tol(dt), tol(dt)));
  }
  auto x = make({4, 5}, float32);
  // Reversed slice with newaxis: x[newaxis, ::-1, 0] = arange(4)
  auto r = index_update(x.a, {newaxis, SliceIndex{std::nullopt, std::nullopt, -1}, int64_t{0}}, arange(0.0, 4.0, 1.0));
  auto ref = x.v;
  for (int i = 0; i < 4; ++i) ref[(3 - i) * 5] = i;
  EXPECT_TRUE(all_close(r, ref));
  // Advanced: x[[0, 2], 1:3] = 5 ; x[:, [4, 0]] = [[1, 2]] ; separated x[[1,3], :, ] with int quirk.
  auto b = index_update(x.a, {array({0, 2}), SliceIndex{1, 3, std::nullopt}}, array(5.0f));
  ref = x.v;
  for (int i : {0, 2}) {
    for (int j = 1; j < 3; ++j) ref[i * 5 + j] = 5;
  }
  EXPECT_TRUE(all_close(b, ref));
  auto c = index_update(x.a, {SliceIndex{}, array({4, 0})}, array({1.0f, 2.0f}, {1, 2}));
  ref = x.v;
  for (int i = 0; i < 4; ++i) {
    ref[i * 5 + 4] = 1;
    ref[i * 5 + 0] = 2;
  }
  EXPECT_TRUE(all_close(c, ref));
  auto y = make({2, 3, 4}, float32);
  // y[0, :, [1, 2]] = v with v of the result shape (2, 3) (advanced dims first).
  auto d = index_update(y.a, {int64_t{0}, SliceIndex{}, array({1, 2})}, array({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3}));
  auto yref = y.v;
  for (int k = 0; k < 2; ++k) {
    for (int j = 0; j < 3; ++j) yref[j * 4 + 1 + k] = 1 + k * 3 + j;
  }
  EXPECT_TRUE(all_close(d, yref));
  // Boolean mask assignment.
  std::vector<bool> m = {true, false, false, true, false, true, false, false, false, false, true, false,
                         false, false, false, false, false, false, false, true};
  auto e = index_update(x.a, {array(m, {4, 5})}, array(0.0f));
  ref = x.v;
  for (int i = 0; i < 20; ++i) {
    if (m[i]) ref[i] = 0;
  }
  EXPECT_TRUE(all_close(e, ref));
  EXPECT_TRUE(starts_with(error_message([&] { index_update(x.a, {int64_t{0}}, zeros({3})); }), "[index_update]"));
  EXPECT_THROW(index_update(x.a, {int64_t{9}}, array(0.0f)), std::out_of_range);
  EXPECT_THROW(index_update(x.a, {array({0, 9})}, array(0.0f)).eval(), std::out_of_range);
}

TEST(Indexing, LargeParallelPaths) {
  // Big enough to split across threads: take rows, scatter_add with many duplicates.
  auto x = make({2000, 64}, float32);
  std::vector<int> iv(3000);
  for (int i = 0; i < 3000; ++i) iv[i] = (i * 7919) % 2000 - (i % 3 == 0 ? 2000 : 0);
  array ind(iv, {3000}, int32);
  auto t = take(x.a, ind, 0);
  EXPECT_TRUE(all_close(t, gen({3000, 64}, [&](const Idx& i) { return at(x.v, x.s, {wrap(iv[i[0]], 2000), i[1]}); })));
  auto upd = make({3000, 1, 64}, float32, 5);
  auto s = scatter_add(x.a, ind, upd.a, 0);
  auto ref = x.v;
  for (int k = 0; k < 3000; ++k) {
    int r = wrap(iv[k], 2000);
    for (int j = 0; j < 64; ++j) ref[r * 64 + j] += upd.v[k * 64 + j];
  }
  EXPECT_TRUE(all_close(s, ref, 1e-5, 1e-4));
  auto ta = take_along_axis(x.a, broadcast_to(array(std::vector<int>{63, 0}, {1, 2}, int32), {2000, 2}), 1);
  EXPECT_TRUE(all_close(ta, gen({2000, 2}, [&](const Idx& i) { return at(x.v, x.s, {i[0], i[1] == 0 ? 63 : 0}); })));
}
