// CPU linalg: LAPACKE factorizations/solvers batched over leading dims, and the norm kernel.
#include <lapacke.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "tessera/backend/cpu/copy.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/linalg.h"

namespace tessera {

namespace {

array scratch(const Shape& shape, Dtype dtype) { return array(shape, dtype, nullptr, {}); }

// Calls f(T{}) for float32/float64 (the only dtypes the linalg ops admit).
template <typename F>
void dispatch_lapack(Dtype d, const char* op, F&& f) {
  if (d == float32) f(float{});
  else if (d == float64) f(double{});
  else throw std::invalid_argument(std::string("[") + op + "] Unsupported dtype " + dtype_name(d) + ".");
}

size_t batch_count(const array& a, int trailing) {
  size_t n = 1;
  for (int i = 0; i < a.ndim() - trailing; ++i) n *= a.shape(i);
  return n;
}

// Type-generic wrappers over the s/d LAPACKE routines (row-major).
template <typename T>
lapack_int getrf(int n, T* a, lapack_int* ipiv) {
  if constexpr (std::is_same_v<T, float>) return LAPACKE_sgetrf(LAPACK_ROW_MAJOR, n, n, a, n, ipiv);
  else return LAPACKE_dgetrf(LAPACK_ROW_MAJOR, n, n, a, n, ipiv);
}
template <typename T>
lapack_int getri(int n, T* a, const lapack_int* ipiv) {
  if constexpr (std::is_same_v<T, float>) return LAPACKE_sgetri(LAPACK_ROW_MAJOR, n, a, n, ipiv);
  else return LAPACKE_dgetri(LAPACK_ROW_MAJOR, n, a, n, ipiv);
}
template <typename T>
lapack_int gesv(int n, int k, T* a, lapack_int* ipiv, T* b) {
  if constexpr (std::is_same_v<T, float>) return LAPACKE_sgesv(LAPACK_ROW_MAJOR, n, k, a, n, ipiv, b, k);
  else return LAPACKE_dgesv(LAPACK_ROW_MAJOR, n, k, a, n, ipiv, b, k);
}
template <typename T>
lapack_int potrf(char uplo, int n, T* a) {
  if constexpr (std::is_same_v<T, float>) return LAPACKE_spotrf(LAPACK_ROW_MAJOR, uplo, n, a, n);
  else return LAPACKE_dpotrf(LAPACK_ROW_MAJOR, uplo, n, a, n);
}
template <typename T>
lapack_int geqrf(int m, int n, T* a, T* tau) {
  if constexpr (std::is_same_v<T, float>) return LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m, n, a, n, tau);
  else return LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, n, a, n, tau);
}
template <typename T>
lapack_int orgqr(int m, int n, int k, T* a, const T* tau) {
  if constexpr (std::is_same_v<T, float>) return LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m, n, k, a, n, tau);
  else return LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, n, k, a, n, tau);
}
template <typename T>
lapack_int gesdd(char jobz, int m, int n, T* a, T* s, T* u, T* vt) {
  // LAPACKE's row-major wrapper checks ldu/ldvt even when U/Vt are not referenced (jobz 'N').
  int ldu = std::max(1, m), ldvt = std::max(1, n);
  if constexpr (std::is_same_v<T, float>) return LAPACKE_sgesdd(LAPACK_ROW_MAJOR, jobz, m, n, a, std::max(1, n), s, u, ldu, vt, ldvt);
  else return LAPACKE_dgesdd(LAPACK_ROW_MAJOR, jobz, m, n, a, std::max(1, n), s, u, ldu, vt, ldvt);
}
template <typename T>
lapack_int syevd(char jobz, char uplo, int n, T* a, T* w) {
  if constexpr (std::is_same_v<T, float>) return LAPACKE_ssyevd(LAPACK_ROW_MAJOR, jobz, uplo, n, a, n, w);
  else return LAPACKE_dsyevd(LAPACK_ROW_MAJOR, jobz, uplo, n, a, n, w);
}

void check_info(lapack_int info, const char* op, const char* what) {
  if (info < 0) throw std::runtime_error(std::string("[") + op + "] LAPACK argument error " + std::to_string(info) + ".");
  if (info > 0) throw std::invalid_argument(std::string("[") + op + "] " + what);
}

}  // namespace

void Inverse::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::copy_to_contiguous(inputs[0], out);
  int n = out.shape(-1);
  if (n == 0) return;
  size_t batch = batch_count(out, 2);
  dispatch_lapack(out.dtype(), "linalg::inv", [&](auto t) {
    using T = decltype(t);
    std::vector<lapack_int> ipiv(n);
    for (size_t i = 0; i < batch; ++i) {
      T* a = out.data<T>() + i * n * n;
      check_info(getrf<T>(n, a, ipiv.data()), "linalg::inv", "Matrix is singular.");
      check_info(getri<T>(n, a, ipiv.data()), "linalg::inv", "Matrix is singular.");
    }
  });
}

