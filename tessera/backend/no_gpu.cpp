// Built when CUDA is off: the GPU is never available, every primitive runs on the CPU, and no
// buffer has a device side (the gpu:: hooks are never reached).
#include <stdexcept>

#include "tessera/backend/gpu.h"
#include "tessera/backend/gpu_available.h"

namespace tessera {
bool gpu_is_available() { return false; }

namespace gpu {
namespace {
[[noreturn]] void no_gpu() { throw std::runtime_error("[gpu] tessera was built without CUDA."); }
}  // namespace
void* malloc(size_t) { no_gpu(); }
void free(void*, size_t) {}
void adopt(void*, std::function<void()>) { no_gpu(); }
void mark_exported(void*) {}
void note_stream_use(void*, int) {}
MemoryInfo memory_info() { return {}; }
void reset_peak_memory() {}
size_t set_memory_limit(size_t) { return 0; }
size_t set_cache_limit(size_t) { return 0; }
void clear_cache() {}
void copy_to_host(void*, const void*, size_t) { no_gpu(); }
void copy_to_device(void*, const void*, size_t) { no_gpu(); }
void set_stream(int) {}
int get_stream() { return -1; }
void synchronize_stream(int) {}
bool jit_available() { return false; }
void synchronize_all() {}
Fence record_fence(int) { return nullptr; }
void stream_wait_fence(const Fence&, int) {}
void wait_fence(const Fence&) {}
size_t sync_count() { return 0; }
TimingMark timing_mark(int) { return nullptr; }
float elapsed_ms(const TimingMark&, const TimingMark&) { return 0.0f; }
}  // namespace gpu
}  // namespace tessera
