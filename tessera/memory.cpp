// The CPU caching allocator: size-class free lists, counters, limits.
#include "tessera/memory.h"

#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "tessera/backend/gpu.h"
#include "tessera/backend/common/size_class.h"

namespace tessera {

namespace {

size_t physical_memory() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return size_t(16) << 30;
  return static_cast<size_t>(pages) * static_cast<size_t>(page);
}

size_t size_class(size_t n) { return detail::size_class(n, 64); }
std::string human(size_t bytes) { return detail::human_bytes(bytes); }

class CpuAllocator {
 public:
  CpuAllocator() : limit_(physical_memory() / 10 * 9), cache_limit_(limit_) {}

  allocator::Buffer malloc(size_t size) {
    size_t cls = size_class(size);
    std::unique_lock lk(mu_);
    auto it = free_.find(cls);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cache_ -= cls;
      add_active(cls);
      return {p, size};
    }
    if (active_ + cls > limit_) {
      release_cache();
      if (active_ + cls > limit_) {
        throw OutOfMemory("[malloc] Attempting to allocate " + human(size) +
                          " which would exceed the memory limit of " + human(limit_) + " (" +
                          human(active_) + " in use). Free arrays or raise it with set_memory_limit.");
      }
    }
    void* p = std::aligned_alloc(64, cls);
    if (!p) {
      release_cache();
      p = std::aligned_alloc(64, cls);
      if (!p) {
        throw OutOfMemory("[malloc] The system could not allocate " + human(size) + " (" +
                          human(active_) + " in use by tessera).");
      }
    }
    add_active(cls);
    return {p, size};
  }

  void free(allocator::Buffer b) {
    if (!b.ptr) return;
    size_t cls = size_class(b.size);
    std::unique_lock lk(mu_);
    active_ -= cls;
    if (cache_ + cls <= cache_limit_) {
      free_[cls].push_back(b.ptr);
      cache_ += cls;
    } else {
      std::free(b.ptr);
    }
  }

  void release_cache() {
    for (auto& [cls, ptrs] : free_) {
      for (void* p : ptrs) std::free(p);
      ptrs.clear();
    }
    cache_ = 0;
  }

  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t active_{0}, peak_{0}, cache_{0};
  size_t limit_, cache_limit_;

 private:
  void add_active(size_t n) {
    active_ += n;
    if (active_ > peak_) peak_ = active_;
  }
};

CpuAllocator& cpu_allocator() {
  // Leaked on purpose: buffers may be freed by static destructors after main returns.
  static auto* a = new CpuAllocator();
  return *a;
}

}  // namespace

namespace allocator {
Buffer malloc(size_t size) {
  if (size == 0) return {nullptr, 0};
  return cpu_allocator().malloc(size);
}
void free(Buffer b) { cpu_allocator().free(b); }
}  // namespace allocator

namespace {
bool gpu_default() { return default_device().type == Device::gpu; }
}  // namespace

size_t get_active_memory_on(const Device& d) {
  if (d.type == Device::gpu) return gpu::memory_info().active;
  auto& a = cpu_allocator();
  std::lock_guard lk(a.mu_);
  return a.active_;
}
size_t get_peak_memory_on(const Device& d) {
  if (d.type == Device::gpu) return gpu::memory_info().peak;
  auto& a = cpu_allocator();
  std::lock_guard lk(a.mu_);
  return a.peak_;
}
size_t get_cache_memory_on(const Device& d) {
  if (d.type == Device::gpu) return gpu::memory_info().cache;
  auto& a = cpu_allocator();
  std::lock_guard lk(a.mu_);
  return a.cache_;
}
size_t get_active_memory() { return get_active_memory_on(default_device()); }
size_t get_peak_memory() { return get_peak_memory_on(default_device()); }
size_t get_cache_memory() { return get_cache_memory_on(default_device()); }
void reset_peak_memory() {
  if (gpu_default()) return gpu::reset_peak_memory();
  auto& a = cpu_allocator();
  std::lock_guard lk(a.mu_);
  a.peak_ = a.active_;
}
size_t get_memory_limit() {
  if (gpu_default()) return gpu::memory_info().limit;
  auto& a = cpu_allocator();
  std::lock_guard lk(a.mu_);
  return a.limit_;
}
size_t set_memory_limit(size_t limit) {
  if (gpu_default()) return gpu::set_memory_limit(limit);
  auto& a = cpu_allocator();
  std::lock_guard lk(a.mu_);
  size_t old = a.limit_;
  a.limit_ = limit;
  return old;
}
size_t set_cache_limit(size_t limit) {
  if (gpu_default()) return gpu::set_cache_limit(limit);
  auto& a = cpu_allocator();
  std::lock_guard lk(a.mu_);
  size_t old = a.cache_limit_;
  a.cache_limit_ = limit;
  if (a.cache_ > limit) a.release_cache();
  return old;
}
void clear_cache() {
  gpu::clear_cache();
  auto& a = cpu_allocator();
  std::lock_guard lk(a.mu_);
  a.release_cache();
}

}  // namespace tessera
