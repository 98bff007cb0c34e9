// CUDA runtime helpers of the backend: checked calls (file:line in errors), the CUDA stream and
// cuBLAS handle of the calling thread's tessera stream.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "tessera/backend/gpu.h"

namespace tessera::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t st, const char* expr, const char* file, int line);

#define TESSERA_CUDA_CHECK(expr)                                                              \
  do {                                                                                        \
    cudaError_t tessera_err_ = (expr);                                                        \
    if (tessera_err_ != cudaSuccess) ::tessera::cuda::throw_cuda_error(tessera_err_, #expr, __FILE__, __LINE__); \
  } while (0)
#define TESSERA_CUBLAS_CHECK(expr)                                                            \
  do {                                                                                        \
    cublasStatus_t tessera_st_ = (expr);                                                      \
    if (tessera_st_ != CUBLAS_STATUS_SUCCESS) ::tessera::cuda::throw_cublas_error(tessera_st_, #expr, __FILE__, __LINE__); \
  } while (0)
// After a kernel launch: reports launch errors (bad configuration) at once.
#define TESSERA_CUDA_LAUNCH_CHECK() TESSERA_CUDA_CHECK(cudaGetLastError())

// The CUDA stream of the tessera stream set by gpu::set_stream on this thread (created on first
// use, blocking with respect to the legacy default stream, which host copies use).
cudaStream_t current_stream();
// The cuBLAS handle bound to current_stream().
cublasHandle_t cublas_handle();
// cuBLASLt state of the calling thread's tessera stream: a handle, the stream's workspace (shared
// with its cuBLAS handle; both are used in stream order) and the CUDA stream to run on.
struct LtContext {
  cublasLtHandle_t handle;
  void* workspace;
  size_t workspace_bytes;
  cudaStream_t stream;
};
LtContext cublaslt_context();
// A pooled cudaEvent (timing off) recorded on `stream` now; given back to the pool with the last
// handle. gpu::record_fence is this on a tessera stream.
gpu::Fence record_event(cudaStream_t stream);
// Tessera stream index of this thread (-1 outside GPU workers).
int current_stream_index();

// Host<->device copies (gpu::copy_to_host / copy_to_device: array uploads and downloads) and host
// waits for the GPU made so far by the calling thread: compile's CUDA graph capture checks that a
// warm run of a tape made none.
size_t host_copy_count();
// Pageable host copies of at least 1 MiB go through a pool of pinned staging buffers, chunked and
// double-buffered (on by default; env TESSERA_PINNED_STAGING=0 turns it off). Returns the old value.
bool set_pinned_staging(bool on);
// Uploads of at most kMaxAsyncUpload bytes go through a pinned ring without blocking the host
// (small_upload.cpp; env TESSERA_ASYNC_UPLOAD=0 turns it off); false when the caller must copy.
constexpr size_t kMaxAsyncUpload = size_t(64) << 10;
bool async_small_upload(void* dst, const void* src, size_t n);

}  // namespace tessera::cuda

namespace tessera::gpu {
// While `list` is set on this thread, gpu::free keeps the blocks in it (pointer, bytes) instead of
// pooling them: a CUDA graph being captured still uses them when it is launched later. nullptr ends.
void hold_frees(std::vector<std::pair<void*, size_t>>* list);

// Device allocator counters since start: blocks taken from the pool by the stream that alone used
// them (stream order), blocks free for all, blocks of several streams once their fences were
// reached, or (device full) after the new stream's queue was ordered behind them; cudaMalloc calls;
// and pooled blocks passed over because a fence of another stream was still pending.
struct AllocatorStats {
  size_t same_stream_reuses{0}, free_reuses{0}, fenced_reuses{0}, fenced_waits{0};
  size_t cuda_mallocs{0}, deferred{0};
};
AllocatorStats allocator_stats();
// The allocator's fence on tessera stream `index` (see record_fence) in *out, never an exception:
// false when the stream is being captured into a CUDA graph or the record failed; true with a null
// fence when the stream never queued GPU work.
bool try_record_fence(int index, Fence* out);
}  // namespace tessera::gpu
