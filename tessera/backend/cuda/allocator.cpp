// The device caching allocator: size-class free lists over cudaMalloc, a limit, counters.
// Every live pool block remembers the tessera streams that used it: the stream it was allocated on,
// the streams whose kernels read it (the scheduler reports them, note_stream_use) and the stream
// that freed it. A freed block used by one stream only is taken again by that stream alone (its
// queue orders the reuse after the last kernel that used it) or, after that stream was synchronized,
// by any stream. A block used by several streams gets a fence on each of them when it is freed;
// another stream takes it once the fences of the other streams are reached (cudaEventQuery, never a
// wait), or, when memory is short, after ordering its queue behind them (cudaStreamWaitEvent).
// Blocks used only by host threads (copies and kernels on the legacy default stream, which the
// tessera streams wait for) are free for all. Host threads may take any block: their first use of
// it is a copy or kernel on the legacy default stream, which waits for the work queued on every
// tessera stream.
// While a CUDA graph is captured (hold_frees), frees on the capturing thread are kept for the graph.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
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

// Tags of a free block besides a stream index: free for all streams; reusable only by host threads
// (or after a device synchronization); reusable by any stream once its fences are reached.
constexpr int kAnyStream = -1;
constexpr int kHostOnly = -2;
constexpr int kFenced = -3;

// The tessera streams that used a live block (a few; more turn into `many`: a conservative tag).
struct Uses {
  std::array<int, 4> streams{};
  uint8_t n{0};
  bool many{false};
  void add(int s) {
    if (s < 0 || many) return;
    for (uint8_t i = 0; i < n; ++i) {
      if (streams[i] == s) return;
    }
    if (n == streams.size()) {
      many = true;
      return;
    }
    streams[n++] = s;
  }
};

