// Tests of matmul, addmm, outer, inner, tensordot and einsum against float64 loop references.
#include <map>
#include <string>

#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

// C (batch, M, N) = A (batch, M, K) @ B (batch, K, N), row-major, batch already expanded.
std::vector<double> ref_matmul(const std::vector<double>& A, const std::vector<double>& B, int batch, int M, int K,
                               int N) {
  std::vector<double> C(static_cast<size_t>(batch) * M * N, 0.0);
  for (int b = 0; b < batch; ++b)
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double s = 0;
        for (int k = 0; k < K; ++k) s += A[(b * M + i) * K + k] * B[(b * K + k) * N + j];
        C[(b * M + i) * N + j] = s;
      }
  return C;
}

double tol_for(Dtype d) { return d == float64 ? 1e-10 : d == float32 ? 1e-4 : d == float16 ? 1e-2 : 5e-2; }

// Values of a random array as it is stored in dtype d (so the reference sees the rounded inputs).
std::vector<double> values(array a) { return a.to_vector<double>(); }

// General einsum reference by brute-force enumeration over all label values; size-1 dims broadcast.
std::vector<double> ref_einsum(const std::vector<std::string>& ins, const std::string& out,
                               const std::vector<std::vector<double>>& data, const std::vector<Shape>& shapes) {
  std::map<char, int> size;
  for (size_t t = 0; t < ins.size(); ++t)
    for (size_t d = 0; d < ins[t].size(); ++d) size[ins[t][d]] = std::max(size[ins[t][d]], shapes[t][d]);
  std::vector<char> labels;
  for (auto& [c, n] : size) labels.push_back(c);
  size_t out_n = 1;
  for (char c : out) out_n *= size[c];
  std::vector<double> res(out_n, 0.0);
  std::map<char, int> idx;
  for (char c : labels) idx[c] = 0;
  while (true) {
    double prod = 1;
    for (size_t t = 0; t < ins.size(); ++t) {
      size_t off = 0;
      for (size_t d = 0; d < ins[t].size(); ++d) {
        int n = shapes[t][d];
        off = off * n + (n == 1 ? 0 : idx[ins[t][d]]);
      }
      prod *= data[t][off];
    }
    size_t o = 0;
    for (char c : out) o = o * size[c] + idx[c];
    res[o] += prod;
    size_t k = labels.size();
    while (k > 0) {
      char c = labels[k - 1];
      if (++idx[c] < size[c]) break;
      idx[c] = 0;
      --k;
    }
    if (k == 0) break;
  }
  return res;
}

}  // namespace

TEST(Matmul, Basic2DAllFloatTypes) {
  std::vector<std::array<int, 3>> dims = {{3, 4, 5}, {1, 7, 1}, {64, 33, 17}, {130, 70, 90}, {5, 1, 6}};
  for (Dtype dt : {float32, float64, float16, bfloat16}) {
    for (auto [M, K, N] : dims) {
      auto a = random_array({M, K}, dt, -1, 1, 1);
      auto b = random_array({K, N}, dt, -1, 1, 2);
      auto c = matmul(a, b);
      EXPECT_EQ(c.shape(), Shape({M, N}));
      EXPECT_EQ(c.dtype(), dt);
      double tol = tol_for(dt);
      EXPECT_TRUE(all_close(c, ref_matmul(values(a), values(b), 1, M, K, N), tol, tol * K)) << dtype_name(dt);
    }
  }
}

