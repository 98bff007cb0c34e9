// Launchers of the CUDA kernels (C++17, plain pointers): the eval_gpu code (C++20) calls these;
// each .cu file implements one op family. Dtypes are tessera::Dtype::Val codes as int.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace tessera::cuda {

constexpr int kMaxDims = 8;

// Dtype::Val codes the kernels know.
enum DT : int { dt_bool = 0, dt_uint32 = 3, dt_int32 = 7, dt_int64 = 8, dt_f16 = 9, dt_bf16 = 10, dt_f32 = 11 };

// An n-d iteration space and up to three operands' strides (elements), dims collapsed by the caller.
struct Strided {
  int ndim{0};
  int64_t shape[kMaxDims]{};
  int64_t strides[3][kMaxDims]{};
};

// copy.cu: dst[idx(dst_strides)] = convert(src[idx(src_strides)]) over `s` (operand 0 = src,
// operand 1 = dst); same dtype copies any element size, conversions among bool/int32/uint32/int64/
// f16/bf16/f32.
bool copy_supported(int src_dt, int dst_dt);
void copy_strided(const void* src, int src_dt, void* dst, int dst_dt, const Strided& s, size_t n, cudaStream_t st);
// Fills n elements of elem_size bytes with the value at `value` (host bytes).
void fill(void* dst, int elem_size, const void* value, size_t n, cudaStream_t st);

// elementwise.cu: unary op over a contiguous input; binary op over broadcast strides (operands a,
// b; out row-contiguous); a scalar operand may come by value (a_val/b_val used when the pointer is null).
enum UnaryOp : int { u_abs, u_neg, u_square, u_exp, u_expm1, u_log, u_log1p, u_log2, u_log10, u_sqrt, u_rsqrt,
                     u_recip, u_sin, u_cos, u_tan, u_tanh, u_sigmoid, u_erf, u_floor, u_ceil, u_sign, u_sinh,
                     u_cosh, u_arctan };
enum BinaryOp : int { b_add, b_sub, b_mul, b_div, b_max, b_min, b_pow, b_eq, b_ne, b_lt, b_le, b_gt, b_ge };
bool unary_supported(int op, int dt);
void unary(int op, int dt, const void* in, void* out, size_t n, cudaStream_t st);
// unary over rows of a wider matrix: in[(i / cols) * rstride + i % cols] -> out[i] (a column slice).
void unary_rows(int op, int dt, const void* in, void* out, int64_t cols, int64_t rstride, size_t n, cudaStream_t st);
bool binary_supported(int op, int dt);
void binary(int op, int dt, const void* a, double a_val, const void* b, double b_val, void* out, const Strided& s,
            size_t n, cudaStream_t st);
// out = cond ? x : y, operands (cond, x, y) by strides, elements of elem_size bytes.
void select(const bool* cond, const void* x, const void* y, void* out, int elem_size, const Strided& s, size_t n,
            cudaStream_t st);

// reduce.cu: contiguous input viewed as (outer, len, inner); out (outer, inner).
enum ReduceOp : int { r_sum, r_max, r_min, r_mean, r_prod };
bool reduce_supported(int op, int dt);
void reduce(int op, int dt, const void* in, void* out, size_t outer, size_t len, size_t inner, cudaStream_t st);
void argreduce(bool is_max, int dt, const void* in, uint32_t* out, size_t outer, size_t len, size_t inner,
               cudaStream_t st);
// softmax.cu: over the last axis of a contiguous (rows, cols) input.
void softmax(int dt, const void* in, void* out, size_t rows, size_t cols, bool log, cudaStream_t st);

// fast.cu: rms_norm over rows of x (rows, d); w (d,) of dtype dt or float32 (w_f32), or null.
void rms_norm(int dt, const void* x, const void* w, bool w_f32, void* out, size_t rows, int d, float eps,
              cudaStream_t st);
// rope.cu: x contiguous (rows, d) where rows = (B..., L); offsets int32 (noff) per batch element.
void rope(int dt, const void* x, void* out, size_t rows, int L, int d, int dims, bool traditional, float base,
          float scale, const int32_t* offsets, int noff, const float* freqs, cudaStream_t st);
// sdpa.cu: q (B, Hq, Lq, D), k (B, Hkv, Lk, D), v (B, Hkv, Lk, Dv) by strides (last one 1), out
// contiguous (B, Hq, Lq, Dv); mask (bool or float32) by strides (broadcast 0) or null.
struct SdpaArgs {
  const void* q;
  const void* k;
  const void* v;
  void* out;
  const void* mask;
  int mask_dt;
  int64_t qs[4], ks[4], vs[4], ms[4];
  int B, Hq, Hkv, Lq, Lk, D, Dv;
  float scale;
  bool causal;
};
bool sdpa_supported(int dt, int D, int Dv);
void sdpa(int dt, const SdpaArgs& a, cudaStream_t st);

// indexing.cu: out (nI, slice) gathered from src by per-axis int32 indices (contiguous, nI each).
struct GatherArgs {
  const void* src;
  void* out;
  int elem_size;
  int ndim;
  int64_t src_shape[kMaxDims], src_strides[kMaxDims], slice[kMaxDims];
  int naxes;
  int axes[4];
  const int32_t* idx[4];
  size_t n_idx;      // number of index tuples
  size_t slice_size; // elements per slice
};
void gather(const GatherArgs& a, cudaStream_t st);

}  // namespace tessera::cuda
