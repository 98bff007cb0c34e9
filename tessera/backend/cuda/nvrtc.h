// Runtime compilation of CUDA C++ with NVRTC (libnvrtc is opened on the first request) and kernel
// launches through the driver API; kernels are cached in memory and as cubin files on disk.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

struct CUfunc_st;
struct CUstream_st;

namespace tessera::cuda {

using JitFunction = CUfunc_st*;

// Whether libnvrtc can be opened (opens it on the first call).
bool nvrtc_available();

// The cubin of `source` for sm_<arch> (e.g. 90). Throws std::runtime_error "[nvrtc] ..." carrying
// the compile log on errors. Works without a GPU.
std::vector<char> nvrtc_compile(const std::string& source, int arch);

// The extern "C" kernel `name` of `source` for the current device: from the memory cache, else
// the disk cache (TESSERA_KERNEL_CACHE, else $XDG_CACHE_HOME or ~/.cache /tessera/kernels/
// <hash>.cubin keyed by source, options, arch and NVRTC version), else compiled by NVRTC.
JitFunction jit_kernel(const std::string& source, const std::string& name);

// Launches f with grid/block in blocks/threads on `stream` (args: pointers to each parameter).
void jit_launch(JitFunction f, const unsigned grid[3], const unsigned block[3], size_t shared_mem, void** args,
                CUstream_st* stream);

// Counters of jit_kernel requests since start-up (for tests and tuning).
struct JitStats {
  size_t memory_hits = 0, disk_hits = 0, compiles = 0;
};
JitStats jit_stats();
// Forgets the loaded kernels (tests: the next request goes to the disk cache).
void jit_clear_memory_cache();
// The disk cache folder ("" when neither TESSERA_KERNEL_CACHE nor a home folder is set).
std::string jit_cache_dir();

}  // namespace tessera::cuda
