// Launchers of the batched affine quantized matmul (one launch over every batch entry): x (batch, M, K)
// against per-entry quantized weights, batch dims addressed by element strides (0 = broadcast).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "tessera/backend/cuda/kernels.h"
#include "tessera/backend/cuda/kernels_quantized.h"

namespace tessera::cuda {

// The batch space of a batched quantized matmul: entry z (row-major over shape) reads the matrices
// at element offsets sum_d coord_d * strides[k][d] of operand k = 0 x, 1 w (uint32 words), 2 scales,
// 3 biases; the output is row-contiguous (batch, M, N). Every matrix is row-contiguous itself.
struct QBatch {
  int ndim{0};
  int64_t count{1};  // product of shape
  int64_t shape[kMaxDims]{};
  int64_t strides[4][kMaxDims]{};
};

// out (batch, M, N) = x (batch, M, K) @ W_z^T (w.transpose, W_z (N, K)) or x @ W_z (W_z (K, N)),
// x/scales/biases/out of float dtype dt; the pointers in w are those of batch entry 0. M >= 1 of any
// size (tiles of 8 rows), every supported bits/group size; no alignment needed beyond the element's.
// transpose = false needs `workspace` of batched_qmm_workspace floats. Throws std::invalid_argument
// for an unsupported dtype or width.
void batched_qmm(int dt, const AffineWeight& w, const QBatch& b, const void* x, void* out, float* workspace,
                 int64_t M, int64_t N, int64_t K, cudaStream_t st);
// Floats of workspace batched_qmm needs (0 for transpose = true).
size_t batched_qmm_workspace(bool transpose, const QBatch& b, int64_t M, int64_t N, int64_t K);

}  // namespace tessera::cuda
