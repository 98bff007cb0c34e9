// Launchers of the extra CUDA elementwise kernels (elementwise_extra.cu): the unary and binary ops
// that elementwise.cu does not cover (inverse trig, rounding, predicates, logical, bitwise, shifts,
// floor division, remainder, logaddexp, arctan2), over every real dtype where the op is defined.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::cuda {

enum UnaryExtraOp : int { ux_arcsin, ux_arccos, ux_arcsinh, ux_arccosh, ux_arctanh, ux_erfinv, ux_round, ux_isnan,
                          ux_isinf, ux_isposinf, ux_isneginf, ux_isfinite, ux_logical_not, ux_bitwise_invert };
enum BinaryExtraOp : int { bx_floor_divide, bx_remainder, bx_logaddexp, bx_arctan2, bx_logical_and, bx_logical_or,
                           bx_bitwise_and, bx_bitwise_or, bx_bitwise_xor, bx_left_shift, bx_right_shift };

// Predicates (isnan...) write bool; every other op writes the input dtype. Input contiguous.
bool unary_extra_supported(int op, int dt);
void unary_extra(int op, int dt, const void* in, void* out, size_t n, cudaStream_t st);
// Operands (a, b) by strides of `s`, out row-contiguous of the operands' dtype.
bool binary_extra_supported(int op, int dt);
void binary_extra(int op, int dt, const void* a, const void* b, void* out, const Strided& s, size_t n,
                  cudaStream_t st);

}  // namespace tessera::cuda