// Few-row 16-bit products (decode) take a tiled path that converts the weight in column tiles:
// the Linear layout (x @ W^T with W (N, K) row-major), a row-major (K, N) matrix, batched rows with a
// shared 2-D weight, and N not a multiple of the tile.
TEST(Matmul, HalfDecodeShapesTiled) {
  for (Dtype dt : {float16, bfloat16}) {
    for (int N : {300, 17, 513}) {
      int K = 96;
      auto w = random_array({N, K}, dt, -1, 1, 11);  // (N, K)
      auto x = random_array({2, 3, K}, dt, -1, 1, 12);  // (B, L, K)
      std::vector<double> wt(static_cast<size_t>(K) * N), wv = values(w);
      for (int n = 0; n < N; ++n)
        for (int k = 0; k < K; ++k) wt[static_cast<size_t>(k) * N + n] = wv[static_cast<size_t>(n) * K + k];
      double tol = tol_for(dt);
      auto y = matmul(x, transpose(w));  // W^T is a column-contiguous view
      EXPECT_EQ(y.shape(), Shape({2, 3, N}));
      EXPECT_TRUE(all_close(y, ref_matmul(values(x), wt, 1, 6, K, N), tol, tol * K)) << dtype_name(dt) << " " << N;
      auto wr = random_array({K, N}, dt, -1, 1, 13);  // row-major (K, N)
      auto y2 = matmul(reshape(x, {6, K}), wr);
      EXPECT_TRUE(all_close(y2, ref_matmul(values(x), values(wr), 1, 6, K, N), tol, tol * K)) << dtype_name(dt);
      auto x1 = random_array({1, K}, dt, -1, 1, 14);  // one row: the GEMV path, both layouts
      EXPECT_TRUE(all_close(matmul(x1, transpose(w)), ref_matmul(values(x1), wt, 1, 1, K, N), tol, tol * K));
      EXPECT_TRUE(all_close(matmul(x1, wr), ref_matmul(values(x1), values(wr), 1, 1, K, N), tol, tol * K));
    }
  }
}

// One-row float32 products go through sgemv: row-major and transposed weights, a transposed row.
TEST(Matmul, SingleRowGemv) {
  int K = 37, N = 23;
  auto w = random_array({N, K}, float32, -1, 1, 15);
  auto wr = random_array({K, N}, float32, -1, 1, 16);
  auto x = random_array({1, K}, float32, -1, 1, 17);
  std::vector<double> wt(static_cast<size_t>(K) * N), wv = values(w);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) wt[static_cast<size_t>(k) * N + n] = wv[static_cast<size_t>(n) * K + k];
  EXPECT_TRUE(all_close(matmul(x, transpose(w)), ref_matmul(values(x), wt, 1, 1, K, N), 1e-5, 1e-5));
  EXPECT_TRUE(all_close(matmul(x, wr), ref_matmul(values(x), values(wr), 1, 1, K, N), 1e-5, 1e-5));
  auto xt = transpose(random_array({K, 1}, float32, -1, 1, 18));  // (1, K) with stride K: a column view
  EXPECT_TRUE(all_close(matmul(xt, wr), ref_matmul(values(xt), values(wr), 1, 1, K, N), 1e-5, 1e-5));
  auto c = random_array({1, N}, float32, -1, 1, 19);  // addmm with beta keeps c's contribution
  auto got = addmm(c, x, wr, 2.0f, 0.5f);
  auto ref = ref_matmul(values(x), values(wr), 1, 1, K, N);
  auto cv = values(c);
  for (int n = 0; n < N; ++n) ref[n] = 2.0 * ref[n] + 0.5 * cv[n];
  EXPECT_TRUE(all_close(got, ref, 1e-5, 1e-5));
}

TEST(Matmul, MixedDtypesPromote) {
  auto a = random_array({3, 4}, float16, -1, 1, 1);
  auto b = random_array({4, 2}, float32, -1, 1, 2);
  auto c = matmul(a, b);
  EXPECT_EQ(c.dtype(), float32);
  EXPECT_TRUE(all_close(c, ref_matmul(values(a), values(b), 1, 3, 4, 2), 1e-5, 1e-5));
}

