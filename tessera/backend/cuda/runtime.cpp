// CUDA streams per tessera stream, cuBLAS handles, host<->device copies and checked-call errors.
#include "tessera/backend/cuda/runtime.h"

#include <mutex>
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

 private:
  std::mutex mu_;
  std::unordered_map<int, StreamState> streams_;  // leaked with the process (see streams())
};

Streams& streams() {
  static auto* s = new Streams();
  return *s;
}

thread_local int tls_stream = -1;

}  // namespace

int current_stream_index() { return tls_stream; }

cudaStream_t current_stream() {
  if (tls_stream < 0) return nullptr;  // legacy default stream (host threads)
  return streams().get(tls_stream).stream;
}

namespace {
StreamState& blas_state() {
  auto& s = streams().get(tls_stream < 0 ? 1 : tls_stream);
  if (!s.cublas) {
    TESSERA_CUBLAS_CHECK(cublasCreate(&s.cublas));
    TESSERA_CUBLAS_CHECK(cublasSetStream(s.cublas, s.stream));
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

namespace tessera::gpu {

void release_stream_blocks(int stream);  // allocator.cpp

void set_stream(int index) { cuda::tls_stream = index; }

void synchronize_stream(int index) {
  TESSERA_CUDA_CHECK(cudaStreamSynchronize(cuda::streams().get(index).stream));
  release_stream_blocks(index);
}

// Synchronous copies on the legacy default stream: they wait for all work queued on the (blocking)
// tessera streams, so a buffer written by any queued kernel is complete when it is read.
void copy_to_host(void* dst, const void* src, size_t n) {
  TESSERA_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost));
}

void copy_to_device(void* dst, const void* src, size_t n) {
  TESSERA_CUDA_CHECK(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice));
}

}  // namespace tessera::gpu
