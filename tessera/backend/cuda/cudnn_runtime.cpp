// cuDNN runtime of the backend: opens libcudnn.so.9 at first use (the frontend's dynamic-loading
// mode resolves every cuDNN call through that handle), one cuDNN handle per device, the enable
// switch, counters, and the cache of built graphs executed with workspace from the device pool.
#include "tessera/backend/cuda/cudnn.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#ifdef TESSERA_CUDNN_FRONTEND

#include <dlfcn.h>

#include <cstdio>
#include <unordered_map>

#include "tessera/backend/cuda/cudnn_graph.h"
#include "tessera/backend/gpu.h"

// The frontend's dynamic-loading mode reads cuDNN's symbols from this handle (set in load()).
namespace cudnn_frontend {
void* cudnn_dlhandle = nullptr;
}  // namespace cudnn_frontend

#endif

namespace tessera::cuda {

namespace {

// -1: not decided yet (TESSERA_CUDNN read on first use), 0 off, 1 on.
std::atomic<int> g_enabled{-1};

bool enabled() {
  int e = g_enabled.load(std::memory_order_acquire);
  if (e < 0) {
    const char* v = std::getenv("TESSERA_CUDNN");
    e = (v && std::strcmp(v, "0") == 0) ? 0 : 1;
    int expected = -1;
    g_enabled.compare_exchange_strong(expected, e);
    e = g_enabled.load(std::memory_order_acquire);
  }
  return e == 1;
}

std::atomic<size_t> g_counts[6];  // sdpa_run, sdpa_declined, conv_run, conv_declined, built, failed

}  // namespace

bool set_cudnn_enabled(bool on) {
  bool prev = enabled();
  g_enabled.store(on ? 1 : 0, std::memory_order_release);
  return prev;
}

CudnnStats cudnn_stats() {
  CudnnStats s;
  s.sdpa_runs = g_counts[0].load();
  s.sdpa_declined = g_counts[1].load();
  s.conv_runs = g_counts[2].load();
  s.conv_declined = g_counts[3].load();
  s.graphs_built = g_counts[4].load();
  s.graphs_failed = g_counts[5].load();
  return s;
}

#ifndef TESSERA_CUDNN_FRONTEND

bool cudnn_compiled() { return false; }
bool cudnn_available() { return false; }
int cudnn_version() { return 0; }
std::string cudnn_status() {
  return "[cudnn] built without the cuDNN path (cudnn.h or the cudnn-frontend headers were not found by CMake)";
}
bool cudnn_sdpa(int, const SdpaArgs&, cudaStream_t) {
  g_counts[1].fetch_add(1);
  return false;
}
bool cudnn_conv(int, const CudnnConvArgs&, cudaStream_t) {
  g_counts[3].fetch_add(1);
  return false;
}

#else

void cudnn_count(CudnnCounter c) { g_counts[static_cast<int>(c)].fetch_add(1); }

namespace {

bool verbose() {
  static const bool v = [] {
    const char* e = std::getenv("TESSERA_CUDNN_VERBOSE");
    return e && *e && std::strcmp(e, "0") != 0;
  }();
  return v;
}

struct Library {
  bool ok = false;
  int version = 0;
  std::string error;
};

// The frontend opens the CUDA runtime by name for its own calls: point it at the one this process
// already uses (a second major version on the loader path would otherwise be ambiguous).
void pin_cudart_for_frontend() {
  Dl_info info{};
  std::string name = "libcudart.so." + std::to_string(CUDART_VERSION / 1000);
  if (dladdr(reinterpret_cast<void*>(&cudaGetDevice), &info) && info.dli_fname &&
      std::strstr(info.dli_fname, "libcudart")) {
    name = info.dli_fname;
  }
  setenv("CUDNN_FRONTEND_CUDART_LIB_NAME", name.c_str(), 0);
}

const Library& library() {
  static const Library lib = [] {
    Library r;
    std::string names[3];
    int n = 0;
    if (const char* env = std::getenv("TESSERA_CUDNN_LIBRARY"); env && *env) names[n++] = env;
    names[n++] = TESSERA_CUDNN_LIBRARY;
    names[n++] = std::string(TESSERA_CUDNN_LIBRARY_DIR) + "/" + TESSERA_CUDNN_LIBRARY;
    void* h = nullptr;
    std::string errors;
    for (int i = 0; i < n && !h; ++i) {
      dlerror();
      h = dlopen(names[i].c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        const char* e = dlerror();
        errors += (errors.empty() ? "" : "; ") + std::string(e ? e : names[i] + ": unknown error");
      }
    }
    if (!h) {
      r.error = "[cudnn] cannot open " + std::string(TESSERA_CUDNN_LIBRARY) + ": " + errors;
      return r;
    }
    if (!dlsym(h, "cudnnGetVersion") || !dlsym(h, "cudnnBackendCreateDescriptor")) {
      r.error = "[cudnn] " + std::string(TESSERA_CUDNN_LIBRARY) + " lacks cudnnGetVersion / the backend API";
      return r;
    }
    pin_cudart_for_frontend();
    cudnn_frontend::cudnn_dlhandle = h;
    try {
      r.version = static_cast<int>(cudnn_frontend::detail::get_backend_version());
    } catch (const std::exception& e) {
      r.error = std::string("[cudnn] cudnnGetVersion failed: ") + e.what();
      return r;
    }
    if (r.version < 90000) {
      r.error = "[cudnn] cuDNN >= 9 needed, found version " + std::to_string(r.version);
      return r;
    }
    r.ok = true;
    return r;
  }();
  return lib;
}

// One mutex for handles, the graph cache and executions (a launch under it is short; builds are
// once per key).
std::mutex& cudnn_mutex() {
  static std::mutex m;
  return m;
}

// Handles per device ordinal (leaked with the process: destroying them at exit could run after
// the CUDA runtime is gone).
cudnnHandle_t device_handle(int device) {
  static auto* handles = new std::unordered_map<int, cudnnHandle_t>();
  auto it = handles->find(device);
  if (it != handles->end()) return it->second;
  cudnnHandle_t h = nullptr;
  cudnnStatus_t st = cudnn_frontend::detail::create_handle(&h);
  if (st != CUDNN_STATUS_SUCCESS) {
    throw std::runtime_error(std::string("[cudnn] cudnnCreate failed: ") + cudnn_frontend::detail::get_error_string(st));
  }
  handles->emplace(device, h);
  return h;
}

int current_device() {
  int d = 0;
  if (cudaGetDevice(&d) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return d;
}

constexpr size_t kMaxGraphs = 256;  // cached graphs (keys); the whole cache is dropped past this

}  // namespace

bool cudnn_compiled() { return true; }

bool cudnn_available() { return enabled() && library().ok; }

int cudnn_version() { return library().ok ? library().version : 0; }

std::string cudnn_status() {
  if (!enabled()) return "[cudnn] disabled (TESSERA_CUDNN=0 or set_cudnn_enabled(false))";
  return library().error;
}

std::shared_ptr<const CudnnGraph> cudnn_graph(const std::string& key,
                                              const std::function<std::shared_ptr<fe::graph::Graph>()>& make,
                                              bool exact_f32) {
  if (!cudnn_available()) return nullptr;
  int device = current_device();
  if (device < 0) return nullptr;
  std::string full = std::to_string(device) + "|" + key;
  static auto* cache = new std::unordered_map<std::string, std::shared_ptr<const CudnnGraph>>();
  std::lock_guard lk(cudnn_mutex());
  auto it = cache->find(full);
  if (it != cache->end()) return it->second->graph ? it->second : nullptr;
  auto entry = std::make_shared<CudnnGraph>();
  std::string why;
  try {
    cudnnHandle_t h = device_handle(device);
    auto g = make();
    fe::error_t e = g->validate();
    if (e.is_good()) e = g->build_operation_graph(h);
    if (e.is_good()) e = g->create_execution_plans({fe::HeurMode_t::A, fe::HeurMode_t::FALLBACK});
    if (e.is_good() && exact_f32) {
      g->deselect_numeric_notes({fe::NumericalNote_t::TENSOR_CORE, fe::NumericalNote_t::DOWN_CONVERT_INPUTS});
    }
    if (e.is_good()) e = g->check_support(h);
    if (e.is_good()) e = g->build_plans(h);
    if (e.is_good()) e = g->get_workspace_size(entry->workspace);
    if (e.is_good()) {
      entry->graph = std::move(g);
    } else {
      why = e.get_message();
    }
  } catch (const std::exception& ex) {
    why = ex.what();
  }
  if (entry->graph) {
    g_counts[4].fetch_add(1);
  } else {
    g_counts[5].fetch_add(1);
    if (verbose()) std::fprintf(stderr, "[cudnn] graph %s not supported, falling back: %s\n", full.c_str(), why.c_str());
  }
  if (cache->size() >= kMaxGraphs) cache->clear();
  cache->emplace(full, entry);
  return entry->graph ? entry : nullptr;
}

bool cudnn_execute(const CudnnGraph& g, std::unordered_map<int64_t, void*>& pack, cudaStream_t st) {
  size_t n = static_cast<size_t>(g.workspace);
  void* ws = n ? gpu::malloc(n) : nullptr;
  std::string why;
  bool ok = false;
  try {
    std::lock_guard lk(cudnn_mutex());
    cudnnHandle_t h = device_handle(current_device());
    cudnnStatus_t s = cudnn_frontend::detail::set_stream(h, st);
    if (s != CUDNN_STATUS_SUCCESS) {
      why = std::string("cudnnSetStream: ") + cudnn_frontend::detail::get_error_string(s);
    } else {
      fe::error_t e = g.graph->execute(h, pack, ws);
      ok = e.is_good();
      if (!ok) why = e.get_message();
    }
  } catch (const std::exception& ex) {
    why = ex.what();
  }
  if (ws) gpu::free(ws, n);  // stream-ordered pool: reused only after this stream's queued work
  if (!ok && verbose()) std::fprintf(stderr, "[cudnn] execute failed, falling back: %s\n", why.c_str());
  return ok;
}

#endif  // TESSERA_CUDNN_FRONTEND

}  // namespace tessera::cuda