TEST(Matmul, VectorPromotion) {
  auto v = random_array({4}, float32, -1, 1, 3);
  auto m = random_array({4, 3}, float32, -1, 1, 4);
  auto m2 = random_array({5, 4}, float32, -1, 1, 5);
  auto vm = matmul(v, m);
  EXPECT_EQ(vm.shape(), Shape({3}));
  EXPECT_TRUE(all_close(vm, ref_matmul(values(v), values(m), 1, 1, 4, 3), 1e-5, 1e-5));
  auto mv = matmul(m2, v);
  EXPECT_EQ(mv.shape(), Shape({5}));
  EXPECT_TRUE(all_close(mv, ref_matmul(values(m2), values(v), 1, 5, 4, 1), 1e-5, 1e-5));
  auto vv = matmul(v, v);
  EXPECT_EQ(vv.shape(), Shape({}));
  EXPECT_TRUE(all_close(vv, ref_matmul(values(v), values(v), 1, 1, 4, 1), 1e-5, 1e-5));
  // Batched matrix times vector: (2, 5, 4) @ (4,) -> (2, 5).
  auto bm = random_array({2, 5, 4}, float64, -1, 1, 6);
  auto bmv = matmul(bm, v);
  EXPECT_EQ(bmv.shape(), Shape({2, 5}));
  EXPECT_TRUE(all_close(bmv, ref_matmul(values(bm), values(v), 1, 10, 4, 1), 1e-6, 1e-6));
}

TEST(Matmul, BatchedWithBroadcast) {
  // (2, 1, 3, 4) @ (5, 4, 6) -> (2, 5, 3, 6)
  auto a = random_array({2, 1, 3, 4}, float32, -1, 1, 7);
  auto b = random_array({5, 4, 6}, float32, -1, 1, 8);
  auto c = matmul(a, b);
  ASSERT_EQ(c.shape(), Shape({2, 5, 3, 6}));
  auto va = values(a), vb = values(b);
  std::vector<double> A, B;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 5; ++j) {
      A.insert(A.end(), va.begin() + i * 12, va.begin() + (i + 1) * 12);
      B.insert(B.end(), vb.begin() + j * 24, vb.begin() + (j + 1) * 24);
    }
  EXPECT_TRUE(all_close(c, ref_matmul(A, B, 10, 3, 4, 6), 1e-5, 1e-5));
  // 2-D with a batch.
  auto m = random_array({4, 6}, float64, -1, 1, 9);
  auto c2 = matmul(random_array({3, 2, 4}, float64, -1, 1, 10), m);
  auto vm = values(m);
  std::vector<double> B2;
  for (int i = 0; i < 3; ++i) B2.insert(B2.end(), vm.begin(), vm.end());
  EXPECT_TRUE(all_close(c2, ref_matmul(values(random_array({3, 2, 4}, float64, -1, 1, 10)), B2, 3, 2, 4, 6), 1e-10,
                        1e-10));
}

TEST(Matmul, NonContiguousOperands) {
  for (Dtype dt : {float32, float64, bfloat16}) {
    double tol = tol_for(dt);
    // Column-major a (transpose view), row-major b.
    auto at = transpose(random_array({7, 5}, dt, -1, 1, 11));  // (5, 7)
    auto b = random_array({7, 3}, dt, -1, 1, 12);
    EXPECT_TRUE(all_close(matmul(at, b), ref_matmul(values(at), values(b), 1, 5, 7, 3), tol, tol * 7));
    // Both transposed.
    auto bt = transpose(random_array({3, 7}, dt, -1, 1, 13));  // (7, 3)
    EXPECT_TRUE(all_close(matmul(at, bt), ref_matmul(values(at), values(bt), 1, 5, 7, 3), tol, tol * 7));
    // Strided slices (leading dimension > cols) and negative steps (needs a copy).
    auto big = random_array({10, 12}, dt, -1, 1, 14);
    auto sub = slice(big, {1, 2}, {8, 9});        // (7, 7), ld 12
    auto neg = slice(big, {9, 0}, {2, 12}, {-1, 3});  // (7, 4), negative and step 3
    EXPECT_TRUE(all_close(matmul(sub, neg), ref_matmul(values(sub), values(neg), 1, 7, 7, 4), tol, tol * 7));
    // Batched swapaxes.
    auto a3 = swapaxes(random_array({4, 6, 5}, dt, -1, 1, 15), 1, 2);  // (4, 5, 6)
    auto b3 = random_array({4, 6, 2}, dt, -1, 1, 16);
    EXPECT_TRUE(all_close(matmul(a3, b3), ref_matmul(values(a3), values(b3), 4, 5, 6, 2), tol, tol * 6));
    // Batch dim transposed to the back: (5, 3, 4) viewed as (3, 4, 5) ... then moveaxis.
    auto a4 = moveaxis(random_array({3, 4, 2}, dt, -1, 1, 17), 2, 0);  // (2, 3, 4)
    auto b4 = transpose(random_array({2, 4, 2}, dt, -1, 1, 18), {1, 2, 0});  // (4, 2, 2)->(4,2,2)
    auto b4b = reshape(b4, {2, 4, 2});
    EXPECT_TRUE(all_close(matmul(a4, b4b), ref_matmul(values(a4), values(b4b), 2, 3, 4, 2), tol, tol * 4));
  }
}

