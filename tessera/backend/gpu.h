// Hooks between the core (arrays, memory functions, scheduler) and the GPU backend; no_gpu.cpp
// stubs them in builds without CUDA, where no buffer ever gets a device side.
#pragma once

#include <cstddef>
#include <functional>

namespace tessera::gpu {

// Device memory from the caching pool; malloc throws OutOfMemory past the limit or when the
// device is full after the cache was released. free returns the block to the pool.
void* malloc(size_t n);
void free(void* p, size_t n);
// Device memory owned by someone else (a DLPack import): the next free(p) calls release() once the
// device has finished all queued work, instead of caching p. p may be adopted more than once.
void adopt(void* p, std::function<void()> release);
// A pool block handed to another framework (a DLPack export), which may still read it on its own
// streams: when it is freed, the device first finishes all queued work.
void mark_exported(void* p);

struct MemoryInfo {
  size_t active{0}, peak{0}, cache{0}, limit{0};
};
MemoryInfo memory_info();
void reset_peak_memory();
size_t set_memory_limit(size_t limit);
size_t set_cache_limit(size_t limit);
void clear_cache();

// Copies of n bytes between host and device memory, ordered after all GPU work queued so far on
// any tessera stream (they block the calling thread until done).
void copy_to_host(void* dst, const void* src, size_t n);
void copy_to_device(void* dst, const void* src, size_t n);

// Scheduler: kernels launched by this thread go to the CUDA stream of tessera stream `index`.
void set_stream(int index);
// Blocks until the work queued on tessera stream `index` has finished.
void synchronize_stream(int index);

}  // namespace tessera::gpu
