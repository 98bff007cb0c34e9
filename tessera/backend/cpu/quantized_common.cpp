// Shared CPU quantized-kernel helpers: float conversion of scales and the tiled dequantize + sgemm.
#include "tessera/backend/cpu/quantized_common.h"

#include <cblas.h>
#if defined(__F16C__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <vector>

#include "tessera/backend/cpu/copy.h"
#include "tessera/backend/cpu/threading.h"

namespace tessera::cpu::quant {

void to_float(const void* src, Dtype dt, float* dst, size_t n) {
  if (dt == float32) {
    std::memcpy(dst, src, n * sizeof(float));
  } else if (dt == bfloat16) {
    auto s = static_cast<const uint16_t*>(src);
    for (size_t i = 0; i < n; ++i) {
      uint32_t u = static_cast<uint32_t>(s[i]) << 16;
      std::memcpy(dst + i, &u, 4);
    }
  } else {
    auto s = static_cast<const uint16_t*>(src);
    size_t i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8) {
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
    }
#endif
    for (; i < n; ++i) dst[i] = float16_t::to_float(s[i]);
  }
}

namespace {
// Rows per dequantized tile: about 2 MiB of floats, at least 16 rows.
int64_t tile_rows(int64_t cols) {
  return std::max<int64_t>(16, (int64_t{1} << 19) / std::max<int64_t>(cols, 1));
}

void dequant_tile(const RowDequant& rows, int64_t r0, int64_t r1, int64_t cols, float* tile) {
  parallel_for(static_cast<size_t>(r1 - r0), 8, [&](size_t b, size_t e) {
    rows(r0 + static_cast<int64_t>(b), r0 + static_cast<int64_t>(e), tile + static_cast<int64_t>(b) * cols);
  });
}
}  // namespace

void tiled_gemm_nt(const float* x, int64_t M, int64_t K, int64_t N, float* out, const RowDequant& rows) {
  int64_t nb = std::min(N, tile_rows(K));
  std::vector<float> tile(static_cast<size_t>(nb * K));
  for (int64_t n0 = 0; n0 < N; n0 += nb) {
    int64_t n1 = std::min(N, n0 + nb);
    dequant_tile(rows, n0, n1, K, tile.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(n1 - n0),
                static_cast<int>(K), 1.0f, x, static_cast<int>(K), tile.data(), static_cast<int>(K), 0.0f,
                out + n0, static_cast<int>(N));
  }
}

void tiled_gemm_nn(const float* x, int64_t M, int64_t K, int64_t N, float* out, const RowDequant& rows) {
  int64_t kb = std::min(K, tile_rows(N));
  std::vector<float> tile(static_cast<size_t>(kb * N));
  for (int64_t k0 = 0; k0 < K; k0 += kb) {
    int64_t k1 = std::min(K, k0 + kb);
    dequant_tile(rows, k0, k1, N, tile.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
                static_cast<int>(k1 - k0), 1.0f, x + k0, static_cast<int>(K), tile.data(),
                static_cast<int>(N), k0 == 0 ? 0.0f : 1.0f, out, static_cast<int>(N));
  }
}

array float_contiguous(const array& in) {
  if (in.dtype() == float32 && in.flags().row_contiguous && in.data_size() == in.size()) return in;
  array tmp(in.shape(), float32, nullptr, {});
  copy_to_contiguous(in, tmp);
  return tmp;
}

array row_contiguous(const array& in) {
  if (in.flags().row_contiguous && in.data_size() == in.size()) return in;
  array tmp(in.shape(), in.dtype(), nullptr, {});
  copy_to_contiguous(in, tmp);
  return tmp;
}

}  // namespace tessera::cpu::quant
