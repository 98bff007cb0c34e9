// Column-major strided-batched GEMM through cuBLASLt with cached descriptors and algorithms
// (16-bit inputs, float32 accumulation), falling back to cublasGemmStridedBatchedEx.
#pragma once

#include <cublas_v2.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace tessera::cuda {

// One column-major GEMM: D (m x n, ldc, batch stride sc) = op(A) (m x k) * op(B) (k x n), `batch`
// times; A, B, C share the data type `type` and accumulate in `compute`.
struct GemmArgs {
  cublasOperation_t ta, tb;
  int64_t m, n, k;
  const void* a;
  int64_t lda, sa;
  const void* b;
  int64_t ldb, sb;
  void* c;
  int64_t ldc, sc;
  int64_t batch;
  cudaDataType_t type;
  cublasComputeType_t compute;
  // D = alpha * op(A) op(B) + beta * D (real scalars; complex products take them as alpha + 0i).
  double alpha{1.0}, beta{0.0};
  // gemm_lt only, batch 1: m values of `type` added to every column of D afterwards (the cuBLASLt
  // BIAS epilogue; a row-major bias row broadcast over the rows of the output).
  const void* bias{nullptr};
};

// Runs through cuBLASLt; false (nothing launched) when Lt offers no algorithm for the problem.
bool gemm_lt(const GemmArgs& g);
// True when gemm_lt times cuBLAS against cuBLASLt's candidates on a problem's first use and keeps
// the fastest (few-row products, beta 0, one batch; TESSERA_GEMM_AUTOTUNE=0 turns it off).
bool gemm_autotunes(const GemmArgs& g);
// True while st is being captured into a CUDA graph (or the query failed): no timing runs then.
bool stream_capturing(cudaStream_t st);
// Seconds per run of `run` (false: it did not launch) on stream st: a warm-up run, then the best of
// three event-timed batches; +inf when a run failed. Synchronizes the host with st.
double time_gpu_runs(const std::function<bool()>& run, cudaStream_t st);
// GEMMs that ran with the bias epilogue so far (tests check that AddMM's bias row takes it).
size_t bias_epilogue_count();
// Runs through cublasGemmStridedBatchedEx on the stream's cuBLAS handle.
void gemm_cublas(const GemmArgs& g);

}  // namespace tessera::cuda
