// CPU convolution: im2col of (chunks of) output rows per group, then one BLAS gemm per group.
#include <cblas.h>

#include <cstring>

#include "tessera/backend/cpu/copy.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/conv.h"

namespace tessera {

namespace {

array scratch(const Shape& shape, Dtype dtype) { return array(shape, dtype, nullptr, {}); }

template <typename T>
void gemm_nt(int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc) {
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0, A, lda, B, ldb, 0.0, C, ldc);
  }
}

// in (N, *S, Cin), w (Cout, *K, Cg), out (N, *O, Cout); all row-contiguous of type T.
template <typename T>
void conv_kernel(const array& in, const array& w, array& out, const std::vector<int>& stride,
                 const std::vector<int>& padding, const std::vector<int>& dilation, int G) {
  int D = static_cast<int>(stride.size());
  int64_t Cin = in.shape(-1), Cout = out.shape(-1), Cg = Cin / G, Cog = Cout / G;
  std::vector<int64_t> S(D), K(D), O(D);
  int64_t KK = 1, OO = 1;
  bool pointwise = true;
  for (int d = 0; d < D; ++d) {
    S[d] = in.shape(d + 1);
    K[d] = w.shape(d + 1);
    O[d] = out.shape(d + 1);
    KK *= K[d];
    OO *= O[d];
    pointwise &= K[d] == 1 && stride[d] == 1 && padding[d] == 0;
  }
  int64_t rows = out.size() / Cout, colw = KK * Cg;
  const T* X = in.data<T>();
  const T* W = w.data<T>();
  T* Y = out.data<T>();
  if (rows == 0 || Cout == 0) return;
  if (colw == 0) {
    std::fill(Y, Y + out.size(), T(0));
    return;
  }
  if (pointwise) {  // the input already is the (rows, Cin) matrix
    for (int g = 0; g < G; ++g) {
      gemm_nt<T>(static_cast<int>(rows), static_cast<int>(Cog), static_cast<int>(Cg), X + g * Cg,
                 static_cast<int>(Cin), W + g * Cog * colw, static_cast<int>(colw), Y + g * Cog,
                 static_cast<int>(Cout));
    }
    return;
  }
  int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(rows, (int64_t(1) << 22) / colw));
  std::vector<T> cols(static_cast<size_t>(chunk * colw));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    int64_t nr = std::min(chunk, rows - r0);
    for (int g = 0; g < G; ++g) {
      cpu::parallel_for(nr, std::max<int64_t>(1, 4096 / colw), [&](size_t b, size_t e) {
        std::vector<int64_t> o(D), k(D);
        for (size_t r = b; r < e; ++r) {
          int64_t row = r0 + static_cast<int64_t>(r);
          int64_t n = row / OO, rem = row % OO;
          for (int d = D - 1; d >= 0; --d) {
            o[d] = rem % O[d];
            rem /= O[d];
          }
          T* dst = cols.data() + r * colw;
          std::fill(k.begin(), k.end(), 0);
          for (int64_t kk = 0; kk < KK; ++kk) {
            int64_t off = n;
            bool inside = true;
            for (int d = 0; d < D; ++d) {
              int64_t i = o[d] * stride[d] - padding[d] + k[d] * dilation[d];
              inside &= i >= 0 && i < S[d];
              off = off * S[d] + i;
            }
            if (inside) {
              std::memcpy(dst + kk * Cg, X + off * Cin + g * Cg, Cg * sizeof(T));
            } else {
              std::fill(dst + kk * Cg, dst + (kk + 1) * Cg, T(0));
            }
            for (int d = D - 1; d >= 0; --d) {
              if (++k[d] < K[d]) break;
              k[d] = 0;
            }
          }
        }
      });
      gemm_nt<T>(static_cast<int>(nr), static_cast<int>(Cog), static_cast<int>(colw), cols.data(),
                 static_cast<int>(colw), W + g * Cog * colw, static_cast<int>(colw), Y + r0 * Cout + g * Cog,
                 static_cast<int>(Cout));
    }
  }
}

}  // namespace

void Convolution::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype dt = out.dtype();
  Dtype ct = dt == float64 ? float64 : float32;
  auto in = scratch(inputs[0].shape(), ct);
  auto w = scratch(inputs[1].shape(), ct);
  cpu::make_contiguous(inputs[0], in);
  cpu::make_contiguous(inputs[1], w);
  bool direct = dt == ct;
  array acc = direct ? out : scratch(out.shape(), ct);
  acc.set_data(allocator::malloc(acc.nbytes()));
  if (ct == float32) conv_kernel<float>(in, w, acc, stride_, padding_, dilation_, groups_);
  else conv_kernel<double>(in, w, acc, stride_, padding_, dilation_, groups_);
  if (!direct) cpu::copy_to_contiguous(acc, out);
}

bool Convolution::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const Convolution&>(o);
  return stride_ == p.stride_ && padding_ == p.padding_ && dilation_ == p.dilation_ && groups_ == p.groups_;
}

}  // namespace tessera
