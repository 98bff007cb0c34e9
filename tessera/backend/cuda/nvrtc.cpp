// NVRTC compilation (libnvrtc opened with dlopen on first use, so builds and runs without a GPU
// never load it), the memory and disk kernel caches, and driver-API module loading and launches
// (driver entry points come from the CUDA runtime, so libcuda is not a link dependency).
#include "tessera/backend/cuda/nvrtc.h"

#include <cuda.h>
#include <dlfcn.h>
#include <nvrtc.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "tessera/backend/cuda/runtime.h"

#ifndef TESSERA_NVRTC_LIBRARY
#define TESSERA_NVRTC_LIBRARY "libnvrtc.so"
#endif
#ifndef TESSERA_CUDA_LIBRARY_DIR
#define TESSERA_CUDA_LIBRARY_DIR "/usr/local/cuda/lib64"
#endif
#ifndef TESSERA_CUDA_INCLUDE_DIRS
#define TESSERA_CUDA_INCLUDE_DIRS ""
#endif

namespace tessera::cuda {

namespace {

// ---- NVRTC, opened on demand --------------------------------------------------------------------

struct Nvrtc {
  bool ok = false;
  std::string error;
  decltype(&::nvrtcVersion) version = nullptr;
  decltype(&::nvrtcGetErrorString) error_string = nullptr;
  decltype(&::nvrtcCreateProgram) create = nullptr;
  decltype(&::nvrtcCompileProgram) compile = nullptr;
  decltype(&::nvrtcGetProgramLogSize) log_size = nullptr;
  decltype(&::nvrtcGetProgramLog) log = nullptr;
  decltype(&::nvrtcGetCUBINSize) cubin_size = nullptr;
  decltype(&::nvrtcGetCUBIN) cubin = nullptr;
  decltype(&::nvrtcDestroyProgram) destroy = nullptr;
  int major = 0, minor = 0;
};

template <typename F>
bool load_symbol(void* lib, const char* name, F& f) {
  f = reinterpret_cast<F>(dlsym(lib, name));
  return f != nullptr;
}

const Nvrtc& nvrtc() {
  static const Nvrtc n = [] {
    Nvrtc r;
    // The versioned soname of the toolkit we were built with, then its full path, then any.
    const std::string dir_lib = std::string(TESSERA_CUDA_LIBRARY_DIR) + "/" + TESSERA_NVRTC_LIBRARY;
    void* lib = nullptr;
    for (const char* name : {TESSERA_NVRTC_LIBRARY, dir_lib.c_str(), "libnvrtc.so"}) {
      if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    }
    if (!lib) {
      const char* e = dlerror();
      r.error = std::string("[nvrtc] cannot open ") + TESSERA_NVRTC_LIBRARY + ": " + (e ? e : "unknown error");
      return r;
    }
    r.ok = load_symbol(lib, "nvrtcVersion", r.version) && load_symbol(lib, "nvrtcGetErrorString", r.error_string) &&
           load_symbol(lib, "nvrtcCreateProgram", r.create) && load_symbol(lib, "nvrtcCompileProgram", r.compile) &&
           load_symbol(lib, "nvrtcGetProgramLogSize", r.log_size) && load_symbol(lib, "nvrtcGetProgramLog", r.log) &&
           load_symbol(lib, "nvrtcGetCUBINSize", r.cubin_size) && load_symbol(lib, "nvrtcGetCUBIN", r.cubin) &&
           load_symbol(lib, "nvrtcDestroyProgram", r.destroy);
    if (!r.ok) {
      r.error = "[nvrtc] the NVRTC library lacks an expected function (too old?).";
      return r;
    }
    r.version(&r.major, &r.minor);
    return r;
  }();
  return n;
}

const Nvrtc& nvrtc_checked() {
  auto& n = nvrtc();
  if (!n.ok) throw std::runtime_error(n.error);
  return n;
}

void check_nvrtc(nvrtcResult r, const char* expr, const char* file, int line) {
  if (r != NVRTC_SUCCESS) {
    throw std::runtime_error(std::string("[nvrtc] ") + file + ":" + std::to_string(line) + ": " + expr +
                             " failed: " + nvrtc().error_string(r));
  }
}
#define TESSERA_NVRTC_CHECK(expr) check_nvrtc((expr), #expr, __FILE__, __LINE__)

// Options of every compilation (part of the cache key): headers of the toolkit we were built with
// (cuda_fp16.h, cuda_bf16.h, cooperative_groups.h; '|'-separated), or TESSERA_CUDA_INCLUDE at run time.
std::vector<std::string> compile_options(int arch) {
  std::vector<std::string> opts{"--gpu-architecture=sm_" + std::to_string(arch), "--std=c++17", "-default-device"};
  std::string dirs = TESSERA_CUDA_INCLUDE_DIRS;
  if (const char* e = std::getenv("TESSERA_CUDA_INCLUDE")) dirs = e;
  std::stringstream ss(dirs);
  for (std::string d; std::getline(ss, d, '|');) {
    if (d.empty()) continue;
    opts.push_back("-I" + d);
    // CUDA 13 keeps libcu++ (cuda/std/..., needed by cooperative_groups.h) in include/cccl.
    std::error_code ec;
    if (std::filesystem::is_directory(d + "/cccl", ec)) opts.push_back("-I" + d + "/cccl");
  }
  return opts;
}

// ---- driver API through the runtime's entry points ------------------------------------------------

struct Driver {
  decltype(&::cuModuleLoadData) load = nullptr;
  decltype(&::cuModuleGetFunction) get_function = nullptr;
  decltype(&::cuLaunchKernel) launch = nullptr;
  decltype(&::cuFuncSetAttribute) set_attribute = nullptr;
  decltype(&::cuGetErrorName) error_name = nullptr;
};

template <typename F>
void driver_symbol(const char* name, F& f) {
  void* p = nullptr;
  cudaDriverEntryPointQueryResult q{};
  TESSERA_CUDA_CHECK(cudaGetDriverEntryPointByVersion(name, &p, 12000, cudaEnableDefault, &q));
  if (q != cudaDriverEntryPointSuccess || !p) {
    throw std::runtime_error(std::string("[cuda] the CUDA driver lacks ") + name + ".");
  }
  f = reinterpret_cast<F>(p);
}

const Driver& driver() {
  static const Driver d = [] {
    Driver r;
    driver_symbol("cuModuleLoadData", r.load);
    driver_symbol("cuModuleGetFunction", r.get_function);
    driver_symbol("cuLaunchKernel", r.launch);
    driver_symbol("cuFuncSetAttribute", r.set_attribute);
    driver_symbol("cuGetErrorName", r.error_name);
    return r;
  }();
  return d;
}

void check_driver(CUresult r, const char* expr, const char* file, int line) {
  if (r != CUDA_SUCCESS) {
    const char* name = nullptr;
    driver().error_name(r, &name);
    throw std::runtime_error(std::string("[cuda] ") + file + ":" + std::to_string(line) + ": " + expr +
                             " failed: " + (name ? name : "unknown error") + " (" + std::to_string(r) + ")");
  }
}
#define TESSERA_CU_CHECK(expr) check_driver((expr), #expr, __FILE__, __LINE__)

// Makes the runtime's primary context current on this thread (driver calls need one).
void ensure_context() {
  thread_local bool done = false;
  if (!done) {
    TESSERA_CUDA_CHECK(cudaFree(nullptr));
    done = true;
  }
}

int device_arch() {
  int dev = 0, major = 0, minor = 0;
  TESSERA_CUDA_CHECK(cudaGetDevice(&dev));
  TESSERA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  TESSERA_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  return major * 10 + minor;
}

// ---- caches ---------------------------------------------------------------------------------------

// 128-bit FNV-1a (two 64-bit lanes with different offsets) as 32 hex digits: a stable file name.
std::string hash_hex(const std::string& s) {
  uint64_t h1 = 14695981039346656037ull, h2 = 1099511628211ull * 31ull + 7ull;
  for (unsigned char c : s) {
    h1 = (h1 ^ c) * 1099511628211ull;
    h2 = (h2 ^ (c + 0x9e)) * 0x100000001b3ull;
  }
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h1),
                static_cast<unsigned long long>(h2));
  return buf;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<std::string, JitFunction> loaded;  // key: hash + kernel name
  JitStats stats;
};

