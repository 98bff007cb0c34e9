// Launchers of the quantized CUDA kernels (C++17, plain pointers, row-contiguous 16-byte aligned
// device buffers): MLX affine matmul / quantize / dequantize and GGUF block matmul / dequantize.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tessera::cuda {

// Rows of x at most this many take the GEMV kernels; more take the tensor-core GEMM.
constexpr int64_t kQuantGemvMaxRows = 8;

// An affine-quantized weight: w (R, C*bits/32) uint32 packed LSB first, scales/biases (R, C/gs) in
// the x dtype `dt`; transpose = true: W (N, K) (R = N, C = K), false: W (K, N) (R = K, C = N).
struct AffineWeight {
  const uint32_t* w;
  const void* scales;
  const void* biases;
  int bits, group_size;
  bool transpose;
};

// out (M, N) = x (M, K) @ W^T (transpose) or x @ W, x/scales/biases/out of float dtype dt (f32/f16/bf16).
// GEMV for M <= kQuantGemvMaxRows, tensor-core GEMM else (tiles of W dequantized in shared memory,
// f16 tiles for f16 x, bf16 tiles for bf16 and f32 x; f32 accumulation). `workspace` holds M*N
// floats, needed (non-null) only when !transpose, M <= kQuantGemvMaxRows and dt != f32.
void affine_qmm(int dt, const AffineWeight& w, const void* x, void* out, float* workspace, int64_t M, int64_t N,
                int64_t K, cudaStream_t st);
// Tensor-core GEMV (affine_qmm's choice for M >= 2 where it applies): out (M, N) = x (M, K)
// @ W^T for 4-bit W (N, K), x/scales/biases/out f16 or bf16, M <= kQuantGemvMaxRows, K % 128 == 0,
// group 32/64/128. False (nothing launched) when the arguments are outside that.
bool affine_gemv_tc(int dt, const AffineWeight& w, const void* x, void* out, int64_t M, int64_t N, int64_t K,
                    cudaStream_t st);
// Kernels of the affine GEMV of W (N, K) (transpose, M <= kQuantGemvMaxRows): automatic (tc for M >= 2
// where it applies; M = 1: h2 for 8-bit f16/bf16 x, else lop3, else old), old (row streaming, every width), fast (x staged
// in shared memory, bits 4/8), tc (affine_gemv_tc), lop3 (conversion-free row kernel, bits 4/8,
// power-of-two groups), h2 (packed f16 products, M = 1, f16/bf16 x, bits 4/8, power-of-two groups).
enum class QGemvKernel : int { automatic = 0, old = 1, fast = 2, tc = 3, lop3 = 4, h2 = 5 };
// The kernel affine_qmm's GEMVs use where it applies (else the automatic choice): the last
// set_qgemv_kernel, else the environment variable TESSERA_QGEMV=auto|old|fast|tc|lop3|h2 read at the first
// call (another value throws std::invalid_argument).
QGemvKernel qgemv_kernel();
void set_qgemv_kernel(QGemvKernel k);
// out (M, N) = x (M, K) @ W^T by kernel k; false (nothing launched) when k does not take these
// arguments (W (K, N), M outside [1, kQuantGemvMaxRows], width or dtype outside the kernel's scope).
bool affine_gemv_with(QGemvKernel k, int dt, const AffineWeight& w, const void* x, void* out, int64_t M, int64_t N,
                      int64_t K, cudaStream_t st);
// Workspace floats affine_qmm needs for these arguments (0 when none).
size_t affine_qmm_workspace(int dt, bool transpose, int64_t M, int64_t N);

// quantize: w (rows, K) of dt -> wq (rows, K*bits/32), scales/biases (rows, K/gs) of dt, as the CPU
// kernel (MLX's rule, bit for bit).
void affine_quantize(int dt, const void* w, uint32_t* wq, void* scales, void* biases, int64_t rows, int64_t K,
                     int group_size, int bits, cudaStream_t st);
