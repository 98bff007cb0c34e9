// Memory: the caching allocator behind every array buffer, and the memory functions users see.
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>

#include "tessera/device.h"

namespace tessera {

// Thrown when an allocation would pass the memory limit or the system has no memory left.
// Python maps it to MemoryError.
class OutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace allocator {

// A block of host memory (64-byte aligned). The CUDA backend adds a device side (see DESIGN.md).
struct Buffer {
  void* ptr{nullptr};
  size_t size{0};  // bytes requested
};

Buffer malloc(size_t size);  // never returns null for size > 0; throws OutOfMemory
void free(Buffer b);         // returns the block to the cache (or the system past the cache limit)

}  // namespace allocator

// The memory functions speak of the default device: with a GPU as default device they report and
// limit the device pool (GPU buffers and device copies of host arrays); with the CPU as default,
// host buffers. The _on variants ask one side explicitly. clear_cache empties both caches.
size_t get_active_memory();   // bytes held by live buffers
size_t get_peak_memory();     // highest active since start or the last reset
void reset_peak_memory();
size_t get_cache_memory();    // bytes kept for reuse
size_t get_memory_limit();
size_t set_memory_limit(size_t limit);  // returns the previous limit
size_t set_cache_limit(size_t limit);   // returns the previous limit; 0 disables caching
void clear_cache();
size_t get_active_memory_on(const Device& d);
size_t get_peak_memory_on(const Device& d);
size_t get_cache_memory_on(const Device& d);

}  // namespace tessera