Cache& cache() {
  static auto* c = new Cache();  // modules stay loaded for the life of the process
  return *c;
}

std::vector<char> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return {};
  return std::vector<char>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Best effort: a cache folder that cannot be written only costs a recompilation next time.
void write_file_atomic(const std::filesystem::path& p, const std::vector<char>& bytes) {
  std::error_code ec;
  std::filesystem::create_directories(p.parent_path(), ec);
  if (ec) return;
  auto tmp = p;
  tmp += ".tmp" + std::to_string(reinterpret_cast<uintptr_t>(&bytes));
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) return;
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) return;
  }
  std::filesystem::rename(tmp, p, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

JitFunction load_function(const std::vector<char>& cubin, const std::string& name, bool throw_on_error) {
  ensure_context();
  CUmodule mod = nullptr;
  CUresult r = driver().load(&mod, cubin.data());
  if (r != CUDA_SUCCESS && !throw_on_error) return nullptr;
  TESSERA_CU_CHECK(r);
  CUfunction f = nullptr;
  TESSERA_CU_CHECK(driver().get_function(&f, mod, name.c_str()));
  return f;
}

}  // namespace

bool nvrtc_available() { return nvrtc().ok; }

std::vector<char> nvrtc_compile(const std::string& source, int arch) {
  auto& n = nvrtc_checked();
  nvrtcProgram prog = nullptr;
  TESSERA_NVRTC_CHECK(n.create(&prog, source.c_str(), "tessera_kernel.cu", 0, nullptr, nullptr));
  struct Destroy {
    nvrtcProgram* p;
    ~Destroy() { nvrtc().destroy(p); }
  } destroy{&prog};
  auto opts = compile_options(arch);
  std::vector<const char*> copts;
  for (auto& o : opts) copts.push_back(o.c_str());
  nvrtcResult r = n.compile(prog, static_cast<int>(copts.size()), copts.data());
  if (r != NVRTC_SUCCESS) {
    size_t len = 0;
    std::string log;
    if (n.log_size(prog, &len) == NVRTC_SUCCESS && len > 1) {
      log.resize(len);
      n.log(prog, log.data());
      log.resize(len - 1);
    }
    throw std::runtime_error(std::string("[nvrtc] compilation failed (") + n.error_string(r) + "):\n" + log);
  }
  size_t size = 0;
  TESSERA_NVRTC_CHECK(n.cubin_size(prog, &size));
  std::vector<char> cubin(size);
  TESSERA_NVRTC_CHECK(n.cubin(prog, cubin.data()));
  return cubin;
}

