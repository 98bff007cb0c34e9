// eval_gpu of variance/std and logsumexp over the last axis, and tril/triu masks.
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_rows.h"
#include "tessera/primitives/manipulation.h"
#include "tessera/primitives/reduce.h"

namespace tessera {

using namespace cuda;

namespace {

// True when `in` is a float array whose rows (last axis) the row kernels can take.
bool rows_ok(const array& in, const array& out) {
  if (in.ndim() == 0 || in.ndim() > kMaxDims || in.dtype() != out.dtype() || !rows_supported(dt(in.dtype()))) {
    return false;
  }
  return out.size() < 0x7fffffffu;
}

}  // namespace

void Variance::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (!rows_ok(inputs[0], out)) return Primitive::eval_gpu(inputs, outputs);
  array x = contiguous_gpu(inputs[0], inputs[0].dtype());
  void* o = alloc_out(out);
  variance(dt(x.dtype()), x.device_data(), o, out.size(), x.shape(-1), ddof_, sqrt_, current_stream());
}

void LogSumExp::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (!rows_ok(inputs[0], out)) return Primitive::eval_gpu(inputs, outputs);
  array x = contiguous_gpu(inputs[0], inputs[0].dtype());
  void* o = alloc_out(out);
  logsumexp(dt(x.dtype()), x.device_data(), o, out.size(), x.shape(-1), current_stream());
}

void TriMask::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.ndim() < 2 || in.ndim() > kMaxDims || in.dtype() != out.dtype()) return Primitive::eval_gpu(inputs, outputs);
  void* p = alloc_out(out);
  copy_into(in, p, out.dtype(), out.strides(), 0);
  int64_t m = out.shape(-2), n = out.shape(-1);
  size_t batch = (m > 0 && n > 0) ? out.size() / static_cast<size_t>(m * n) : 0;
  tri_mask(p, static_cast<int>(out.itemsize()), batch, m, n, k_, lower_, current_stream());
}

}  // namespace tessera
