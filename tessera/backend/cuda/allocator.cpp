// The device caching allocator: size-class free lists over cudaMalloc, a limit, counters.
// A freed block remembers the tessera stream that freed it; only that stream (whose queue orders
// the reuse after the last kernel reading it) or, after that stream was synchronized, any stream
// takes it again. Blocks freed by host threads belong to the only CUDA stream when there is one
// (its queue holds every kernel that may still read them), else to the host (tag -2) until the
// device is synchronized. Host threads may take any block: their first use of it is a copy on the
// legacy default stream, which waits for the work queued on every tessera stream.
// While a CUDA graph is captured (hold_frees), frees on the capturing thread are kept for the graph.
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tessera/backend/cuda/runtime.h"
#include "tessera/backend/gpu_available.h"
#include "tessera/backend/gpu.h"
#include "tessera/memory.h"
#include "tessera/backend/common/size_class.h"

namespace tessera::gpu {

namespace {

size_t size_class(size_t n) { return detail::size_class(n, 256); }
std::string human(size_t bytes) { return detail::human_bytes(bytes); }

struct Block {
  void* ptr;
  int stream;  // tessera stream that freed it (-1: free for all, -2: host threads only)
};

class DeviceAllocator {
 public:
  DeviceAllocator() {
    size_t free_b = 0, total = 0;
    if (cudaMemGetInfo(&free_b, &total) != cudaSuccess) {
      cudaGetLastError();
      total = size_t(8) << 30;
    }
    limit_ = total / 100 * 95;
    cache_limit_ = limit_;
  }

  void* malloc(size_t size) {
    size_t cls = size_class(size);
    int s = cuda::current_stream_index();
    std::unique_lock lk(mu_);
    if (active_ + cls > limit_) throw_over_limit(size);  // the limit bounds live buffers, cached or not
    auto it = free_.find(cls);
    if (it != free_.end()) {
      auto& v = it->second;
      for (size_t i = v.size(); i-- > 0;) {
        if (v[i].stream == s || v[i].stream == -1 || s < 0) {
          void* p = v[i].ptr;
          v.erase(v.begin() + static_cast<long>(i));
          cache_ -= cls;
          add_active(cls);
          return p;
        }
      }
    }
    if (active_ + cls > limit_) {
      release_cache();
      if (active_ + cls > limit_) throw_over_limit(size);
    }
    void* p = nullptr;
    if (cudaMalloc(&p, cls) != cudaSuccess) {
      cudaGetLastError();
      release_cache();
      if (cudaMalloc(&p, cls) != cudaSuccess) {
        cudaGetLastError();
        throw OutOfMemory("[malloc] The GPU could not allocate " + human(size) + " (" + human(active_) +
                          " in use by tessera).");
      }
    }
    add_active(cls);
    return p;
  }

  [[noreturn]] void throw_over_limit(size_t size) {
    throw OutOfMemory("[malloc] Attempting to allocate " + human(size) +
                      " on the GPU which would exceed the memory limit of " + human(limit_) + " (" +
                      human(active_) + " in use). Free arrays or raise it with set_memory_limit.");
  }

  void free(void* p, size_t size) {
    if (!p) return;
    size_t cls = size_class(size);
    std::unique_lock lk(mu_);
    active_ -= cls;
    if (cache_ + cls <= cache_limit_) {
      int s = cuda::current_stream_index();
      free_[cls].push_back({p, s >= 0 ? s : cuda::single_stream_index()});
      cache_ += cls;
    } else {
      cudaFree(p);  // synchronizes the device, so in-flight readers are done
    }
  }

  // Frees every cached block (cudaFree waits for the device first).
  void release_cache() {
    cudaDeviceSynchronize();
    for (auto& [cls, blocks] : free_) {
      for (auto& b : blocks) cudaFree(b.ptr);
      blocks.clear();
    }
    cache_ = 0;
  }

  void add_active(size_t n) {
    active_ += n;
    if (active_ > peak_) peak_ = active_;
  }

