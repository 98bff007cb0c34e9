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
// where it applies, else old), old (row streaming, every width), fast (x staged in shared memory,
// bits 4/8), tc (affine_gemv_tc), lop3 (conversion-free row kernel, bits 4/8, power-of-two groups).
enum class QGemvKernel : int { automatic = 0, old = 1, fast = 2, tc = 3, lop3 = 4 };
// The kernel affine_qmm's GEMVs use where it applies (else the automatic choice): the last
// set_qgemv_kernel, else the environment variable TESSERA_QGEMV=auto|old|fast|tc|lop3 read at the first
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

// GGUF types by ggml id (2 Q4_0, 3 Q4_1, 8 Q8_0, 12 Q4_K, 13 Q5_K, 14 Q6_K).
bool gguf_gpu_supported(int type);
// out (M, N) f32 = x (M, K) f32 @ W^T, W (N, K) as raw blocks (N, K/block*bytes) uint8.
void gguf_qmm(int type, const float* x, const uint8_t* w, float* out, int64_t M, int64_t N, int64_t K,
              cudaStream_t st);
// blocks (rows, K/block*bytes) -> out (rows, K) f32.
void gguf_dequantize(int type, const uint8_t* blocks, float* out, int64_t rows, int64_t K, cudaStream_t st);

}  // namespace tessera::cuda
