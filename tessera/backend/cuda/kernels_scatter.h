// Launchers of the CUDA scatter kernels (scatter.cu): scatter with reductions, take_along_axis and
// put_along_axis. Indices are int64 (wrapped when negative; out-of-range ones are skipped).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::cuda {

enum ScatterOp : int { sc_none, sc_sum, sc_prod, sc_max, sc_min };  // ScatterReduce order

// out (row-contiguous, shape out_shape) combined with updates (n_idx, ushape...) contiguous at
// offsets sum_k idx[k][i] * out_strides[axes[k]].
struct ScatterArgs {
  void* out;
  const void* upd;
  int ndim;
  int64_t out_shape[kMaxDims], out_strides[kMaxDims], upd_shape[kMaxDims];
  int naxes;
  int axes[4];
  const int64_t* idx[4];
  size_t n_idx, upd_size;  // index tuples, elements per update slice
  // Plain scatter with many tuples: an int32 per out element, filled with -1 by the caller; it
  // records the last tuple writing each element. Null: later tuples are checked directly.
  int* winner;
};
// Index tuples above which plain scatter uses the winner table (the direct check is O(n_idx^2)).
constexpr size_t kScatterDirectCheckMax = 1024;
// none: any element size; reductions: 16/32/64-bit dtypes (CAS loops; atomics for sums).
bool scatter_supported(int op, int dt);
void scatter(int op, int dt, int elem_size, const ScatterArgs& a, cudaStream_t st);

// take_along_axis: out (row-contiguous, shape) [e] = src[sum_{d != axis} c_d * src_strides[d] +
// wrap(idx[e]) * src_strides[axis]]; put_along_axis: the reverse into a row-contiguous out with
// values contiguous of idx's shape.
struct AlongAxisArgs {
  int ndim, axis;
  int64_t shape[kMaxDims];        // idx shape (= out shape of take, values shape of put)
  int64_t strides[kMaxDims];      // src strides (take) / out strides (put)
  int64_t axis_size;              // size of the indexed axis
};
void take_along_axis(const void* src, const int64_t* idx, void* out, int elem_size, const AlongAxisArgs& a, size_t n,
                     cudaStream_t st);
void put_along_axis(int op, int dt, int elem_size, const void* vals, const int64_t* idx, void* out,
                    const AlongAxisArgs& a, size_t n, cudaStream_t st);

}  // namespace tessera::cuda
