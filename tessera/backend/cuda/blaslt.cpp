// cuBLASLt GEMM with a per-problem cache of descriptors and the heuristic's first algorithm; the
// cuBLAS fallback (see blaslt.h).
#include "tessera/backend/cuda/blaslt.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <atomic>
#include <map>
#include <mutex>

#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

// Largest power of two (at most 256) dividing the byte address of every batch's matrix.
int64_t alignment(const void* p, int64_t batch_stride_bytes) {
  uint64_t v = reinterpret_cast<uintptr_t>(p) | static_cast<uint64_t>(batch_stride_bytes) | 256u;
  return static_cast<int64_t>(v & (~v + 1));
}

int64_t type_size(cudaDataType_t t) { return t == CUDA_R_32F ? 4 : 2; }

struct Plan {
  cublasLtMatmulDesc_t desc{nullptr};
  cublasLtMatrixLayout_t la{nullptr}, lb{nullptr}, lc{nullptr};
  cublasLtMatmulAlgo_t algo{};
  bool ok{false};
};

using Key = std::array<int64_t, 19>;  // ..., alignments of A, B, C; bias epilogue, its alignment

void set_batch(cublasLtMatrixLayout_t l, int64_t batch, int64_t stride) {
  if (batch <= 1) return;
  int32_t b = static_cast<int32_t>(batch);
  TESSERA_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &b, sizeof(b)));
  TESSERA_CUBLAS_CHECK(
      cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof(stride)));
}

// Autotune of few-row products (decode linear layers): on first use of a problem, cuBLAS's
// cublasGemmEx and up to kTuneCandidates cuBLASLt heuristic algorithms are each timed and the
// fastest is kept in the plan (cuBLAS winning gives a plan without an algorithm: gemm_lt then
// returns false and the caller runs cuBLAS). TESSERA_GEMM_AUTOTUNE=0 turns it off, =2 also prints
// the timings to stderr. Only when D is write-only (beta 0), one batch, and the stream is not
// being captured into a CUDA graph.
constexpr int kTuneCandidates = 16;
constexpr int64_t kTuneMaxRows = 16;

int autotune_mode() {
  static const int mode = [] {
    const char* v = std::getenv("TESSERA_GEMM_AUTOTUNE");
    if (!v || !*v) return 1;
    return std::atoi(v);
  }();
  return mode;
}

bool tunable(const GemmArgs& g, const LtContext& ctx) {
  if (!gemm_autotunes(g)) return false;
  return !stream_capturing(ctx.stream);
}

void autotune(const GemmArgs& g, const LtContext& ctx, Plan& p, const cublasLtMatmulHeuristicResult_t* res,
              int found) {
  float alpha = static_cast<float>(g.alpha), beta = 0.0f;
  double t_cublas = time_gpu_runs(
      [&] {
        gemm_cublas(g);
        return true;
      },
      ctx.stream);
  double best = INFINITY;
  int best_i = -1;
  for (int i = 0; i < found; ++i) {
    if (res[i].state != CUBLAS_STATUS_SUCCESS || res[i].workspaceSize > ctx.workspace_bytes) continue;
    double t = time_gpu_runs(
        [&] {
          return cublasLtMatmul(ctx.handle, p.desc, &alpha, g.a, p.la, g.b, p.lb, &beta, g.c, p.lc, g.c, p.lc,
                                &res[i].algo, ctx.workspace, ctx.workspace_bytes, ctx.stream) == CUBLAS_STATUS_SUCCESS;
        },
        ctx.stream);
    if (autotune_mode() >= 2) {
      std::fprintf(stderr, "[gemm] autotune m=%lld n=%lld k=%lld: cuBLASLt #%d %.2f us\n", static_cast<long long>(g.m),
                   static_cast<long long>(g.n), static_cast<long long>(g.k), i, t * 1e6);
    }
    if (t < best) best = t, best_i = i;
  }
  if (autotune_mode() >= 2) {
    std::fprintf(stderr, "[gemm] autotune m=%lld n=%lld k=%lld: cuBLAS %.2f us, best cuBLASLt #%d %.2f us\n",
                 static_cast<long long>(g.m), static_cast<long long>(g.n), static_cast<long long>(g.k), t_cublas * 1e6,
                 best_i, best * 1e6);
  }
  if (best_i < 0 || t_cublas <= best) {
    p.ok = false;  // cuBLAS was as fast: gemm_lt declines, the caller runs it
  } else {
    p.algo = res[best_i].algo;
  }
}

