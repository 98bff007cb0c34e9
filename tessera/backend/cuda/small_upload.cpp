// Small host->device uploads without a host wait: the bytes are copied into a pinned ring and sent
// with cudaMemcpyAsync on the legacy default stream, which orders the copy after all GPU work queued
// so far on the (blocking) tessera streams and every later kernel after the copy, as the synchronous
// cudaMemcpy did, but the host goes on queueing. A decode step uploads a few scalars (RoPE offsets,
// constants) between its kernels; a synchronous copy there made the host wait for the GPU each time.
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>

#include "tessera/backend/cuda/runtime.h"
#include "tessera/env.h"

namespace tessera::cuda {

namespace {

constexpr size_t kRing = size_t(4) << 20;  // bytes of pinned ring
constexpr size_t kAlign = 256;

bool enabled() {
  static const bool on = env_switch_on("TESSERA_ASYNC_UPLOAD");
  return on;
}

class UploadRing {
 public:
  // False when the ring cannot be had (the caller copies synchronously).
  bool upload(void* dst, const void* src, size_t n) {
    std::lock_guard lk(mu_);
    if (!ready()) return false;
    const size_t len = (n + kAlign - 1) / kAlign * kAlign;
    if (head_ + len > kRing) head_ = 0;  // wrap: the tail end is skipped
    // Regions still in flight that overlap [head_, head_ + len) must be finished before reuse.
    while (!inflight_.empty()) {
      Region& r = inflight_.front();
      const bool overlaps = r.begin < head_ + len && head_ < r.end;
      if (!overlaps && inflight_.size() <= kMaxInflight) break;
      TESSERA_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(r.done.get())));
      inflight_.pop_front();  // its event goes back to the pool
    }
    char* slot = ring_ + head_;
    std::memcpy(slot, src, n);
    TESSERA_CUDA_CHECK(cudaMemcpyAsync(dst, slot, n, cudaMemcpyHostToDevice, cudaStreamLegacy));
    inflight_.push_back({head_, head_ + len, record_event(cudaStreamLegacy)});
    head_ += len;
    return true;
  }

 private:
  static constexpr size_t kMaxInflight = 4096;
  struct Region {
    size_t begin, end;
    gpu::Fence done;  // reached when the copy out of [begin, end) has finished
  };
  bool ready() {
    if (ring_) return true;
    if (failed_) return false;
    void* p = nullptr;
    if (cudaHostAlloc(&p, kRing, cudaHostAllocDefault) != cudaSuccess) {
      cudaGetLastError();
      failed_ = true;
      return false;
    }
    ring_ = static_cast<char*>(p);
    return true;
  }
  std::mutex mu_;
  char* ring_{nullptr};
  bool failed_{false};
  size_t head_{0};
  std::deque<Region> inflight_;
};

UploadRing& ring() {
  static auto* r = new UploadRing();  // leaked: uploads may happen during static destruction
  return *r;
}

}  // namespace

bool async_small_upload(void* dst, const void* src, size_t n) {
  if (n == 0 || n > kMaxAsyncUpload || !enabled()) return false;
  return ring().upload(dst, src, n);
}

}  // namespace tessera::cuda