TEST(Matmul, EmptyAndZeroK) {
  auto c = matmul(zeros({3, 0}), zeros({0, 4}));
  EXPECT_EQ(c.shape(), Shape({3, 4}));
  EXPECT_TRUE(all_close(c, std::vector<double>(12, 0.0)));
  auto d = matmul(zeros({0, 5}), ones({5, 4}));
  EXPECT_EQ(d.shape(), Shape({0, 4}));
  EXPECT_EQ(d.to_vector<float>().size(), 0u);
}

TEST(Matmul, Complex64) {
  std::vector<complex64_t> av = {{1, 2}, {3, -1}, {0, 1}, {2, 2}};
  std::vector<complex64_t> bv = {{1, 0}, {0, 1}, {-1, 1}, {2, -3}};
  array a(av, {2, 2}), b(bv, {2, 2});
  auto c = matmul(a, b).to_vector<complex64_t>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      std::complex<double> s = 0;
      for (int k = 0; k < 2; ++k) s += std::complex<double>(av[i * 2 + k]) * std::complex<double>(bv[k * 2 + j]);
      EXPECT_NEAR(c[i * 2 + j].real(), s.real(), 1e-5);
      EXPECT_NEAR(c[i * 2 + j].imag(), s.imag(), 1e-5);
    }
}

TEST(Matmul, Errors) {
  auto msg = error_message([] { matmul(array({1, 2}), array({3, 4})); });
  EXPECT_EQ(msg.rfind("[matmul]", 0), 0u) << msg;
  msg = error_message([] { matmul(ones({2, 3}), ones({4, 2})); });
  EXPECT_EQ(msg.rfind("[matmul]", 0), 0u) << msg;
  msg = error_message([] { matmul(array(1.0f), ones({2})); });
  EXPECT_EQ(msg.rfind("[matmul]", 0), 0u) << msg;
  msg = error_message([] { matmul(ones({2, 2, 3}), ones({3, 3, 2})); });
  EXPECT_EQ(msg.rfind("[matmul]", 0), 0u) << msg;
  EXPECT_THROW(matmul(ones({2, 3}), ones({4, 2})), std::invalid_argument);
}

TEST(Matmul, AddMM) {
  for (Dtype dt : {float32, float64, float16}) {
    double tol = tol_for(dt);
    auto a = random_array({2, 3, 4}, dt, -1, 1, 20);
    auto b = transpose(random_array({2, 5, 4}, dt, -1, 1, 21), {0, 2, 1});  // (2, 4, 5)
    auto c = random_array({5}, dt, -1, 1, 22);                                // broadcast over rows and batch
    auto out = addmm(c, a, b, 2.0f, 0.5f);
    EXPECT_EQ(out.shape(), Shape({2, 3, 5}));
    auto ab = ref_matmul(values(a), values(b), 2, 3, 4, 5);
    auto vc = values(c);
    for (size_t i = 0; i < ab.size(); ++i) ab[i] = 2.0 * ab[i] + 0.5 * vc[i % 5];
    EXPECT_TRUE(all_close(out, ab, tol, 4 * tol)) << dtype_name(dt);
  }
  // Full c, defaults alpha = beta = 1.
  auto a = random_array({3, 3}, float32, -1, 1, 23), b = random_array({3, 3}, float32, -1, 1, 24);
  auto c = random_array({3, 3}, float32, -1, 1, 25);
  auto ref = ref_matmul(values(a), values(b), 1, 3, 3, 3);
  auto vc = values(c);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] += vc[i];
  EXPECT_TRUE(all_close(addmm(c, a, b), ref, 1e-5, 1e-5));
  auto msg = error_message([&] { addmm(ones({4, 3}), a, b); });
  EXPECT_EQ(msg.rfind("[addmm]", 0), 0u) << msg;
}