std::string jit_cache_dir() {
  if (const char* d = std::getenv("TESSERA_KERNEL_CACHE")) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/tessera/kernels";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/tessera/kernels";
  return "";
}

JitFunction jit_kernel(const std::string& source, const std::string& name) {
  const int arch = device_arch();
  auto& n = nvrtc_checked();
  std::string key_text = source + '\n' + name + '\n';
  for (auto& o : compile_options(arch)) key_text += o + '\n';
  key_text += "nvrtc " + std::to_string(n.major) + "." + std::to_string(n.minor);
  const std::string key = hash_hex(key_text);
  auto& c = cache();
  std::lock_guard lk(c.mu);  // compiles are rare; one at a time keeps the counters and files simple
  if (auto it = c.loaded.find(key); it != c.loaded.end()) {
    ++c.stats.memory_hits;
    return it->second;
  }
  const std::string dir = jit_cache_dir();
  const std::filesystem::path file = dir.empty() ? std::filesystem::path() : std::filesystem::path(dir) / (key + ".cubin");
  JitFunction f = nullptr;
  if (!dir.empty()) {
    auto bytes = read_file(file);
    if (!bytes.empty() && (f = load_function(bytes, name, false))) ++c.stats.disk_hits;
  }
  if (!f) {
    auto cubin = nvrtc_compile(source, arch);
    ++c.stats.compiles;
    f = load_function(cubin, name, true);
    if (!dir.empty()) write_file_atomic(file, cubin);
  }
  c.loaded.emplace(key, f);
  return f;
}

void jit_launch(JitFunction f, const unsigned grid[3], const unsigned block[3], size_t shared_mem, void** args,
                CUstream_st* stream) {
  ensure_context();
  constexpr size_t kDefaultSharedLimit = 48 * 1024;
  if (shared_mem > kDefaultSharedLimit) {
    TESSERA_CU_CHECK(driver().set_attribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                            static_cast<int>(shared_mem)));
  }
  TESSERA_CU_CHECK(driver().launch(f, grid[0], grid[1], grid[2], block[0], block[1], block[2],
                                   static_cast<unsigned>(shared_mem), stream, args, nullptr));
}

JitStats jit_stats() {
  auto& c = cache();
  std::lock_guard lk(c.mu);
  return c.stats;
}

void jit_clear_memory_cache() {
  auto& c = cache();
  std::lock_guard lk(c.mu);
  c.loaded.clear();
}

}  // namespace tessera::cuda

namespace tessera::gpu {
bool jit_available() { return cuda::nvrtc_available(); }
}  // namespace tessera::gpu
