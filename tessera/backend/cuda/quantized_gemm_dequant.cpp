// Quantized prefill GEMM by dequantization: W is dequantized, a chunk of its N axis at a time, into
// a scratch buffer of the device pool (x's dtype; float32 for GGUF) and multiplied by cuBLAS(Lt):
// out[:, n0:n0+nc] = x @ W[n0:n0+nc]^T (ldc N), all in stream order on current_stream().
#include <algorithm>
#include <atomic>
#include <memory>
#include <numeric>
#include <stdexcept>

#include "tessera/backend/cuda/blaslt.h"
#include "tessera/backend/cuda/kernels.h"
#include "tessera/backend/cuda/kernels_quantized.h"
#include "tessera/backend/cuda/runtime.h"
#include "tessera/backend/gpu.h"
#include "tessera/memory.h"
#include "tessera/ops/quantized.h"

namespace tessera::cuda {

namespace {

std::atomic<size_t> scratch_bytes{kQuantDequantScratchBytes};
std::atomic<size_t> dequant_runs{0};

// A block of the device pool, given back at scope exit: the pool hands it to the same stream's
// later work only (queued after these kernels) or to other streams once this one has passed them.
class Scratch {
 public:
  explicit Scratch(size_t bytes) : n_(bytes), p_(gpu::malloc(bytes)) {}
  ~Scratch() { gpu::free(p_, n_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* get() const { return p_; }

 private:
  size_t n_;
  void* p_;
};

// Indices of W's N axis per chunk, each holding K values of es bytes: all of N when it fits the
// scratch bound, else balanced chunks of a multiple of `step` (at least one step).
int64_t chunk_cols(int64_t N, int64_t K, int64_t es, int64_t step) {
  const int64_t cap = static_cast<int64_t>(scratch_bytes.load(std::memory_order_relaxed));
  const int64_t fit = std::max<int64_t>(step, cap / (K * es) / step * step);
  if (N <= fit) return N;
  const int64_t chunks = (N + fit - 1) / fit, per = (N + chunks - 1) / chunks;
  return std::min(fit, (per + step - 1) / step * step);
}

// out (M, nc; row stride N) = x (M, K) @ Wc^T (transpose: Wc (nc, K)) or x @ Wc (Wc (K, nc)), all
// of `type`. Column-major view: out^T (nc x M, ld N) = op(Wc) (nc x K) * x^T (K x M, ld K).
void gemm_chunk(cudaDataType_t type, bool transpose, const void* wc, const void* x, void* out, int64_t M,
                int64_t N, int64_t K, int64_t nc) {
  GemmArgs g{transpose ? CUBLAS_OP_T : CUBLAS_OP_N,
             CUBLAS_OP_N,
             nc,
             M,
             K,
             wc,
             transpose ? K : nc,
             0,
             x,
             K,
             0,
             out,
             N,
             0,
             1,
             type,
             CUBLAS_COMPUTE_32F};
  if (type == CUDA_R_32F || !gemm_lt(g)) gemm_cublas(g);  // float32: no TF32 (default math mode)
}

// Runs body(scratch) with a scratch block of `bytes`; false when the pool has no room for it.
template <typename F>
bool with_scratch(size_t bytes, F&& body) {
  std::unique_ptr<Scratch> s;
  try {
    s = std::make_unique<Scratch>(bytes);
  } catch (const OutOfMemory&) {
    return false;
  }
  body(s->get());
  dequant_runs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace

size_t set_qmm_dequant_scratch_bytes(size_t bytes) { return scratch_bytes.exchange(bytes); }
size_t qmm_dequant_count() { return dequant_runs.load(std::memory_order_relaxed); }

bool affine_qmm_dequant(int dt, const AffineWeight& w, const void* x, void* out, int64_t M, int64_t N,
                        int64_t K, cudaStream_t st) {
  if (dt != dt_f32 && dt != dt_f16 && dt != dt_bf16) {
    throw std::invalid_argument("[quantized_matmul] unsupported dtype on the GPU.");
  }
  if (M == 0 || N == 0 || K == 0 || M > 0x7fffffff || st != current_stream()) return false;  // int GEMM sizes
  const int64_t es = dt == dt_f32 ? 4 : 2;
  const cudaDataType_t type = dt == dt_f32 ? CUDA_R_32F : dt == dt_f16 ? CUDA_R_16F : CUDA_R_16BF;
  // Chunk boundaries on whole groups (W (K, N) is packed along N) and 128-value steps.
  const int64_t nc = chunk_cols(N, K, es, std::lcm<int64_t>(128, w.group_size));
  const auto* s = static_cast<const char*>(w.scales);
  const auto* b = static_cast<const char*>(w.biases);
  return with_scratch(static_cast<size_t>(nc * K * es), [&](void* wc) {
    for (int64_t n0 = 0; n0 < N; n0 += nc) {
      const int64_t cols = std::min(nc, N - n0);
      if (w.transpose) {  // rows n0.. of W (N, K), whole
        const int64_t si = n0 * (K / w.group_size) * es;
        affine_dequantize_cols(dt, w.w + n0 * (K / 32 * w.bits), s + si, b + si, wc, cols, K, 0, K,
                               w.group_size, w.bits, st);
      } else {  // columns n0.. of W (K, N)
        affine_dequantize_cols(dt, w.w, s, b, wc, K, N, n0, cols, w.group_size, w.bits, st);
      }
      gemm_chunk(type, w.transpose, wc, x, static_cast<char*>(out) + n0 * es, M, N, K, cols);
    }
  });
}

bool gguf_qmm_dequant(int type, const float* x, const uint8_t* w, float* out, int64_t M, int64_t N, int64_t K,
                      cudaStream_t st) {
  if (!gguf_gpu_supported(type))
    throw std::invalid_argument("[gguf_quantized_matmul] unsupported GGUF type on the GPU.");
  if (M == 0 || N == 0 || K == 0 || M > 0x7fffffff || st != current_stream()) return false;  // int GEMM sizes
  const auto t = static_cast<GGUFType>(type);
  const int64_t row_bytes = K / gguf_block_size(t) * gguf_block_bytes(t);
  const int64_t nc = chunk_cols(N, K, 4, 128);
  return with_scratch(static_cast<size_t>(nc * K * 4), [&](void* wc) {
    for (int64_t n0 = 0; n0 < N; n0 += nc) {
      const int64_t cols = std::min(nc, N - n0);
      gguf_dequantize(type, w + n0 * row_bytes, static_cast<float*>(wc), cols, K, st);
      gemm_chunk(CUDA_R_32F, true, wc, x, out + n0, M, N, K, cols);
    }
  });
}

}  // namespace tessera::cuda
