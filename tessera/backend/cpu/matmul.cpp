// CPU matmul/addmm: batched BLAS gemm reading strided operands in place (transpose flags, ld).
#include <cblas.h>

#include <cstring>

#include "tessera/backend/common/utils.h"
#include "tessera/backend/cpu/copy.h"
#include "tessera/primitives/linalg.h"

namespace tessera {

namespace {

// How a (rows x cols) matrix with strides (sr, sc) is handed to BLAS in row-major mode.
struct BlasView {
  bool trans;
  int ld;
};

// False when the matrix is neither row- nor column-contiguous (needs a copy).
bool blas_view(int64_t rows, int64_t cols, int64_t sr, int64_t sc, BlasView& v) {
  if ((cols <= 1 || sc == 1) && (rows <= 1 || sr >= std::max<int64_t>(1, cols))) {
    v = {false, static_cast<int>(rows <= 1 ? std::max<int64_t>(1, cols) : sr)};
    return true;
  }
  if ((rows <= 1 || sr == 1) && (cols <= 1 || sc >= std::max<int64_t>(1, rows))) {
    v = {true, static_cast<int>(cols <= 1 ? std::max<int64_t>(1, rows) : sc)};
    return true;
  }
  return false;
}

template <typename T>
void gemm(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta, T* C,
          int ldc) {
  auto tra = ta ? CblasTrans : CblasNoTrans;
  auto trb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, tra, trb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } else if constexpr (std::is_same_v<T, double>) {
    cblas_dgemm(CblasRowMajor, tra, trb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } else {
    cblas_cgemm(CblasRowMajor, tra, trb, M, N, K, &alpha, A, lda, B, ldb, &beta, C, ldc);
  }
}

// A temporary (no graph) array.
array scratch(const Shape& shape, Dtype dtype) { return array(shape, dtype, nullptr, {}); }

// Returns `in` if BLAS can read it as is (with compute dtype), else a row-contiguous copy in `dt`.
array blas_operand(const array& in, Dtype dt, BlasView& v) {
  int nd = in.ndim();
  if (in.dtype() == dt && blas_view(in.shape(nd - 2), in.shape(nd - 1), in.strides()[nd - 2], in.strides()[nd - 1], v)) {
    return in;
  }
  auto tmp = scratch(in.shape(), dt);
  cpu::copy_to_contiguous(in, tmp);
  blas_view(in.shape(nd - 2), in.shape(nd - 1), in.shape(nd - 1), 1, v);
  return tmp;
}

// c (..., M, N) row-contiguous of type T, already holding beta's operand; c = alpha a b + beta c.
template <typename T>
void batched_gemm(const array& a_in, const array& b_in, array& c, T alpha, T beta) {
  int nd = c.ndim();
  int64_t M = c.shape(nd - 2), N = c.shape(nd - 1), K = a_in.shape(nd - 1);
  if (c.size() == 0) return;
  T* C = c.data<T>();
  size_t batch = c.size() / (M * N);
  if (K == 0) {
    for (size_t i = 0; i < c.size(); ++i) C[i] = beta == T(0) ? T(0) : T(beta * C[i]);
    return;
  }
  BlasView va, vb;
  array a = blas_operand(a_in, dtype_of<T>, va);
  array b = blas_operand(b_in, dtype_of<T>, vb);
  Shape bshape(c.shape().begin(), c.shape().end() - 2);
  Strides sa(a.strides().begin(), a.strides().end() - 2), sb(b.strides().begin(), b.strides().end() - 2);
  const T* A = a.data<T>();
  const T* B = b.data<T>();
  for (size_t i = 0; i < batch; ++i) {
    gemm<T>(va.trans, vb.trans, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha,
            A + elem_to_loc(i, bshape, sa), va.ld, B + elem_to_loc(i, bshape, sb), vb.ld, beta, C + i * M * N,
            static_cast<int>(N));
  }
}

// Runs gemm in the BLAS type for out's dtype (16-bit floats through float32 temporaries).
// With c, out starts as a copy of c (AddMM); otherwise beta is ignored.
void run_matmul(const array& a, const array& b, const array* c, array& out, float alpha, float beta) {
  Dtype dt = out.dtype();
  bool half = dt == float16 || dt == bfloat16;
  Dtype ct = half ? float32 : dt;
  array acc = half ? scratch(out.shape(), ct) : out;
  if (c) {
    cpu::copy_to_contiguous(*c, acc);
  } else {
    acc.set_data(allocator::malloc(acc.nbytes()));
    beta = 0.0f;
  }
  switch (ct.val) {
    case Dtype::Val::float32: batched_gemm<float>(a, b, acc, alpha, beta); break;
    case Dtype::Val::float64: batched_gemm<double>(a, b, acc, alpha, beta); break;
    case Dtype::Val::complex64: batched_gemm<complex64_t>(a, b, acc, complex64_t(alpha), complex64_t(beta)); break;
    default: throw std::invalid_argument("[matmul] Unsupported dtype " + dtype_name(dt) + ".");
  }
  if (half) cpu::copy_to_contiguous(acc, out);
}

}  // namespace

void Matmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run_matmul(inputs[0], inputs[1], nullptr, outputs[0], 1.0f, 0.0f);
}

void AddMM::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run_matmul(inputs[1], inputs[2], &inputs[0], outputs[0], alpha_, beta_);
}

bool AddMM::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const AddMM&>(o);
  return alpha_ == p.alpha_ && beta_ == p.beta_;
}

}  // namespace tessera