void Solve::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  auto a = scratch(inputs[0].shape(), inputs[0].dtype());
  cpu::copy_to_contiguous(inputs[0], a);
  cpu::copy_to_contiguous(inputs[1], out);
  int n = out.shape(-2), k = out.shape(-1);
  if (n == 0 || k == 0) return;
  size_t batch = batch_count(out, 2);
  dispatch_lapack(out.dtype(), "linalg::solve", [&](auto t) {
    using T = decltype(t);
    std::vector<lapack_int> ipiv(n);
    for (size_t i = 0; i < batch; ++i) {
      check_info(gesv<T>(n, k, a.data<T>() + i * n * n, ipiv.data(), out.data<T>() + i * n * k), "linalg::solve",
                 "Matrix is singular.");
    }
  });
}

void Cholesky::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  cpu::copy_to_contiguous(inputs[0], out);
  int n = out.shape(-1);
  if (n == 0) return;
  size_t batch = batch_count(out, 2);
  dispatch_lapack(out.dtype(), "linalg::cholesky", [&](auto t) {
    using T = decltype(t);
    for (size_t i = 0; i < batch; ++i) {
      T* a = out.data<T>() + i * n * n;
      check_info(potrf<T>(upper_ ? 'U' : 'L', n, a), "linalg::cholesky", "Matrix is not positive definite.");
      for (int r = 0; r < n; ++r) {
        for (int c = 0; c < n; ++c) {
          if (upper_ ? c < r : c > r) a[r * n + c] = T(0);
        }
      }
    }
  });
}
bool Cholesky::is_equivalent(const Primitive& o) const { return upper_ == static_cast<const Cholesky&>(o).upper_; }

void QRF::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& q = outputs[0];
  auto& r = outputs[1];
  auto a = scratch(in.shape(), in.dtype());
  cpu::copy_to_contiguous(in, a);
  q.set_data(allocator::malloc(q.nbytes()));
  r.set_data(allocator::malloc(r.nbytes()));
  int M = in.shape(-2), N = in.shape(-1), K = std::min(M, N);
  if (K == 0) {
    std::memset(r.data<char>(), 0, r.nbytes());
    return;
  }
  size_t batch = batch_count(in, 2);
  dispatch_lapack(in.dtype(), "linalg::qr", [&](auto t) {
    using T = decltype(t);
    std::vector<T> tau(K);
    for (size_t i = 0; i < batch; ++i) {
      T* A = a.data<T>() + i * M * N;
      T* Q = q.data<T>() + i * M * K;
      T* R = r.data<T>() + i * K * N;
      check_info(geqrf<T>(M, N, A, tau.data()), "linalg::qr", "QR factorization failed.");
      for (int y = 0; y < K; ++y) {
        for (int x = 0; x < N; ++x) R[y * N + x] = x >= y ? A[y * N + x] : T(0);
      }
      for (int y = 0; y < M; ++y) {
        for (int x = 0; x < K; ++x) Q[y * K + x] = A[y * N + x];
      }
      check_info(orgqr<T>(M, K, K, Q, tau.data()), "linalg::qr", "Forming Q failed.");
    }
  });
}

void SVD::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto a = scratch(in.shape(), in.dtype());
  cpu::copy_to_contiguous(in, a);
  for (auto& o : outputs) o.set_data(allocator::malloc(o.nbytes()));
  int M = in.shape(-2), N = in.shape(-1), K = std::min(M, N);
  size_t batch = batch_count(in, 2);
  array& s = compute_uv_ ? outputs[1] : outputs[0];
  if (K == 0) {
    // Empty matrix: U and Vt are identities.
    if (compute_uv_) {
      dispatch_lapack(in.dtype(), "linalg::svd", [&](auto t) {
        using T = decltype(t);
        for (int o : {0, 2}) {
          T* p = outputs[o].data<T>();
          int n = outputs[o].shape(-1);
          for (size_t i = 0; i < batch; ++i)
            for (int y = 0; y < n; ++y)
              for (int x = 0; x < n; ++x) p[(i * n + y) * n + x] = T(x == y);
        }
      });
    }
    return;
  }
  dispatch_lapack(in.dtype(), "linalg::svd", [&](auto t) {
    using T = decltype(t);
    T dummy[1];
    for (size_t i = 0; i < batch; ++i) {
      T* A = a.data<T>() + i * M * N;
      T* S = s.data<T>() + i * K;
      T* U = compute_uv_ ? outputs[0].data<T>() + i * M * M : dummy;
      T* Vt = compute_uv_ ? outputs[2].data<T>() + i * N * N : dummy;
      check_info(gesdd<T>(compute_uv_ ? 'A' : 'N', M, N, A, S, U, Vt), "linalg::svd", "SVD did not converge.");
    }
  });
}
bool SVD::is_equivalent(const Primitive& o) const { return compute_uv_ == static_cast<const SVD&>(o).compute_uv_; }

