// Hooks between the core (arrays, memory functions, scheduler) and the GPU backend; no_gpu.cpp
// stubs them in builds without CUDA, where no buffer ever gets a device side.
#pragma once

#include <cstddef>
#include <memory>
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

// Scheduler: a GPU kernel of tessera stream `stream` used the pool block device_ptr (an input's
// device side). A block used by several streams is reused across them only after fences.
void note_stream_use(void* device_ptr, int stream);

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

// Scheduler: kernels launched by this thread go to the CUDA stream of tessera stream `index`
// (-1: none, the legacy default stream); get_stream reads it back.
void set_stream(int index);
int get_stream();
// Blocks until the work queued on tessera stream `index` has finished (nothing when that stream
// never ran GPU work).
void synchronize_stream(int index);
// Blocks until the whole device is idle; every cached device block becomes free for all streams.
void synchronize_all();

// Fences: a marker recorded on a stream after the work queued so far (a pooled cudaEvent, given
// back when the last handle goes). A GPU consumer on another stream orders its queue after it
// without blocking the host; a host consumer blocks until it is reached.
using Fence = std::shared_ptr<void>;
Fence record_fence(int stream);
void stream_wait_fence(const Fence& f, int stream);
void wait_fence(const Fence& f);
// Debug counter: host blocks on GPU work (stream synchronizations and fence waits) so far.
size_t sync_count();

// Profiling: a timing event recorded on tessera stream `stream` now, and the milliseconds between two
// marks (waits for `after`); null / 0 without a GPU.
using TimingMark = std::shared_ptr<void>;
TimingMark timing_mark(int stream);
float elapsed_ms(const TimingMark& before, const TimingMark& after);

// Whether runtime compilation (NVRTC) can be used: opens libnvrtc on the first call; false
// without CUDA. compile fuses GPU elementwise chains only when it is.
bool jit_available();

}  // namespace tessera::gpu
