// eval_gpu of Matmul: float16/bfloat16 through cuBLASLt (cached plans, the stream's workspace),
// few-row products and float32 through cuBLAS (float32 accumulation; TF32 only when
// TESSERA_ALLOW_TF32=1). Row- or column-major operands (transposed views) are used in place,
// batches by one stride (0 = broadcast) as one strided-batched call.
#include <cstdlib>
#include <cstring>
#include <optional>

#include "tessera/backend/cuda/blaslt.h"
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
  return d == float16 ? CUDA_R_16F : d == bfloat16 ? CUDA_R_16BF : CUDA_R_32F;
}

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
// kernels serve decode shapes).
constexpr int64_t kFewRows = 16;
int lt_mode() {
  static const int mode = [] {
    const char* v = std::getenv("TESSERA_CUBLASLT");
    if (!v || !*v) return -1;
    return std::strcmp(v, "0") == 0 ? 0 : 1;
  }();
  return mode;
}

}  // namespace

void Matmul::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Dtype d = out.dtype();
  if (!(d == float32 || d == float16 || d == bfloat16) || inputs[0].dtype() != d || inputs[1].dtype() != d ||
      out.ndim() < 2) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  int64_t M = out.shape(-2), N = out.shape(-1), K = inputs[0].shape(-1);
  void* c = alloc_out(out);
  if (out.size() == 0) return;
  if (K == 0) {
    TESSERA_CUDA_CHECK(cudaMemsetAsync(c, 0, out.nbytes(), current_stream()));
    return;
  }
  int64_t batch = static_cast<int64_t>(out.size()) / (M * N);
  Operand a, b;
  if (!plan(inputs[0], M, K, a)) {
    a.holder = contiguous_gpu(inputs[0], d);
    plan(*a.holder, M, K, a);
  } else {
    a.holder = inputs[0];
  }
  if (!plan(inputs[1], K, N, b)) {
    b.holder = contiguous_gpu(inputs[1], d);
    plan(*b.holder, K, N, b);
  } else {
    b.holder = inputs[1];
  }
  a.ptr = a.holder->device_data();
  b.ptr = b.holder->device_data();
  // Column-major view: C^T (N x M) = B^T (N x K) * A^T (K x M).
  GemmArgs g{b.col_major ? CUBLAS_OP_T : CUBLAS_OP_N,
             a.col_major ? CUBLAS_OP_T : CUBLAS_OP_N,
             N, M, K,
             b.ptr, b.ld, b.batch_stride,
             a.ptr, a.ld, a.batch_stride,
             c, N, M * N,
             batch,
             cuda_type(d),
             d == float32 ? (allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F) : CUBLAS_COMPUTE_32F};
  int mode = lt_mode();
  // Broadcast batches (stride 0) stay on cuBLAS, whose strided-batched call is known to take them.
  bool broadcast = batch > 1 && (a.batch_stride == 0 || b.batch_stride == 0);
  bool lt = d != float32 && !broadcast && (mode == 1 || (mode < 0 && M > kFewRows));
  if (!lt || !gemm_lt(g)) gemm_cublas(g);
}

}  // namespace tessera
