// Tests of tessera::linalg: norms against loop references, factorizations checked by identities.
#include <limits>

#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

using Mat = std::vector<double>;  // row-major

Mat mm(const Mat& a, const Mat& b, int M, int K, int N) {
  Mat c(static_cast<size_t>(M) * N, 0.0);
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < N; ++j) c[i * N + j] += a[i * K + k] * b[k * N + j];
  return c;
}
Mat tr(const Mat& a, int M, int N) {
  Mat t(a.size());
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) t[j * M + i] = a[i * N + j];
  return t;
}
Mat ref_eye(int n) {
  Mat e(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) e[i * n + i] = 1;
  return e;
}
Mat block(const std::vector<double>& v, size_t b, size_t sz) { return Mat(v.begin() + b * sz, v.begin() + (b + 1) * sz); }
double max_diff(const Mat& a, const Mat& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return a.size() == b.size() ? m : 1e30;
}
// Symmetric positive definite (..., n, n): M M^T + n I, as float64 values.
Mat spd(int batch, int n, unsigned seed) {
  auto r = random_values(static_cast<size_t>(batch) * n * n, -1, 1, seed);
  Mat out;
  for (int b = 0; b < batch; ++b) {
    auto m = block(r, b, n * n);
    auto s = mm(m, tr(m, n, n), n, n, n);
    for (int i = 0; i < n; ++i) s[i * n + i] += n;
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}
double tol(Dtype d) { return d == float64 ? 1e-9 : 2e-4; }
bool starts(const std::string& m, const char* p) { return m.rfind(p, 0) == 0; }

}  // namespace

TEST(Linalg, VectorNorms) {
  auto a = random_array({3, 5}, float32, -2, 2, 1);
  auto v = a.to_vector<double>();
  auto per_row = [&](auto f) {
    std::vector<double> r;
    for (int i = 0; i < 3; ++i) r.push_back(f(block(v, i, 5)));
    return r;
  };
  double inf = std::numeric_limits<double>::infinity();
  auto p_norm = [](double p) {
    return [p](const Mat& x) {
      double s = 0;
      for (double e : x) s += std::pow(std::abs(e), p);
      return std::pow(s, 1 / p);
    };
  };
  EXPECT_TRUE(all_close(linalg::norm(a, 1), per_row(p_norm(2)), 1e-5, 1e-6));
  EXPECT_TRUE(all_close(linalg::norm(a, 2.0, -1), per_row(p_norm(2)), 1e-5, 1e-6));
  EXPECT_TRUE(all_close(linalg::norm(a, 1.0, 1), per_row(p_norm(1)), 1e-5, 1e-6));
  EXPECT_TRUE(all_close(linalg::norm(a, 3.0, 1), per_row(p_norm(3)), 1e-5, 1e-6));
  EXPECT_TRUE(all_close(linalg::norm(a, inf, 1), per_row([](const Mat& x) {
                          double m = 0;
                          for (double e : x) m = std::max(m, std::abs(e));
                          return m;
                        }),
                        1e-6, 1e-6));
  EXPECT_TRUE(all_close(linalg::norm(a, -inf, 1), per_row([](const Mat& x) {
                          double m = 1e30;
                          for (double e : x) m = std::min(m, std::abs(e));
                          return m;
                        }),
                        1e-6, 1e-6));
  // Along axis 0 of a transposed view equals along axis 1.
  EXPECT_TRUE(all_close(linalg::norm(transpose(a), 2.0, 0), per_row(p_norm(2)), 1e-5, 1e-6));
  auto z = array({0.0f, 1.0f, 0.0f, -3.0f});
  EXPECT_TRUE(all_close(linalg::norm(z, 0.0), {2.0}));
  // keepdims
  auto k = linalg::norm(a, 2.0, 1, true);
  EXPECT_EQ(k.shape(), Shape({3, 1}));
  // Default: 2-norm of everything, int input gives float32.
  auto ai = array({3, 4, 0, 0, 0, 12}, {1, 2, 3});
  auto n = linalg::norm(ai);
  EXPECT_EQ(n.dtype(), float32);
  EXPECT_EQ(n.shape(), Shape({}));
  EXPECT_TRUE(all_close(n, {13.0}));
  EXPECT_EQ(linalg::norm(ai, std::nullopt, true).shape(), Shape({1, 1, 1}));
  // float16 keeps its dtype.
  auto h = linalg::norm(astype(a, float16), 1);
  EXPECT_EQ(h.dtype(), float16);
  EXPECT_TRUE(all_close(h, per_row(p_norm(2)), 5e-3, 5e-3));
}