void Eigh::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& w = outputs[0];
  w.set_data(allocator::malloc(w.nbytes()));
  array v = vectors_ ? outputs[1] : scratch(in.shape(), in.dtype());
  cpu::copy_to_contiguous(in, v);
  int n = in.shape(-1);
  if (n == 0) return;
  size_t batch = batch_count(in, 2);
  dispatch_lapack(in.dtype(), "linalg::eigh", [&](auto t) {
    using T = decltype(t);
    for (size_t i = 0; i < batch; ++i) {
      check_info(syevd<T>(vectors_ ? 'V' : 'N', uplo_, n, v.data<T>() + i * n * n, w.data<T>() + i * n),
                 "linalg::eigh", "Eigendecomposition did not converge.");
    }
  });
}
bool Eigh::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const Eigh&>(o);
  return uplo_ == p.uplo_ && vectors_ == p.vectors_;
}

// ---- norm ----

void LinalgNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  bool matrix = kind_ == Kind::fro || kind_ == Kind::mat_1 || kind_ == Kind::mat_neg1 || kind_ == Kind::mat_inf ||
                kind_ == Kind::mat_neginf;
  int64_t R0 = matrix ? in.shape(-2) : 1, R1 = in.shape(-1);
  size_t P = out.size();
  // Values as float64 (exact for every input dtype), reduced in double.
  auto x = scratch(in.shape(), float64);
  cpu::copy_to_contiguous(in, x);
  const double* X = x.data<double>();
  std::vector<double> res(P);
  double inf = std::numeric_limits<double>::infinity();
  int64_t R = R0 * R1;
  cpu::parallel_for(P, std::max<size_t>(1, 16384 / std::max<int64_t>(R, 1)), [&](size_t b, size_t e) {
    for (size_t p = b; p < e; ++p) {
      const double* v = X + p * R;
      double acc = 0;
      switch (kind_) {
        case Kind::vector_p:
          if (p_ == 2) {
            for (int64_t i = 0; i < R; ++i) acc += v[i] * v[i];
            acc = std::sqrt(acc);
          } else if (p_ == 1) {
            for (int64_t i = 0; i < R; ++i) acc += std::abs(v[i]);
          } else {
            for (int64_t i = 0; i < R; ++i) acc += std::pow(std::abs(v[i]), p_);
            acc = std::pow(acc, 1.0 / p_);
          }
          break;
        case Kind::fro:
          for (int64_t i = 0; i < R; ++i) acc += v[i] * v[i];
          acc = std::sqrt(acc);
          break;
        case Kind::vector_inf:
          for (int64_t i = 0; i < R; ++i) acc = std::max(acc, std::abs(v[i]));
          break;
        case Kind::vector_neginf:
          acc = R ? inf : 0;
          for (int64_t i = 0; i < R; ++i) acc = std::min(acc, std::abs(v[i]));
          break;
        case Kind::vector_zero:
          for (int64_t i = 0; i < R; ++i) acc += v[i] != 0;
          break;
        case Kind::mat_1:
        case Kind::mat_neg1: {  // max/min over columns of the column abs sums
          bool mx = kind_ == Kind::mat_1;
          acc = mx ? 0 : inf;
          for (int64_t c = 0; c < R1; ++c) {
            double s = 0;
            for (int64_t r = 0; r < R0; ++r) s += std::abs(v[r * R1 + c]);
            acc = mx ? std::max(acc, s) : std::min(acc, s);
          }
          break;
        }
        case Kind::mat_inf:
        case Kind::mat_neginf: {  // max/min over rows of the row abs sums
          bool mx = kind_ == Kind::mat_inf;
          acc = mx ? 0 : inf;
          for (int64_t r = 0; r < R0; ++r) {
            double s = 0;
            for (int64_t c = 0; c < R1; ++c) s += std::abs(v[r * R1 + c]);
            acc = mx ? std::max(acc, s) : std::min(acc, s);
          }
          break;
        }
      }
      res[p] = acc;
    }
  });
  auto r = array(res, out.shape(), float64);
  cpu::copy_to_contiguous(r, out);
}
bool LinalgNorm::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const LinalgNorm&>(o);
  return kind_ == p.kind_ && p_ == p.p_;
}

}  // namespace tessera
