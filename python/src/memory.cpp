// Bindings for tessera/memory.h (memory counters and limits) and the OutOfMemory -> MemoryError map.
#include "utils.h"

void init_memory(nb::module_& m) {
  m.def("get_active_memory", &tessera::get_active_memory, "Bytes held by live arrays.");
  m.def("get_peak_memory", &tessera::get_peak_memory, "Highest active memory since start or reset_peak_memory.");
  m.def("reset_peak_memory", &tessera::reset_peak_memory, "Resets the peak memory counter.");
  m.def("get_cache_memory", &tessera::get_cache_memory, "Bytes kept by the allocator for reuse.");
  m.def("get_memory_limit", &tessera::get_memory_limit, "The memory limit in bytes.");
  m.def("set_memory_limit", &tessera::set_memory_limit, "limit"_a, "Sets the memory limit; returns the old one.");
  m.def("set_cache_limit", &tessera::set_cache_limit, "limit"_a, "Sets the cache limit; returns the old one.");
  m.def("clear_cache", &tessera::clear_cache, "Frees the allocator's cache.");
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const tessera::OutOfMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });
}