TEST(Linalg, MatrixNorms) {
  auto a = random_array({2, 3, 4}, float64, -2, 2, 2);
  auto v = a.to_vector<double>();
  std::vector<double> fro, one, infn, m_one, m_inf;
  for (int b = 0; b < 2; ++b) {
    auto m = block(v, b, 12);
    double f = 0;
    for (double e : m) f += e * e;
    fro.push_back(std::sqrt(f));
    std::vector<double> cs(4, 0), rs(3, 0);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) {
        cs[j] += std::abs(m[i * 4 + j]);
        rs[i] += std::abs(m[i * 4 + j]);
      }
    one.push_back(*std::max_element(cs.begin(), cs.end()));
    m_one.push_back(*std::min_element(cs.begin(), cs.end()));
    infn.push_back(*std::max_element(rs.begin(), rs.end()));
    m_inf.push_back(*std::min_element(rs.begin(), rs.end()));
  }
  double inf = std::numeric_limits<double>::infinity();
  std::vector<int> ax{1, 2};
  EXPECT_TRUE(all_close(linalg::norm(a, "fro", ax), fro, 1e-12, 1e-12));
  EXPECT_TRUE(all_close(linalg::norm(a, ax), fro, 1e-12, 1e-12));
  EXPECT_TRUE(all_close(linalg::norm(a, 1.0, ax), one, 1e-12, 1e-12));
  EXPECT_TRUE(all_close(linalg::norm(a, -1.0, ax), m_one, 1e-12, 1e-12));
  EXPECT_TRUE(all_close(linalg::norm(a, inf, ax), infn, 1e-12, 1e-12));
  EXPECT_TRUE(all_close(linalg::norm(a, -inf, ax), m_inf, 1e-12, 1e-12));
  // Swapped axes: ord 1 of the transpose is ord inf.
  EXPECT_TRUE(all_close(linalg::norm(a, 1.0, std::vector<int>{2, 1}), infn, 1e-12, 1e-12));
  EXPECT_EQ(linalg::norm(a, "fro", ax, true).shape(), Shape({2, 1, 1}));

  EXPECT_TRUE(starts(error_message([&] { linalg::norm(a, 2.0); }), "[linalg::norm]"));  // 3-D with ord, no axis
  EXPECT_TRUE(starts(error_message([&] { linalg::norm(a, 2.0, ax); }), "[linalg::norm]"));
  EXPECT_TRUE(starts(error_message([&] { linalg::norm(a, "nuc", ax); }), "[linalg::norm]"));
  EXPECT_TRUE(starts(error_message([&] { linalg::norm(a, "bad", ax); }), "[linalg::norm]"));
  EXPECT_TRUE(starts(error_message([&] { linalg::norm(a, "fro", 1); }), "[linalg::norm]"));
  EXPECT_TRUE(starts(error_message([&] { linalg::norm(a, std::vector<int>{0, 1, 2}); }), "[linalg::norm]"));
  EXPECT_TRUE(starts(error_message([&] { linalg::norm(a, -0.5, 1); }), "[linalg::norm]"));
  EXPECT_THROW(linalg::norm(a, 3), std::out_of_range);
}

