// Pinned host staging: host<->device copies of large pageable buffers run through two reusable
// pinned (cudaHostAlloc) chunks, double-buffered so the CPU copy of one chunk overlaps the DMA of
// the other, on the legacy default stream (so they stay ordered after all queued GPU work).
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "tessera/backend/cpu/threading.h"
#include "tessera/backend/cuda/runtime.h"
#include "tessera/env.h"

namespace tessera::cuda {

namespace {

constexpr size_t kChunk = size_t(16) << 20;     // bytes per staging buffer
constexpr size_t kMinStaged = size_t(1) << 20;  // smaller copies go straight through cudaMemcpy

std::atomic<bool>& staging_on() {
  static std::atomic<bool> on(env_switch_on("TESSERA_PINNED_STAGING"));
  return on;
}

class Stager {
 public:
  // Copies through the two chunks; false when pinned memory or events cannot be had (the caller
  // copies directly). Throws on a failed copy.
  bool copy(void* dst, const void* src, size_t n, bool to_device) {
    std::unique_lock lk(mu_, std::try_to_lock);
    if (!lk.owns_lock()) return false;  // another thread stages: copy directly instead of waiting
    if (!ready() ) return false;
    const size_t chunks = (n + kChunk - 1) / kChunk;
    auto len = [&](size_t k) { return std::min(kChunk, n - k * kChunk); };
    if (to_device) {
      for (size_t k = 0; k < chunks; ++k) {
        const int b = static_cast<int>(k % 2);
        if (k >= 2) TESSERA_CUDA_CHECK(cudaEventSynchronize(done_[b]));  // its last DMA finished
        host_copy(buf_[b], static_cast<const char*>(src) + k * kChunk, len(k));
        TESSERA_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + k * kChunk, buf_[b], len(k),
                                           cudaMemcpyHostToDevice, 0));
        TESSERA_CUDA_CHECK(cudaEventRecord(done_[b], 0));
      }
      TESSERA_CUDA_CHECK(cudaEventSynchronize(done_[(chunks - 1) % 2]));  // the later of the two
      return true;
    }
    auto issue = [&](size_t k) {
      const int b = static_cast<int>(k % 2);
      TESSERA_CUDA_CHECK(cudaMemcpyAsync(buf_[b], static_cast<const char*>(src) + k * kChunk, len(k),
                                         cudaMemcpyDeviceToHost, 0));
      TESSERA_CUDA_CHECK(cudaEventRecord(done_[b], 0));
    };
    issue(0);
    for (size_t k = 0; k < chunks; ++k) {
      const int b = static_cast<int>(k % 2);
      if (k + 1 < chunks) issue(k + 1);  // buffer (k+1)%2 was emptied in the previous iteration
      TESSERA_CUDA_CHECK(cudaEventSynchronize(done_[b]));
      host_copy(static_cast<char*>(dst) + k * kChunk, buf_[b], len(k));
    }
    return true;
  }

 private:
  bool ready() {
    if (buf_[0]) return true;
    if (failed_) return false;
    for (int b = 0; b < 2; ++b) {
      if (cudaHostAlloc(&buf_[b], kChunk, cudaHostAllocDefault) != cudaSuccess ||
          cudaEventCreateWithFlags(&done_[b], cudaEventDisableTiming) != cudaSuccess) {
        cudaGetLastError();
        failed_ = true;
        buf_[0] = buf_[1] = nullptr;  // leaked on this rare path; never retried
        return false;
      }
    }
    return true;
  }
  // Host memcpy split over the CPU pool (one thread copies ~10 GB/s, below the link's speed).
  static void host_copy(void* d, const void* s, size_t n) {
    constexpr size_t kPiece = size_t(1) << 20;
    const size_t pieces = (n + kPiece - 1) / kPiece;
    cpu::parallel_for(pieces, 1, [&](size_t p0, size_t p1) {
      const size_t a = p0 * kPiece, e = std::min(n, p1 * kPiece);
      std::memcpy(static_cast<char*>(d) + a, static_cast<const char*>(s) + a, e - a);
    });
  }
  std::mutex mu_;
  void* buf_[2]{nullptr, nullptr};
  cudaEvent_t done_[2]{};
  bool failed_{false};
};

Stager& stager() {
  static auto* s = new Stager();  // leaked: copies may happen during static destruction
  return *s;
}

// A host pointer that CUDA does not know (not pinned, not registered, not managed).
bool pageable(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeUnregistered;
}

}  // namespace

bool set_pinned_staging(bool on) { return staging_on().exchange(on); }

bool staged_copy(void* dst, const void* src, size_t n, bool to_device) {
  if (n < kMinStaged || !staging_on().load(std::memory_order_relaxed)) return false;
  if (!pageable(to_device ? src : dst)) return false;
  return stager().copy(dst, src, n, to_device);
}

}  // namespace tessera::cuda
