// CUDA streams per tessera stream, cuBLAS handles, fences, host<->device copies and checked-call
// errors.
#include "tessera/backend/cuda/runtime.h"

#include <atomic>
#include <mutex>
#include <vector>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "tessera/backend/gpu.h"

namespace tessera::cuda {

void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  cudaGetLastError();  // clear a non-sticky error so later calls can proceed
  throw std::runtime_error(std::string("[cuda] ") + file + ":" + std::to_string(line) + ": " + expr + " failed: " +
                           cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

void throw_cublas_error(cublasStatus_t st, const char* expr, const char* file, int line) {
  throw std::runtime_error(std::string("[cublas] ") + file + ":" + std::to_string(line) + ": " + expr +
                           " failed: " + cublasGetStatusName(st) + " (" + cublasGetStatusString(st) + ")");
}

namespace {

struct StreamState {
  cudaStream_t stream{nullptr};
  cublasHandle_t cublas{nullptr};
  cublasLtHandle_t lt{nullptr};
  void* workspace{nullptr};
};

constexpr size_t kWorkspace = size_t(32) << 20;

class Streams {
 public:
  StreamState& get(int index) {
    std::lock_guard lk(mu_);
    auto& s = streams_[index];
    if (!s.stream) TESSERA_CUDA_CHECK(cudaStreamCreate(&s.stream));
    return s;
  }
  // The CUDA stream of `index`, or null when it was never created.
  cudaStream_t find(int index) {
    std::lock_guard lk(mu_);
    auto it = streams_.find(index);
    return it == streams_.end() ? nullptr : it->second.stream;
  }

 private:
  std::mutex mu_;
  std::unordered_map<int, StreamState> streams_;  // leaked with the process (see streams())
};

Streams& streams() {
  static auto* s = new Streams();
  return *s;
}

thread_local int tls_stream = -1;
// current_stream() of tls_stream, cached per thread (streams live as long as the process): saves a
// lock and a hash lookup per kernel launch. Reset by set_stream.
thread_local cudaStream_t tls_cuda_stream = nullptr;

std::atomic<size_t> syncs{0};
thread_local size_t tls_host_blocks = 0;  // host copies and waits made by this thread

// Recycled cudaEvents (timing off) for fences.
class EventPool {
 public:
  cudaEvent_t get() {
    {
      std::lock_guard lk(mu_);
      if (!free_.empty()) {
        cudaEvent_t e = free_.back();
        free_.pop_back();
        return e;
      }
    }
    cudaEvent_t e;
    TESSERA_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return e;
  }
  void put(cudaEvent_t e) {
    std::lock_guard lk(mu_);
    free_.push_back(e);
  }

 private:
  std::mutex mu_;
  std::vector<cudaEvent_t> free_;
};

EventPool& event_pool() {
  static auto* p = new EventPool();  // leaked: fences may die after main returns
  return *p;
}

}  // namespace

gpu::Fence record_event(cudaStream_t stream) {
  cudaEvent_t e = event_pool().get();
  cudaError_t err = cudaEventRecord(e, stream);
  if (err != cudaSuccess) {
    event_pool().put(e);
    throw_cuda_error(err, "cudaEventRecord", __FILE__, __LINE__);
  }
  return gpu::Fence(static_cast<void*>(e), [](void* p) { event_pool().put(static_cast<cudaEvent_t>(p)); });
}

int current_stream_index() { return tls_stream; }
size_t host_copy_count() { return tls_host_blocks; }

cudaStream_t current_stream() {
  if (tls_stream < 0) return nullptr;  // legacy default stream (host threads)
  if (!tls_cuda_stream) tls_cuda_stream = streams().get(tls_stream).stream;
  return tls_cuda_stream;
}

namespace {
StreamState& blas_state() {
  auto& s = streams().get(tls_stream < 0 ? 1 : tls_stream);
  if (!s.cublas) {
    TESSERA_CUBLAS_CHECK(cublasCreate(&s.cublas));
    TESSERA_CUBLAS_CHECK(cublasSetStream(s.cublas, s.stream));
    // As the cuBLASLt preference in blaslt.cpp: no split-K reductions in bf16/f16.
    TESSERA_CUBLAS_CHECK(cublasSetMathMode(s.cublas, static_cast<cublasMath_t>(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)));
    TESSERA_CUDA_CHECK(cudaMalloc(&s.workspace, kWorkspace));
    TESSERA_CUBLAS_CHECK(cublasSetWorkspace(s.cublas, s.workspace, kWorkspace));
  }
  return s;
}
}  // namespace

cublasHandle_t cublas_handle() { return blas_state().cublas; }

LtContext cublaslt_context() {
  auto& s = blas_state();
  if (!s.lt) TESSERA_CUBLAS_CHECK(cublasLtCreate(&s.lt));
  return {s.lt, s.workspace, kWorkspace, s.stream};
}

}  // namespace tessera::cuda

namespace tessera::cuda {
// pinned_staging.cpp: copies n bytes through the pinned stager when `host` (dst or src) is a large
// pageable buffer; false when the caller should copy directly.
bool staged_copy(void* dst, const void* src, size_t n, bool to_device);
}  // namespace tessera::cuda

namespace tessera::gpu {

void release_stream_blocks(int stream);  // allocator.cpp

void release_all_blocks();  // allocator.cpp

void set_stream(int index) {
  if (index != cuda::tls_stream) cuda::tls_cuda_stream = nullptr;
  cuda::tls_stream = index;
}
int get_stream() { return cuda::tls_stream; }

void synchronize_stream(int index) {
  cudaStream_t s = cuda::streams().find(index);
  if (!s) return;
  ++cuda::syncs;
  ++cuda::tls_host_blocks;
  TESSERA_CUDA_CHECK(cudaStreamSynchronize(s));
  release_stream_blocks(index);
}

void synchronize_all() {
  ++cuda::syncs;
  ++cuda::tls_host_blocks;
  TESSERA_CUDA_CHECK(cudaDeviceSynchronize());
  release_all_blocks();
}

Fence record_fence(int stream) { return cuda::record_event(cuda::streams().get(stream).stream); }

bool try_record_fence(int stream, Fence* out) {
  *out = nullptr;
  cudaStream_t cs = cuda::streams().find(stream);
  if (!cs) return true;  // the stream never queued GPU work
  cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(cs, &cap) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  if (cap != cudaStreamCaptureStatusNone) return false;
  try {
    *out = record_fence(stream);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

void stream_wait_fence(const Fence& f, int stream) {
  TESSERA_CUDA_CHECK(cudaStreamWaitEvent(cuda::streams().get(stream).stream, static_cast<cudaEvent_t>(f.get()), 0));
}

void wait_fence(const Fence& f) {
  ++cuda::syncs;
  ++cuda::tls_host_blocks;
  TESSERA_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(f.get())));
}

size_t sync_count() { return cuda::syncs.load(); }

TimingMark timing_mark(int stream) {
  cudaEvent_t e;
  TESSERA_CUDA_CHECK(cudaEventCreate(&e));
  TimingMark m(static_cast<void*>(e), [](void* p) { cudaEventDestroy(static_cast<cudaEvent_t>(p)); });
  TESSERA_CUDA_CHECK(cudaEventRecord(e, cuda::streams().get(stream).stream));
  return m;
}

float elapsed_ms(const TimingMark& before, const TimingMark& after) {
  auto a = static_cast<cudaEvent_t>(before.get()), b = static_cast<cudaEvent_t>(after.get());
  TESSERA_CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  TESSERA_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  return ms;
}

// Synchronous copies on the legacy default stream: they wait for all work queued on the (blocking)
// tessera streams, so a buffer written by any queued kernel is complete when it is read. Large
// pageable host buffers go through the pinned stager (pinned_staging.cpp).
void copy_to_host(void* dst, const void* src, size_t n) {
  ++cuda::tls_host_blocks;
  if (cuda::staged_copy(dst, src, n, false)) return;
  TESSERA_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost));
}

void copy_to_device(void* dst, const void* src, size_t n) {
  ++cuda::tls_host_blocks;  // counted even when asynchronous: a CUDA graph cannot capture an upload
  if (cuda::async_small_upload(dst, src, n)) return;
  if (cuda::staged_copy(dst, src, n, true)) return;
  TESSERA_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice));
}

}  // namespace tessera::gpu