struct Block {
  void* ptr;
  int stream;  // the one stream that used it, or kAnyStream / kHostOnly / kFenced
  std::vector<std::pair<int, Fence>> fences;  // kFenced: (stream, fence recorded there at free)
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
    if (void* p = take_cached(cls, s, false)) return p;
    void* p = nullptr;
    if (cudaMalloc(&p, cls) != cudaSuccess) {
      cudaGetLastError();
      // The device is full: a block whose fences are pending serves once this stream's queue
      // waits for them (cheaper than releasing the cache, a device synchronization).
      if (void* q = take_cached(cls, s, true)) return q;
      release_cache();
      if (cudaMalloc(&p, cls) != cudaSuccess) {
        cudaGetLastError();
        throw OutOfMemory("[malloc] The GPU could not allocate " + human(size) + " (" + human(active_) +
                          " in use by tessera).");
      }
    }
    ++stats_.cuda_mallocs;
    add_active(cls);
    live_[p].add(s);
    return p;
  }

  [[noreturn]] void throw_over_limit(size_t size) {
    throw OutOfMemory("[malloc] Attempting to allocate " + human(size) + " on the GPU which would exceed the memory limit of " +
                      human(limit_) + " (" + human(active_) + " in use). Free arrays or raise it with set_memory_limit.");
  }

  // A cached block of class cls that stream s may use now, or null. `wait`: a fenced block is
  // taken after s's queue was ordered behind its pending fences. Called with mu_ held.
  void* take_cached(size_t cls, int s, bool wait) {
    auto it = free_.find(cls);
    if (it == free_.end()) return nullptr;
    auto& v = it->second;
    for (size_t i = v.size(); i-- > 0;) {
      Block& b = v[i];
      bool ok = s < 0 || b.stream == s || b.stream == kAnyStream;
      if (ok) {
        ++(s >= 0 && b.stream == s ? stats_.same_stream_reuses : stats_.free_reuses);
      } else if (b.stream == kFenced) {
        ok = fences_reached(b, s);
        if (ok) {
          ++stats_.fenced_reuses;
        } else if (wait && order_after_fences(b, s)) {
          ok = true;
          ++stats_.fenced_waits;
        } else {
          ++stats_.deferred;
        }
      }
      if (!ok) continue;
      void* p = b.ptr;
      v.erase(v.begin() + static_cast<long>(i));
      cache_ -= cls;
      add_active(cls);
      live_[p].add(s);
      return p;
    }
    return nullptr;
  }

  // Drops the fences of b that stream s need not wait for (its own, reached ones); true when none
  // is left.
  static bool fences_reached(Block& b, int s) {
    std::erase_if(b.fences, [s](const std::pair<int, Fence>& f) {
      if (f.first == s) return true;
      cudaError_t e = cudaEventQuery(static_cast<cudaEvent_t>(f.second.get()));
      if (e == cudaSuccess) return true;
      if (e != cudaErrorNotReady) cudaGetLastError();  // a fault surfaces at the next checked call
      return false;
    });
    if (b.fences.empty()) b.stream = kAnyStream;
    return b.fences.empty();
  }

  // Makes stream s wait (on the device) for b's pending fences; false if that failed.
  static bool order_after_fences(Block& b, int s) {
    if (s < 0) return true;
    try {
      for (auto& [fs, f] : b.fences) {
        if (fs != s) stream_wait_fence(f, s);
      }
    } catch (const std::exception&) {
      return false;
    }
    return true;
  }

  void note_use(void* p, int s) {
    std::lock_guard lk(mu_);
    auto it = live_.find(p);
    if (it != live_.end()) it->second.add(s);
  }

  void free(void* p, size_t size) {
    if (!p) return;
    size_t cls = size_class(size);
    std::unique_lock lk(mu_);
    active_ -= cls;
    Uses uses;
    if (auto it = live_.find(p); it != live_.end()) {
      uses = it->second;
      live_.erase(it);
    }
    uses.add(cuda::current_stream_index());
    if (cache_ + cls <= cache_limit_) {
      free_[cls].push_back(tag(p, uses));
      cache_ += cls;
    } else {
      cudaFree(p);  // synchronizes the device, so in-flight readers are done
    }
  }

  // The free-list entry of block p used by `uses`.
  static Block tag(void* p, const Uses& uses) {
    if (uses.many) return {p, kHostOnly, {}};
    if (uses.n == 0) return {p, kAnyStream, {}};
    if (uses.n == 1) return {p, uses.streams[0], {}};
    Block b{p, kFenced, {}};
    for (uint8_t i = 0; i < uses.n; ++i) {
      Fence f;
      if (!try_record_fence(uses.streams[i], &f)) return {p, kHostOnly, {}};  // captured, or failed
      if (f) b.fences.emplace_back(uses.streams[i], std::move(f));
    }
    if (b.fences.empty()) b.stream = kAnyStream;
    return b;
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
  std::unordered_map<void*, Uses> live_;  // pool blocks in use -> the streams that used them
  size_t active_{0}, peak_{0}, cache_{0};
  size_t limit_{0}, cache_limit_{0};
  AllocatorStats stats_;
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

// After a stream's queue is finished, its cached blocks (and fences) no longer hold others back.
void release_stream_blocks(int stream) {
  auto& a = device_allocator();
  std::lock_guard lk(a.mu_);
  for (auto& [cls, blocks] : a.free_) {
    for (auto& b : blocks) {
      if (b.stream == stream) b.stream = kAnyStream;
      if (b.stream != kFenced) continue;
      std::erase_if(b.fences, [stream](const std::pair<int, Fence>& f) { return f.first == stream; });
      if (b.fences.empty()) b.stream = kAnyStream;
    }
  }
}

// After the device was synchronized every cached block may serve any stream.
void release_all_blocks() {
  auto& a = device_allocator();
  std::lock_guard lk(a.mu_);
  for (auto& [cls, blocks] : a.free_) {
    for (auto& b : blocks) {
      b.stream = kAnyStream;
      b.fences.clear();
    }
  }
}

void note_stream_use(void* device_ptr, int stream) {
  if (device_ptr && stream >= 0) device_allocator().note_use(device_ptr, stream);
}

AllocatorStats allocator_stats() {
  auto& a = device_allocator();
  std::lock_guard lk(a.mu_);
  return a.stats_;
}

}  // namespace tessera::gpu