  std::mutex mu_;
  std::unordered_map<size_t, std::vector<Block>> free_;
  size_t active_{0}, peak_{0}, cache_{0};
  size_t limit_{0}, cache_limit_{0};
};

// Adopted blocks (gpu::adopt): pointer -> release callbacks, one per adoption; exported pool
// blocks (gpu::mark_exported). count: entries of both, so free() skips the lock while there are none.
struct Adopted {
  std::mutex mu;
  std::unordered_multimap<void*, std::function<void()>> release;
  std::unordered_set<void*> exported;
  std::atomic<size_t> count{0};
};

Adopted& adopted() {
  static auto* a = new Adopted();  // leaked like the allocator
  return *a;
}

DeviceAllocator& device_allocator() {
  static auto* a = new DeviceAllocator();  // leaked: buffers may be freed after main returns
  return *a;
}

}  // namespace

void* malloc(size_t n) {
  if (n == 0) return nullptr;
  return device_allocator().malloc(n);
}
namespace {
thread_local std::vector<std::pair<void*, size_t>>* tls_hold = nullptr;
}  // namespace

void hold_frees(std::vector<std::pair<void*, size_t>>* list) { tls_hold = list; }

void free(void* p, size_t n) {
  if (tls_hold && p) {
    tls_hold->emplace_back(p, n);
    return;
  }
  auto& ad = adopted();
  if (ad.count.load(std::memory_order_acquire) > 0) {
    std::function<void()> release;
    bool shared = false;
    {
      std::lock_guard lk(ad.mu);
      shared = ad.exported.erase(p) > 0;
      auto it = ad.release.find(p);
      if (it != ad.release.end()) {
        release = std::move(it->second);
        ad.release.erase(it);
        shared = true;
      }
      ad.count.store(ad.release.size() + ad.exported.size(), std::memory_order_release);
    }
    if (shared) {
      // Its owner (or the framework that read it) may reuse or still read it: let every stream's
      // queued work finish first.
      if (cudaDeviceSynchronize() != cudaSuccess) cudaGetLastError();
    }
    if (release) {
      release();
      return;
    }
  }
  device_allocator().free(p, n);
}

void adopt(void* p, std::function<void()> release) {
  auto& ad = adopted();
  std::lock_guard lk(ad.mu);
  ad.release.emplace(p, std::move(release));
  ad.count.store(ad.release.size() + ad.exported.size(), std::memory_order_release);
}

void mark_exported(void* p) {
  if (!p) return;
  auto& ad = adopted();
  std::lock_guard lk(ad.mu);
  ad.exported.insert(p);
  ad.count.store(ad.release.size() + ad.exported.size(), std::memory_order_release);
}

MemoryInfo memory_info() {
  if (!gpu_is_available()) return {};
  auto& a = device_allocator();
  std::lock_guard lk(a.mu_);
  return {a.active_, a.peak_, a.cache_, a.limit_};
}
void reset_peak_memory() {
  auto& a = device_allocator();
  std::lock_guard lk(a.mu_);
  a.peak_ = a.active_;
}
size_t set_memory_limit(size_t limit) {
  auto& a = device_allocator();
  std::lock_guard lk(a.mu_);
  size_t old = a.limit_;
  a.limit_ = limit;
  return old;
}
size_t set_cache_limit(size_t limit) {
  auto& a = device_allocator();
  std::lock_guard lk(a.mu_);
  size_t old = a.cache_limit_;
  a.cache_limit_ = limit;
  if (a.cache_ > limit) a.release_cache();
  return old;
}
void clear_cache() {
  if (!gpu_is_available()) return;
  auto& a = device_allocator();
  std::lock_guard lk(a.mu_);
  a.release_cache();
}

// After a stream's queue is finished, its cached blocks may serve any stream.
void release_stream_blocks(int stream) {
  auto& a = device_allocator();
  std::lock_guard lk(a.mu_);
  for (auto& [cls, blocks] : a.free_) {
    for (auto& b : blocks) {
      if (b.stream == stream) b.stream = -1;
    }
  }
}

// After the device was synchronized every cached block may serve any stream.
void release_all_blocks() {
  auto& a = device_allocator();
  std::lock_guard lk(a.mu_);
  for (auto& [cls, blocks] : a.free_) {
    for (auto& b : blocks) b.stream = -1;
  }
}

}  // namespace tessera::gpu