TEST(Linalg, Inverse) {
  for (Dtype dt : {float32, float64}) {
    int n = 5, batch = 6;
    auto base = random_values(batch * n * n, -1, 1, 3);
    for (int b = 0; b < batch; ++b)
      for (int i = 0; i < n; ++i) base[b * 25 + i * 6] += 4;  // well conditioned
    auto a = astype(array(base, {2, 3, n, n}, float64), dt);
    auto ai = linalg::inv(a);
    EXPECT_EQ(ai.shape(), Shape({2, 3, n, n}));
    EXPECT_EQ(ai.dtype(), dt);
    auto av = a.to_vector<double>(), iv = ai.to_vector<double>();
    for (int b = 0; b < batch; ++b) {
      EXPECT_LT(max_diff(mm(block(av, b, 25), block(iv, b, 25), n, n, n), ref_eye(n)), tol(dt));
      EXPECT_LT(max_diff(mm(block(iv, b, 25), block(av, b, 25), n, n, n), ref_eye(n)), tol(dt));
    }
    // Transposed input: inv(A^T) = inv(A)^T.
    auto at = swapaxes(a, -1, -2);
    auto atv = linalg::inv(at).to_vector<double>();
    for (int b = 0; b < batch; ++b) EXPECT_LT(max_diff(block(atv, b, 25), tr(block(iv, b, 25), n, n)), tol(dt));
  }
  auto sing = linalg::inv(array({1.0f, 2.0f, 2.0f, 4.0f}, {2, 2}));
  EXPECT_TRUE(starts(error_message([&] { sing.eval(); }), "[linalg::inv]"));
  EXPECT_TRUE(starts(error_message([] { linalg::inv(ones({2, 3})); }), "[linalg::inv]"));
  EXPECT_TRUE(starts(error_message([] { linalg::inv(ones({3})); }), "[linalg::inv]"));
  EXPECT_TRUE(starts(error_message([] { linalg::inv(ones({2, 2}, int32)); }), "[linalg::inv]"));
}

TEST(Linalg, Solve) {
  for (Dtype dt : {float32, float64}) {
    int n = 4;
    auto av = spd(3, n, 4);
    auto a = astype(array(av, {3, n, n}, float64), dt);
    // Vector right-hand side, shared by the batch.
    auto bv = random_values(n, -1, 1, 5);
    auto x = linalg::solve(a, astype(array(bv, {n}, float64), dt));
    EXPECT_EQ(x.shape(), Shape({3, n}));
    auto xv = x.to_vector<double>();
    for (int b = 0; b < 3; ++b) EXPECT_LT(max_diff(mm(block(av, b, 16), block(xv, b, 4), n, n, 1), bv), tol(dt) * 10);
    // Matrix right-hand side broadcasting a: a (3, n, n), B (2, 1, n, 2) -> (2, 3, n, 2).
    auto Bv = random_values(2 * n * 2, -1, 1, 6);
    auto B = astype(array(Bv, {2, 1, n, 2}, float64), dt);
    auto X = linalg::solve(a, B);
    EXPECT_EQ(X.shape(), Shape({2, 3, n, 2}));
    auto Xv = X.to_vector<double>();
    for (int i = 0; i < 2; ++i)
      for (int b = 0; b < 3; ++b) {
        EXPECT_LT(max_diff(mm(block(av, b, 16), block(Xv, i * 3 + b, 8), n, n, 2), block(Bv, i, 8)), tol(dt) * 10);
      }
  }
  auto sing = linalg::solve(zeros({2, 2}), ones({2}));
  EXPECT_TRUE(starts(error_message([&] { sing.eval(); }), "[linalg::solve]"));
  EXPECT_TRUE(starts(error_message([] { linalg::solve(ones({2, 2}), ones({3})); }), "[linalg::solve]"));
  EXPECT_TRUE(starts(error_message([] { linalg::solve(ones({2, 2}), ones({3, 1})); }), "[linalg::solve]"));
  EXPECT_TRUE(starts(error_message([] { linalg::solve(ones({2, 2}), ones({2}, float64)); }), "[linalg::solve]"));
}

