// CPU matmul/addmm: batched BLAS gemm reading strided operands in place (transpose flags, ld).
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>
#if defined(__F16C__)
#include <immintrin.h>
#endif

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
    if (M == 1) {
      // One row (decode): c (N) = op(B)^T a, a GEMV that streams B once; sgemm's M=1 path is slower.
      // Row-major B (K, N) [tb false]: c = B^T a, i.e. Trans on a (K x N) matrix; B^T stored (N, K)
      // [tb true]: c = B a with B read as an (N x K) row-major matrix.
      int inc_a = ta ? lda : 1;
      cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? N : K, tb ? K : N, alpha, B, ldb, A, inc_a,
                  beta, C, 1);
      return;
    }
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

// 16-bit floats to float32: F16C for float16 where the CPU has it, a shift for bfloat16.
void half_to_float(const uint16_t* src, float* dst, size_t n, bool bf16) {
  size_t i = 0;
  if (bf16) {
    for (; i < n; ++i) {
      uint32_t u = static_cast<uint32_t>(src[i]) << 16;
      std::memcpy(dst + i, &u, 4);
    }
    return;
  }
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) dst[i] = float16_t::to_float(src[i]);
}

// Few-row 16-bit products (decode): out (R, N) = a (R, K) b (K, N) where b is one 2-D matrix
// (batch strides 0) stored row- or column-contiguous. b is converted to float32 in tiles of
// kTileN columns that stay in cache, each tile going through sgemm, instead of converting the whole
// matrix to a float32 copy first. Returns false when the layout does not fit (general path then).
bool small_half_matmul(const array& a, const array& b, array& acc) {
  constexpr int64_t kMaxRows = 64, kTileN = 256;
  int nd = acc.ndim(), bd = b.ndim();
  int64_t N = acc.shape(nd - 1), K = a.shape(a.ndim() - 1);
  int64_t R = N == 0 ? 0 : static_cast<int64_t>(acc.size()) / N;
  if (R == 0 || K == 0 || R > kMaxRows || a.dtype() != b.dtype()) return false;
  for (int i = 0; i < bd - 2; ++i) {
    if (b.shape(i) != 1 && b.strides()[i] != 0) return false;
  }
  if (!a.flags().row_contiguous || static_cast<int64_t>(a.size()) != R * K) return false;
  int64_t sk = b.strides()[bd - 2], sn = b.strides()[bd - 1];
  bool cols_contiguous = sk == 1 && N > 0;  // b = W^T with W (N, K) row-major: the Linear layout
  bool rows_contiguous = sn == 1;
  if (!cols_contiguous && !rows_contiguous) return false;
  bool bf16 = a.dtype() == bfloat16;
  std::vector<float> af(static_cast<size_t>(R * K));
  half_to_float(a.data<uint16_t>(), af.data(), af.size(), bf16);
  const uint16_t* B = b.data<uint16_t>();
  float* C = acc.data<float>();
  std::vector<float> tile(static_cast<size_t>(K * kTileN));
  for (int64_t n0 = 0; n0 < N; n0 += kTileN) {
    int64_t nb = std::min(kTileN, N - n0);
    if (cols_contiguous) {
      for (int64_t j = 0; j < nb; ++j) half_to_float(B + (n0 + j) * sn, tile.data() + j * K, K, bf16);
      if (R == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, nb, K, 1.0f, tile.data(), K, af.data(), 1, 0.0f, C + n0, 1);
      } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, nb, K, 1.0f, af.data(), K, tile.data(), K, 0.0f,
                    C + n0, N);
      }
    } else {
      for (int64_t k = 0; k < K; ++k) half_to_float(B + k * sk + n0, tile.data() + k * nb, nb, bf16);
      if (R == 1) {
        cblas_sgemv(CblasRowMajor, CblasTrans, K, nb, 1.0f, tile.data(), nb, af.data(), 1, 0.0f, C + n0, 1);
      } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, nb, K, 1.0f, af.data(), K, tile.data(), nb, 0.0f,
                    C + n0, N);
      }
    }
  }
  return true;
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
    if (half && alpha == 1.0f && small_half_matmul(a, b, acc)) {
      cpu::copy_to_contiguous(acc, out);
      return;
    }
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