Plan make_plan(const GemmArgs& g, const LtContext& ctx, const Key& key) {
  Plan p;
  TESSERA_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, g.compute, CUDA_R_32F));
  TESSERA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &g.ta, sizeof(g.ta)));
  TESSERA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &g.tb, sizeof(g.tb)));
  if (g.bias) {
    // The heuristic reads the bias pointer's alignment; each call sets its own pointer.
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    int32_t bias_type = g.type;
    TESSERA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    TESSERA_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
    TESSERA_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof(g.bias)));
  }
  // Stored shapes (before op): A is m x k or k x m, B is k x n or n x k.
  bool at = g.ta != CUBLAS_OP_N, bt = g.tb != CUBLAS_OP_N;
  TESSERA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.la, g.type, at ? g.k : g.m, at ? g.m : g.k, g.lda));
  TESSERA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.lb, g.type, bt ? g.n : g.k, bt ? g.k : g.n, g.ldb));
  TESSERA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.lc, g.type, g.m, g.n, g.ldc));
  set_batch(p.la, g.batch, g.sa);
  set_batch(p.lb, g.batch, g.sb);
  set_batch(p.lc, g.batch, g.sc);
  cublasLtMatmulPreference_t pref;
  TESSERA_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  uint64_t ws = ctx.workspace_bytes;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  uint32_t al[3] = {static_cast<uint32_t>(key[14]), static_cast<uint32_t>(key[15]), static_cast<uint32_t>(key[16])};
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al[0], sizeof(uint32_t));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al[1], sizeof(uint32_t));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al[2], sizeof(uint32_t));
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al[2], sizeof(uint32_t));
  // Split-K partial sums reduced in the output type (bf16/f16) lose ~2 digits at K ~ 1000: float reductions only.
  uint32_t schemes = CUBLASLT_REDUCTION_SCHEME_MASK & ~CUBLASLT_REDUCTION_SCHEME_OUTPUT_TYPE;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &schemes, sizeof(schemes));
  cublasLtMatmulHeuristicResult_t res[kTuneCandidates]{};
  int found = 0;
  bool tune = tunable(g, ctx);
  cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(ctx.handle, p.desc, p.la, p.lb, p.lc, p.lc, pref,
                                                     tune ? kTuneCandidates : 1, res, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (st == CUBLAS_STATUS_SUCCESS && found > 0 && res[0].state == CUBLAS_STATUS_SUCCESS) {
    p.algo = res[0].algo;
    p.ok = true;
  }
  if (tune && p.ok) autotune(g, ctx, p, res, found);
  return p;
}

void destroy(Plan& p) {
  cublasLtMatrixLayoutDestroy(p.la);
  cublasLtMatrixLayoutDestroy(p.lb);
  cublasLtMatrixLayoutDestroy(p.lc);
  cublasLtMatmulDescDestroy(p.desc);
}

class PlanCache {
 public:
  // The plan for key, made on first use; cached plans live as long as the process. Past kMaxPlans
  // problems a plan is made for the call only (*cached false: the caller destroys it).
  Plan get(const GemmArgs& g, const LtContext& ctx, const Key& key, bool* cached) {
    std::lock_guard lk(mu_);
    auto it = plans_.find(key);
    *cached = true;
    if (it != plans_.end()) return it->second;
    Plan p = make_plan(g, ctx, key);
    if (plans_.size() >= kMaxPlans) {
      *cached = false;
      return p;
    }
    plans_.emplace(key, p);
    return p;
  }

 private:
  static constexpr size_t kMaxPlans = 4096;
  std::mutex mu_;
  std::map<Key, Plan> plans_;
};

PlanCache& plan_cache() {
  static auto* c = new PlanCache();  // leaked with the process, like the handles
  return *c;
}

std::atomic<size_t> bias_runs{0};

}  // namespace

bool stream_capturing(cudaStream_t st) {
  cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(st, &cap) != cudaSuccess) {
    cudaGetLastError();
    return true;  // unknown: behave as if capturing (no timing, no synchronization)
  }
  return cap != cudaStreamCaptureStatusNone;
}