TEST(Linalg, Cholesky) {
  for (Dtype dt : {float32, float64}) {
    int n = 6;
    auto av = spd(2, n, 7);
    auto a = astype(array(av, {2, n, n}, float64), dt);
    auto L = linalg::cholesky(a).to_vector<double>();
    auto U = linalg::cholesky(a, true).to_vector<double>();
    for (int b = 0; b < 2; ++b) {
      auto l = block(L, b, 36), u = block(U, b, 36);
      EXPECT_LT(max_diff(mm(l, tr(l, n, n), n, n, n), block(av, b, 36)), tol(dt) * 10);
      EXPECT_LT(max_diff(mm(tr(u, n, n), u, n, n, n), block(av, b, 36)), tol(dt) * 10);
      for (int i = 0; i < n; ++i)
        for (int j = i + 1; j < n; ++j) {
          EXPECT_EQ(l[i * n + j], 0.0);
          EXPECT_EQ(u[j * n + i], 0.0);
        }
    }
  }
  auto bad = linalg::cholesky(array({1.0f, 2.0f, 2.0f, 1.0f}, {2, 2}));
  EXPECT_TRUE(starts(error_message([&] { bad.eval(); }), "[linalg::cholesky]"));
  EXPECT_TRUE(starts(error_message([] { linalg::cholesky(ones({2, 3})); }), "[linalg::cholesky]"));
}

TEST(Linalg, QR) {
  for (Dtype dt : {float32, float64}) {
    for (auto [M, N] : std::vector<std::pair<int, int>>{{4, 4}, {6, 3}, {3, 5}, {1, 1}}) {
      int K = std::min(M, N);
      auto a = random_array({2, M, N}, dt, -1, 1, 8);
      auto [q, r] = linalg::qr(a);
      EXPECT_EQ(q.shape(), Shape({2, M, K}));
      EXPECT_EQ(r.shape(), Shape({2, K, N}));
      auto av = a.to_vector<double>(), qv = q.to_vector<double>(), rv = r.to_vector<double>();
      for (int b = 0; b < 2; ++b) {
        auto Q = block(qv, b, M * K), R = block(rv, b, K * N);
        EXPECT_LT(max_diff(mm(Q, R, M, K, N), block(av, b, M * N)), tol(dt)) << M << "x" << N;
        EXPECT_LT(max_diff(mm(tr(Q, M, K), Q, K, M, K), ref_eye(K)), tol(dt));
        for (int i = 0; i < K; ++i)
          for (int j = 0; j < i; ++j) EXPECT_EQ(R[i * N + j], 0.0);
      }
    }
  }
  // Transposed input.
  auto at = transpose(random_array({3, 4}, float64, -1, 1, 9));
  auto [q, r] = linalg::qr(at);
  EXPECT_LT(max_diff(mm(q.to_vector<double>(), r.to_vector<double>(), 4, 3, 3), at.to_vector<double>()), 1e-10);
  EXPECT_TRUE(starts(error_message([] { linalg::qr(ones({3})); }), "[linalg::qr]"));
  EXPECT_TRUE(starts(error_message([] { linalg::qr(ones({3, 3}, float16)); }), "[linalg::qr]"));
}