TEST(Matmul, OuterInner) {
  auto a = random_array({2, 2}, float32, -1, 1, 30), b = random_array({3}, float32, -1, 1, 31);
  auto o = outer(a, b);
  EXPECT_EQ(o.shape(), Shape({4, 3}));
  auto va = values(a), vb = values(b);
  std::vector<double> ref;
  for (double x : va)
    for (double y : vb) ref.push_back(x * y);
  EXPECT_TRUE(all_close(o, ref, 1e-6, 1e-6));

  auto p = random_array({2, 3, 4}, float64, -1, 1, 32), q = random_array({5, 4}, float64, -1, 1, 33);
  auto in = inner(p, q);
  EXPECT_EQ(in.shape(), Shape({2, 3, 5}));
  EXPECT_TRUE(all_close(in, ref_einsum({"abk", "ck"}, "abc", {values(p), values(q)}, {p.shape(), q.shape()}), 1e-10,
                        1e-10));
  auto s = inner(array(2.0f), b);
  EXPECT_TRUE(all_close(s, {2 * vb[0], 2 * vb[1], 2 * vb[2]}, 1e-6, 1e-6));
  auto msg = error_message([&] { inner(p, b); });
  EXPECT_EQ(msg.rfind("[inner]", 0), 0u) << msg;
}

TEST(Matmul, Tensordot) {
  auto a = random_array({3, 4, 5}, float32, -1, 1, 40), b = random_array({4, 5, 2}, float32, -1, 1, 41);
  auto t = tensordot(a, b, 2);
  EXPECT_EQ(t.shape(), Shape({3, 2}));
  EXPECT_TRUE(all_close(t, ref_einsum({"ijk", "jkl"}, "il", {values(a), values(b)}, {a.shape(), b.shape()}), 1e-5, 1e-5));
  // Explicit pairs, non-trailing axes: contract a's axis 0 with c's axis 1.
  auto c = random_array({2, 3, 6}, float32, -1, 1, 42);
  auto t2 = tensordot(a, c, std::vector<int>{0}, std::vector<int>{1});
  EXPECT_EQ(t2.shape(), Shape({4, 5, 2, 6}));
  EXPECT_TRUE(all_close(t2, ref_einsum({"ijk", "lim"}, "jklm", {values(a), values(c)}, {a.shape(), c.shape()}), 1e-5,
                        1e-5));
  auto t3 = tensordot(a, b, {{1, 2}, {0, 1}});
  EXPECT_TRUE(all_close(t3, t.to_vector<double>(), 1e-6, 1e-6));
  auto t0 = tensordot(a, c, 0);  // outer product
  EXPECT_EQ(t0.shape(), Shape({3, 4, 5, 2, 3, 6}));
  auto msg = error_message([&] { tensordot(a, b, std::vector<int>{0}, std::vector<int>{0}); });
  EXPECT_EQ(msg.rfind("[tensordot]", 0), 0u) << msg;
  msg = error_message([&] { tensordot(a, b, 4); });
  EXPECT_EQ(msg.rfind("[tensordot]", 0), 0u) << msg;
  EXPECT_THROW(tensordot(a, b, std::vector<int>{5}, std::vector<int>{0}), std::out_of_range);
}

