// Launchers of the CUDA complex64 kernels (complex.cu): parts, conjugate, abs, negation, square and
// the arithmetic/equality binaries and power, over strided operands (interleaved float pairs).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::cuda {

enum ComplexUnaryOp : int { cu_real, cu_imag, cu_conj, cu_abs, cu_neg, cu_square };
enum ComplexBinaryOp : int { cb_add, cb_sub, cb_mul, cb_div, cb_eq, cb_ne, cb_pow };
// Output dtype of each op: float32 (real, imag, abs), bool (eq, ne) or complex64.
// out (row-contiguous) [i] = op(in[i (operand 0 strides of s)]).
void complex_unary(int op, const void* in, void* out, const Strided& s, size_t n, cudaStream_t st);
// out [i] = op(a[i (operand 0)], b[i (operand 1)]).
void complex_binary(int op, const void* a, const void* b, void* out, const Strided& s, size_t n, cudaStream_t st);

}  // namespace tessera::cuda