TEST(Linalg, SVD) {
  for (Dtype dt : {float32, float64}) {
    for (auto [M, N] : std::vector<std::pair<int, int>>{{4, 3}, {3, 5}, {4, 4}}) {
      int K = std::min(M, N);
      auto a = random_array({3, M, N}, dt, -1, 1, 10);
      auto usv = linalg::svd(a);
      ASSERT_EQ(usv.size(), 3u);
      EXPECT_EQ(usv[0].shape(), Shape({3, M, M}));
      EXPECT_EQ(usv[1].shape(), Shape({3, K}));
      EXPECT_EQ(usv[2].shape(), Shape({3, N, N}));
      auto av = a.to_vector<double>(), uv = usv[0].to_vector<double>(), sv = usv[1].to_vector<double>(),
           vv = usv[2].to_vector<double>();
      for (int b = 0; b < 3; ++b) {
        auto U = block(uv, b, M * M), Vt = block(vv, b, N * N), S = block(sv, b, K);
        Mat Sm(static_cast<size_t>(M) * N, 0.0);
        for (int i = 0; i < K; ++i) Sm[i * N + i] = S[i];
        EXPECT_LT(max_diff(mm(mm(U, Sm, M, M, N), Vt, M, N, N), block(av, b, M * N)), tol(dt));
        EXPECT_LT(max_diff(mm(tr(U, M, M), U, M, M, M), ref_eye(M)), tol(dt));
        EXPECT_LT(max_diff(mm(Vt, tr(Vt, N, N), N, N, N), ref_eye(N)), tol(dt));
        for (int i = 0; i < K; ++i) {
          EXPECT_GE(S[i], 0.0);
          if (i) EXPECT_GE(S[i - 1], S[i]);
        }
      }
      auto s_only = linalg::svd(a, false);
      ASSERT_EQ(s_only.size(), 1u);
      EXPECT_TRUE(all_close(s_only[0], sv, tol(dt), tol(dt)));
    }
  }
  EXPECT_TRUE(starts(error_message([] { linalg::svd(ones({3})); }), "[linalg::svd]"));
  EXPECT_TRUE(starts(error_message([] { linalg::svd(ones({3, 3}, int32)); }), "[linalg::svd]"));
}

TEST(Linalg, Eigh) {
  for (Dtype dt : {float32, float64}) {
    int n = 5;
    auto raw = random_values(2 * n * n, -1, 1, 11);
    Mat sym(raw.size());
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) sym[b * 25 + i * n + j] = raw[b * 25 + i * n + j] + raw[b * 25 + j * n + i];
    auto a = astype(array(sym, {2, n, n}, float64), dt);
    auto [w, v] = linalg::eigh(a);
    EXPECT_EQ(w.shape(), Shape({2, n}));
    EXPECT_EQ(v.shape(), Shape({2, n, n}));
    auto av = a.to_vector<double>(), wv = w.to_vector<double>(), vv = v.to_vector<double>();
    for (int b = 0; b < 2; ++b) {
      auto A = block(av, b, 25), V = block(vv, b, 25);
      auto AV = mm(A, V, n, n, n);
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) EXPECT_NEAR(AV[i * n + j], wv[b * n + j] * V[i * n + j], tol(dt) * 10);
      EXPECT_LT(max_diff(mm(tr(V, n, n), V, n, n, n), ref_eye(n)), tol(dt));
      for (int i = 1; i < n; ++i) EXPECT_LE(wv[b * n + i - 1], wv[b * n + i]);
    }
    EXPECT_TRUE(all_close(linalg::eigvalsh(a), wv, tol(dt), tol(dt)));
    // UPLO: only the named triangle is read. Garbage in the other triangle changes nothing.
    Mat lower_only = sym, upper_only = sym;
    for (int b = 0; b < 2; ++b)
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
          if (j > i) lower_only[b * 25 + i * n + j] = 100;
          if (j < i) upper_only[b * 25 + i * n + j] = -100;
        }
    auto wl = linalg::eigh(astype(array(lower_only, {2, n, n}, float64), dt), "L").first;
    auto wu = linalg::eigh(astype(array(upper_only, {2, n, n}, float64), dt), "U").first;
    EXPECT_TRUE(all_close(wl, wv, tol(dt) * 10, tol(dt) * 10));
    EXPECT_TRUE(all_close(wu, wv, tol(dt) * 10, tol(dt) * 10));
  }
  EXPECT_TRUE(starts(error_message([] { linalg::eigh(ones({2, 2}), "X"); }), "[linalg::eigh]"));
  EXPECT_TRUE(starts(error_message([] { linalg::eigh(ones({2, 3})); }), "[linalg::eigh]"));
}