TEST(Einsum, AgainstBruteForce) {
  struct Case {
    std::string expr;
    std::vector<std::string> ins;
    std::string out;
    std::vector<Shape> shapes;
  };
  std::vector<Case> cases = {
      {"ij,jk->ik", {"ij", "jk"}, "ik", {{3, 4}, {4, 5}}},
      {"ij,jk", {"ij", "jk"}, "ik", {{3, 4}, {4, 5}}},
      {"ij->ji", {"ij"}, "ji", {{3, 4}}},
      {"ij->", {"ij"}, "", {{3, 4}}},
      {"ij->j", {"ij"}, "j", {{3, 4}}},
      {"i,i->", {"i", "i"}, "", {{6}, {6}}},
      {"i,j->ij", {"i", "j"}, "ij", {{3}, {4}}},
      {"bij,bjk->bik", {"bij", "bjk"}, "bik", {{2, 3, 4}, {2, 4, 5}}},
      {"bij,bkj->bki", {"bij", "bkj"}, "bki", {{2, 3, 4}, {2, 5, 4}}},
      {"ijk,jil->kl", {"ijk", "jil"}, "kl", {{2, 3, 4}, {3, 2, 5}}},
      {"ij,jk,kl->il", {"ij", "jk", "kl"}, "il", {{2, 3}, {3, 4}, {4, 5}}},
      {"ij,jk,kl", {"ij", "jk", "kl"}, "il", {{2, 3}, {3, 4}, {4, 5}}},
      {"ab,cd->", {"ab", "cd"}, "", {{2, 3}, {2, 2}}},
      {"ba,ca", {"ba", "ca"}, "bc", {{2, 3}, {4, 3}}},
      {"...ij,...jk->...ik", {"xij", "xjk"}, "xik", {{3, 2, 4}, {1, 4, 5}}},
      {"...j,j->...", {"xyj", "j"}, "xy", {{2, 3, 4}, {4}}},
      {"i j , j k -> i k", {"ij", "jk"}, "ik", {{2, 3}, {3, 2}}},
  };
  for (auto& c : cases) {
    std::vector<array> ops;
    std::vector<std::vector<double>> data;
    for (size_t i = 0; i < c.shapes.size(); ++i) {
      ops.push_back(random_array(c.shapes[i], float64, -1, 1, 50 + static_cast<unsigned>(i)));
      data.push_back(values(ops.back()));
    }
    auto r = einsum(c.expr, ops);
    auto ref = ref_einsum(c.ins, c.out, data, c.shapes);
    EXPECT_TRUE(all_close(r, ref, 1e-10, 1e-10)) << c.expr;
    EXPECT_EQ(r.size(), ref.size()) << c.expr;
  }
  // Non-contiguous operand and float32.
  auto a = transpose(random_array({4, 3}, float32, -1, 1, 60));
  auto b = random_array({4, 2}, float32, -1, 1, 61);
  EXPECT_TRUE(all_close(einsum("ij,jk->ik", {a, b}), ref_matmul(values(a), values(b), 1, 3, 4, 2), 1e-5, 1e-5));
  EXPECT_EQ(einsum("ij,jk->ki", {a, b}).shape(), Shape({2, 3}));
}

TEST(Einsum, Errors) {
  auto a = ones({3, 3}), b = ones({3, 4});
  for (auto [expr, ops] : std::vector<std::pair<std::string, std::vector<array>>>{
           {"ii->i", {a}},
           {"ij,jk->iz", {a, b}},
           {"ij,jk->ik", {a}},
           {"ijk,jk->ik", {a, b}},
           {"ij,jk->iik", {a, b}},
           {"i1,jk->ik", {a, b}},
           {"i..j,jk->ik", {a, b}},
           {"ij,jk->i->k", {a, b}},
           {"ij,jk->ik", {a, ones({4, 4})}},
       }) {
    auto msg = error_message([&] { einsum(expr, ops); });
    EXPECT_EQ(msg.rfind("[einsum]", 0), 0u) << expr << ": " << msg;
  }
  auto msg = error_message([&] { einsum("ij,jk->ik", {array({1, 2, 3, 4}, {2, 2}), array({1, 2, 3, 4}, {2, 2})}); });
  EXPECT_EQ(msg.rfind("[einsum]", 0), 0u) << msg;
}
