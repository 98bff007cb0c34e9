// eval_gpu of Matmul and AddMM: float16/bfloat16 through cuBLASLt (cached plans, the stream's workspace;
// AddMM's bias rows, f32 too, through its bias epilogue),
// few-row x @ W.T through a tensor-core GEMV when timed faster, few-row products, float32, float64 and complex64 through cuBLAS (float32 accumulation; TF32 only
// when TESSERA_ALLOW_TF32=1). Row- or column-major operands (transposed views) are used in place,
// batches by one stride (0 = broadcast) as one strided-batched call.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "tessera/backend/cuda/blaslt.h"
#include "tessera/backend/cuda/gemv_bf16.h"
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/primitives/linalg.h"

namespace tessera {

using namespace cuda;

namespace {

struct Operand {
  std::optional<array> holder;  // the operand or a contiguous copy of it
  const void* ptr{nullptr};
  bool col_major{false};
  int64_t ld{0};
  int64_t batch_stride{0};
};

// x (..., R, C) viewed as `batch` matrices: in place when the layout allows, else copied.
bool plan(const array& x, int64_t R, int64_t C, Operand& o) {
  int nd = x.ndim();
  int64_t sr = x.strides()[nd - 2], sc = x.strides()[nd - 1];
  if (sc == 1 && (sr >= C || R == 1)) {
    o.col_major = false;
    o.ld = R == 1 ? C : sr;
  } else if (sr == 1 && (sc >= R || C == 1)) {
    o.col_major = true;
    o.ld = C == 1 ? R : sc;
  } else {
    return false;
  }
  if (o.ld < 1) o.ld = 1;
  // Batch dims: all broadcast (stride 0), or one stride over the flattened batch.
  bool all_zero = true;
  for (int d = 0; d < nd - 2; ++d) all_zero &= x.shape(d) == 1 || x.strides()[d] == 0;
  if (all_zero) {
    o.batch_stride = 0;
    return true;
  }
  int64_t expect = -1, span = 1;
  for (int d = nd - 3; d >= 0; --d) {
    if (x.shape(d) == 1) continue;
    if (expect < 0) expect = x.strides()[d];
    if (x.strides()[d] != expect * span) return false;
    span *= x.shape(d);
  }
  o.batch_stride = expect;
  return true;
}

cudaDataType_t cuda_type(Dtype d) {
  return d == float16    ? CUDA_R_16F
         : d == bfloat16 ? CUDA_R_16BF
         : d == float64  ? CUDA_R_64F
         : d == complex64 ? CUDA_C_32F
                          : CUDA_R_32F;
}

bool gemm_dtype(Dtype d) { return d == float32 || d == float16 || d == bfloat16 || d == float64 || d == complex64; }

// Environment switch read once: unset or empty gives `otherwise`, "0" false, anything else true.
bool env_flag(const char* name, bool otherwise) {
  const char* v = std::getenv(name);
  if (!v || !*v) return otherwise;
  return std::strcmp(v, "0") != 0;
}

// float32 products may use TF32 tensor cores (10-bit mantissa inputs) only when asked.
bool allow_tf32() {
  static const bool on = env_flag("TESSERA_ALLOW_TF32", false);
  return on;
}

// cuBLASLt for 16-bit products of more than kFewRows output rows; TESSERA_CUBLASLT=0 turns it off
// and =1 uses it for every 16-bit product (few-row products otherwise go to cuBLAS, whose GEMV-like
// kernels serve decode shapes, unless gemm_autotunes: then the faster of cuBLAS and Lt's candidates).
constexpr int64_t kFewRows = 16;
int lt_mode() {
  static const int mode = [] {
    const char* v = std::getenv("TESSERA_CUBLASLT");
    if (!v || !*v) return -1;
    return std::strcmp(v, "0") == 0 ? 0 : 1;
  }();
  return mode;
}

// The few-row GEMV (gemv_bf16.cu) against the library, per (dtype, M, N, K): TESSERA_GEMV=0 never,
// =1 always, unset: whichever was faster when the problem was first seen (timed once; while a
// CUDA graph is being captured the library runs and nothing is decided).
bool use_gemv(const std::array<int64_t, 4>& key, const std::function<bool()>& gemv,
              const std::function<bool()>& library) {
  static const int mode = [] {
    const char* v = std::getenv("TESSERA_GEMV");
    if (!v || !*v) return -1;
    return std::strcmp(v, "0") == 0 ? 0 : 1;
  }();
  if (mode >= 0) return mode == 1;
  static std::mutex mu;
  static std::map<std::array<int64_t, 4>, bool> decided;
  std::lock_guard lk(mu);
  auto it = decided.find(key);
  if (it != decided.end()) return it->second;
  cudaStream_t st = current_stream();
  if (stream_capturing(st)) return false;
  double t_lib = time_gpu_runs(library, st), t_gemv = time_gpu_runs(gemv, st);
  bool pick = t_gemv < t_lib;
  if (std::getenv("TESSERA_GEMM_AUTOTUNE") && std::strcmp(std::getenv("TESSERA_GEMM_AUTOTUNE"), "2") == 0) {
    std::fprintf(stderr, "[gemm] gemv M=%lld N=%lld K=%lld: library %.2f us, gemv %.2f us\n",
                 static_cast<long long>(key[1]), static_cast<long long>(key[2]), static_cast<long long>(key[3]),
                 t_lib * 1e6, t_gemv * 1e6);
  }
  if (decided.size() < 4096) decided.emplace(key, pick);
  return pick;
}

// c (row-contiguous, out's shape and dtype) = alpha * a @ b + beta * c, a (..., M, K) and b (..., K, N)
// with batch dims broadcast to out's. beta != 0 reads c's current values (addmm).
// With `bias` (N values of out's dtype, device): c = alpha * a @ b + bias (each row) through the
// cuBLASLt bias epilogue (beta ignored); returns false, nothing launched, where that path does not
// apply (float64/complex64, batches, few-row products outside TESSERA_CUBLASLT=1, no Lt algorithm).
bool gemm_into(const array& a_in, const array& b_in, const array& out, void* c, double alpha, double beta,
               const void* bias = nullptr) {
  Dtype d = out.dtype();
  int64_t M = out.shape(-2), N = out.shape(-1), K = a_in.shape(-1);
  if (out.size() == 0) return true;
  int64_t batch = static_cast<int64_t>(out.size()) / (M * N);
  int mode = lt_mode();
  if (bias && (batch != 1 || (d != float32 && d != float16 && d != bfloat16) || mode == 0 ||
               (mode < 0 && M <= kFewRows))) {
    return false;
  }
  Operand a, b;
  if (!plan(a_in, M, K, a)) {
    a.holder = contiguous_gpu(a_in, d);
    plan(*a.holder, M, K, a);
  } else {
    a.holder = a_in;
  }
  if (!plan(b_in, K, N, b)) {
    b.holder = contiguous_gpu(b_in, d);
    plan(*b.holder, K, N, b);
  } else {
    b.holder = b_in;
  }
  a.ptr = a.holder->device_data();
  b.ptr = b.holder->device_data();
  bool wide = d == float64 || d == complex64;
  cublasComputeType_t compute = d == float64 ? CUBLAS_COMPUTE_64F
                                : (d == float32 && allow_tf32()) ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                                 : CUBLAS_COMPUTE_32F;
  // Column-major view: C^T (N x M) = B^T (N x K) * A^T (K x M).
  GemmArgs g{b.col_major ? CUBLAS_OP_T : CUBLAS_OP_N,
             a.col_major ? CUBLAS_OP_T : CUBLAS_OP_N,
             N, M, K,
             b.ptr, b.ld, b.batch_stride,
             a.ptr, a.ld, a.batch_stride,
             c, N, M * N,
             batch,
             cuda_type(d),
             compute,
             alpha, beta};
  if (bias) {
    g.beta = 0.0;
    g.bias = bias;
    return gemm_lt(g);
  }
  // Broadcast batches (stride 0) stay on cuBLAS, whose strided-batched call is known to take them.
  bool broadcast = batch > 1 && (a.batch_stride == 0 || b.batch_stride == 0);
  // Few-row products go to gemm_lt too when it autotunes them (it declines when cuBLAS was fastest).
  bool lt = d != float32 && !wide && !broadcast && (mode == 1 || (mode < 0 && (M > kFewRows || gemm_autotunes(g))));
  auto library = [&] {
    if (!lt || !gemm_lt(g)) gemm_cublas(g);
    return true;
  };
  // x @ W.T with W (N, K) row-major (b column-major) and at most 16 rows: the tensor-core GEMV
  // when it was faster than the library on this problem's first use (see use_gemv).
  if (batch == 1 && alpha == 1.0 && beta == 0.0 && b.col_major && !a.col_major &&
      gemv_half_supported(dt(d), M, N, K, a.ptr, a.ld, b.ptr, b.ld, c)) {
    auto gemv = [&] {
      gemv_half(dt(d), a.ptr, a.ld, b.ptr, b.ld, c, M, N, K, current_stream());
      return true;
    };
    if (use_gemv({static_cast<int64_t>(dt(d)), M, N, K}, gemv, library)) {
      gemv();
      return true;
    }
  }
  library();
  return true;
}

// c (out's shape) is one row of N contiguous values broadcast over every other dim: a bias row.
bool is_bias_row(const array& c) {
  int nd = c.ndim();
  if (c.shape(nd - 1) > 1 && c.strides()[nd - 1] != 1) return false;
  for (int i = 0; i < nd - 1; ++i) {
    if (c.shape(i) != 1 && c.strides()[i] != 0) return false;
  }
  return true;
}


}  // namespace

void Matmul::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype d = out.dtype();
  if (!gemm_dtype(d) || inputs[0].dtype() != d || inputs[1].dtype() != d || out.ndim() < 2) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  void* c = alloc_out(out);
  if (out.size() == 0) return;
  if (inputs[0].shape(-1) == 0) {
    TESSERA_CUDA_CHECK(cudaMemsetAsync(c, 0, out.nbytes(), current_stream()));
    return;
  }
  gemm_into(inputs[0], inputs[1], out, c, 1.0, 0.0);
}

// inputs {c, a, b}: out = alpha * a @ b + beta * c. A bias row (beta 1; f32/f16/bf16) goes through
// the cuBLASLt bias epilogue; otherwise c, broadcast to out's shape, is copied into out first and
// the GEMM accumulates onto it with beta.
void AddMM::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype d = out.dtype();
  const array& cin = inputs[0];
  if (!gemm_dtype(d) || cin.dtype() != d || cin.shape() != out.shape() || inputs[1].dtype() != d ||
      inputs[2].dtype() != d || out.ndim() < 2 || inputs[1].shape(-1) == 0) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  void* c = alloc_out(out);
  if (out.size() == 0) return;
  // A bias row added by the GEMM's epilogue (no copy of c into out, no read of out).
  if (beta_ == 1.0f && is_bias_row(cin) && gemm_into(inputs[1], inputs[2], out, c, alpha_, 0.0, cin.device_data())) {
    return;
  }
  if (beta_ != 0.0f) copy_into(cin, c, d, out.strides(), 0);  // c arrives broadcast (0 strides) to out's shape
  gemm_into(inputs[1], inputs[2], out, c, alpha_, beta_);
}

}  // namespace tessera