// dequantize: (rows, K*bits/32) + (rows, K/gs) scales/biases of dt -> out (rows, K) of dt.
void affine_dequantize(int dt, const uint32_t* wq, const void* scales, const void* biases, void* out, int64_t rows,
                       int64_t K, int group_size, int bits, cudaStream_t st);

// ---- prefill by dequantization (quantized_gemm_dequant.cpp) ----
// Rows of x from which affine_qmm and gguf_qmm dequantize W (in chunks of its N axis) into a pooled
// scratch buffer and run a cuBLAS(Lt) GEMM: the dense GEMM runs near the bf16 peak, so from here
// the dequantization (one pass over W, ~25 us for 4096 x 11008 at 4 bits) costs less than the
// tiled tensor-core kernel's in-loop decode. Measured on an H100 (2026-11-26, 4-bit g64 bf16,
// 11008 x 4096): dequantize + GEMM 84 us at 9 rows against 118 us tiled, so every product past the
// GEMVs' 8 rows takes it.
constexpr int64_t kQuantDequantGemmMinRows = 9;
// Default bound of that scratch buffer (bytes): 4096 x 8192 bf16 in one chunk, larger W in
// balanced chunks of N.
constexpr size_t kQuantDequantScratchBytes = size_t(64) << 20;
// Sets the scratch bound (tests use small ones to get several chunks); returns the old value.
size_t set_qmm_dequant_scratch_bytes(size_t bytes);
// Products that took the dequantize-then-GEMM path so far (affine and GGUF).
size_t qmm_dequant_count();
// out (M, N) = x @ W^T / x @ W by dequantizing W (into x's dtype: f16/bf16 tensor-core GEMM with
// float32 accumulation, f32 x a float32 GEMM without TF32) and cuBLAS(Lt), any M. False (nothing
// launched) when st is not current_stream() (cuBLAS is bound to it) or the scratch could not be
// allocated; the caller then uses its other kernels.
bool affine_qmm_dequant(int dt, const AffineWeight& w, const void* x, void* out, int64_t M, int64_t N, int64_t K,
                        cudaStream_t st);
// The same for GGUF W (N, K) raw blocks: dequantized to float32 chunks, float32 GEMM (no TF32).
bool gguf_qmm_dequant(int type, const float* x, const uint8_t* w, float* out, int64_t M, int64_t N, int64_t K,
                      cudaStream_t st);
// Columns [c0, c0 + cols) of affine rows W (rows, C) (wq (rows, C*bits/32), scales/biases
// (rows, C/gs) of dt) -> out (rows, cols) of dt. C % 32 == 0, c0 and cols multiples of 8.
void affine_dequantize_cols(int dt, const uint32_t* wq, const void* scales, const void* biases, void* out,
                            int64_t rows, int64_t C, int64_t c0, int64_t cols, int group_size, int bits,
                            cudaStream_t st);
// The tiled tensor-core GEMM (quantized_gemm.cu) alone, f16/bf16 x, any M (timings compare it).
void affine_gemm_tiled(int dt, const AffineWeight& w, const void* x, void* out, int64_t M, int64_t N, int64_t K,
                       cudaStream_t st);

// GGUF types by ggml id (2 Q4_0, 3 Q4_1, 8 Q8_0, 12 Q4_K, 13 Q5_K, 14 Q6_K).
bool gguf_gpu_supported(int type);
// out (M, N) f32 = x (M, K) f32 @ W^T, W (N, K) as raw blocks (N, K/block*bytes) uint8.
void gguf_qmm(int type, const float* x, const uint8_t* w, float* out, int64_t M, int64_t N, int64_t K,
              cudaStream_t st);
// blocks (rows, K/block*bytes) -> out (rows, K) f32.
void gguf_dequantize(int type, const uint8_t* blocks, float* out, int64_t rows, int64_t K, cudaStream_t st);

}  // namespace tessera::cuda
