// Quantization ops: MLX affine quantize/dequantize/quantized_matmul and GGUF block-quantized matmul.
#pragma once

#include <string>
#include <vector>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// Affine quantization as mlx.core.quantize: per group of `group_size` consecutive values along the
// last axis, w ~= scale * q + bias with q in [0, 2^bits - 1]. w (..., K) floating, K % group_size == 0.
// Returns {w_q (..., K * bits / 32) uint32 (values packed LSB first), scales (..., K / group_size),
// biases (..., K / group_size)}; scales and biases have w's dtype. bits in {2, 3, 4, 5, 6, 8},
// group_size in {32, 64, 128}.
std::vector<array> quantize(const array& w, int group_size = 64, int bits = 4, StreamOrDevice s = {});

// Inverse of quantize: w_q (..., K * bits / 32) uint32, scales/biases (..., K / group_size) -> (..., K)
// in scales' dtype.
array dequantize(const array& w_q, const array& scales, const array& biases, int group_size = 64,
                 int bits = 4, StreamOrDevice s = {});

// x (..., K) @ W^T with W (N, K) given quantized (transpose = true), or x (..., K) @ W with W (K, N)
// (transpose = false). The weight is never dequantized whole. Result (..., N) in promote(x, scales).
// Batched weights as MLX: w_q/scales/biases (..., R, C) with batch dims not all 1 take x (..., M, K)
// and the batch dims of x and w broadcast as numpy's: result (broadcast batch..., M, N), e.g. x
// (B, H, L, D) and keys w_q (B, H, T, D * bits / 32) give scores (B, H, L, T).
// On the CPU with TESSERA_CPU_AFFINE_INT8=1, for 1-4 rows of x with transpose and 4 or 8 bits
// (x86 AVX2 / AVX-512 VNNI, chosen at run time), x is rounded per block of 32 to int8 as for GGUF.
array quantized_matmul(const array& x, const array& w_q, const array& scales, const array& biases,
                       bool transpose = true, int group_size = 64, int bits = 4, StreamOrDevice s = {});

// GGUF (ggml) block quantization types; the values are ggml's type ids.
enum class GGUFType : int { Q4_0 = 2, Q4_1 = 3, Q8_0 = 8, Q4_K = 12, Q5_K = 13, Q6_K = 14 };
// Values per block and bytes per block of a GGUF type.
int gguf_block_size(GGUFType type);
int gguf_block_bytes(GGUFType type);
std::string gguf_type_name(GGUFType type);

// x (..., K) @ W^T where W (N, K) is stored as raw ggml blocks: w_blocks (N, K / block * bytes) uint8.
// Result (..., N) in x's dtype (float32, float16 or bfloat16), computed in float32. For 1-4 rows of x
// and Q4_0/Q8_0/Q4_K/Q6_K (x86 AVX2 or AVX-512 VNNI, chosen at run time; TESSERA_CPU_ISA=scalar
// turns it off), x is rounded per block of 32 to int8 and the blocks are dotted in int8
// (llama.cpp's decode path): error up to max|x_block|/254 * sum|w| per block.
array gguf_quantized_matmul(const array& x, const array& w_blocks, GGUFType type, int K,
                            StreamOrDevice s = {});

// Raw ggml blocks (..., K / block * bytes) uint8 -> float32 values of `shape` (..., K).
array gguf_dequantize(const array& blocks, GGUFType type, const Shape& shape, StreamOrDevice s = {});

}  // namespace tessera