// Seconds per run of `run` (false: it did not launch) on stream st: one warm-up, then the best of
// three batches of kTuneReps runs bracketed by events; +inf when it failed.
double time_gpu_runs(const std::function<bool()>& run, cudaStream_t st) {
  constexpr int kTuneReps = 4;
  if (!run()) return INFINITY;
  cudaEvent_t e0, e1;
  TESSERA_CUDA_CHECK(cudaEventCreate(&e0));
  TESSERA_CUDA_CHECK(cudaEventCreate(&e1));
  double best = INFINITY;
  for (int b = 0; b < 3; ++b) {
    TESSERA_CUDA_CHECK(cudaEventRecord(e0, st));
    bool ok = true;
    for (int r = 0; r < kTuneReps && ok; ++r) ok = run();
    TESSERA_CUDA_CHECK(cudaEventRecord(e1, st));
    TESSERA_CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    TESSERA_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    if (ok) best = std::min(best, ms * 1e-3 / kTuneReps);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return best;
}

bool gemm_autotunes(const GemmArgs& g) {
  return autotune_mode() != 0 && g.batch == 1 && g.beta == 0.0 && std::min(g.m, g.n) <= kTuneMaxRows;
}
size_t bias_epilogue_count() { return bias_runs.load(std::memory_order_relaxed); }

bool gemm_lt(const GemmArgs& g) {
  auto ctx = cublaslt_context();
  int64_t es = type_size(g.type);
  Key key{g.ta, g.tb, g.m, g.n, g.k, g.lda, g.ldb, g.ldc, g.batch > 1 ? g.sa : 0, g.batch > 1 ? g.sb : 0,
          g.batch > 1 ? g.sc : 0, g.batch, g.type, g.compute, alignment(g.a, g.batch > 1 ? g.sa * es : 0), alignment(g.b, g.batch > 1 ? g.sb * es : 0),
          alignment(g.c, g.batch > 1 ? g.sc * es : 0), g.bias != nullptr, g.bias ? alignment(g.bias, 0) : 0};
  bool cached = true;
  Plan p = plan_cache().get(g, ctx, key, &cached);
  cublasStatus_t st = CUBLAS_STATUS_NOT_SUPPORTED;
  float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
  if (p.ok && g.bias) {
    // A cached bias plan's descriptor is shared: its pointer is set and used under one lock
    // (cublasLtMatmul reads the descriptor while it queues the kernel).
    static std::mutex bias_mu;
    std::lock_guard lk(bias_mu);
    st = cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof(g.bias));
    if (st == CUBLAS_STATUS_SUCCESS) {
      st = cublasLtMatmul(ctx.handle, p.desc, &alpha, g.a, p.la, g.b, p.lb, &beta, g.c, p.lc, g.c, p.lc, &p.algo,
                          ctx.workspace, ctx.workspace_bytes, ctx.stream);
    }
    if (st == CUBLAS_STATUS_SUCCESS) bias_runs.fetch_add(1, std::memory_order_relaxed);
  } else if (p.ok) {
    st = cublasLtMatmul(ctx.handle, p.desc, &alpha, g.a, p.la, g.b, p.lb, &beta, g.c, p.lc, g.c, p.lc, &p.algo,
                        ctx.workspace, ctx.workspace_bytes, ctx.stream);
  }
  if (!cached) destroy(p);
  if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED) {
    throw_cublas_error(st, "cublasLtMatmul", __FILE__, __LINE__);
  }
  return st == CUBLAS_STATUS_SUCCESS;
}

void gemm_cublas(const GemmArgs& g) {
  // Scalars in the compute precision: double for 64F, cuComplex for complex64, float otherwise.
  float fa = static_cast<float>(g.alpha), fb = static_cast<float>(g.beta);
  double da = g.alpha, db = g.beta;
  cuComplex ca = make_cuComplex(fa, 0.0f), cb = make_cuComplex(fb, 0.0f);
  const void* alpha = &fa;
  const void* beta = &fb;
  if (g.compute == CUBLAS_COMPUTE_64F) {
    alpha = &da;
    beta = &db;
  } else if (g.type == CUDA_C_32F) {
    alpha = &ca;
    beta = &cb;
  }
  if (g.batch == 1) {  // the plain entry point (what frameworks call for one product)
    TESSERA_CUBLAS_CHECK(cublasGemmEx(cublas_handle(), g.ta, g.tb, static_cast<int>(g.m), static_cast<int>(g.n),
                                      static_cast<int>(g.k), alpha, g.a, g.type, static_cast<int>(g.lda), g.b, g.type,
                                      static_cast<int>(g.ldb), beta, g.c, g.type, static_cast<int>(g.ldc), g.compute,
                                      CUBLAS_GEMM_DEFAULT));
    return;
  }
  TESSERA_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
      cublas_handle(), g.ta, g.tb, static_cast<int>(g.m), static_cast<int>(g.n), static_cast<int>(g.k), alpha, g.a,
      g.type, static_cast<int>(g.lda), g.sa, g.b, g.type, static_cast<int>(g.ldb), g.sb, beta, g.c, g.type,
      static_cast<int>(g.ldc), g.sc, static_cast<int>(g.batch), g.compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace tessera::cuda
