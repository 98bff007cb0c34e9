// eval_gpu of reductions: sum/max/min/mean/prod/all/any over a block of axes, argmax/argmin, softmax.
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_reduce.h"
#include "tessera/primitives/reduce.h"

namespace tessera {

using namespace cuda;

void Reduce::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  int op = r_or;
  switch (type_) {
    case Sum: op = r_sum; break;
    case Max: op = r_max; break;
    case Min: op = r_min; break;
    case Mean: op = r_mean; break;
    case Prod: op = r_prod; break;
    case And: op = r_and; break;
    case Or: op = r_or; break;
  }
  if (!reduce_out_supported(op, dt(in.dtype()), dt(out.dtype())) || in.ndim() > kMaxDims ||
      (in.size() == 0 && (op == r_max || op == r_min))) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  size_t outer = 1, len = 1, inner = 1;
  if (axes_.empty()) {
    outer = in.size();
  } else {
    for (int d = 0; d < in.ndim(); ++d) {
      size_t n = static_cast<size_t>(in.shape(d));
      if (d < axes_.front()) outer *= n;
      else if (d <= axes_.back()) len *= n;
      else inner *= n;
    }
  }
  void* o = alloc_out(out);
  if (out.size() == 0) return;
  array x = contiguous_gpu(in, in.dtype());
  reduce_out(op, dt(in.dtype()), dt(out.dtype()), in.size() ? x.device_data() : nullptr, o, outer, len, inner,
             current_stream());
}

void ArgReduce::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (!reduce_supported(r_max, dt(in.dtype())) || out.dtype() != uint32 || in.ndim() > kMaxDims ||
      in.size() == 0) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  size_t outer = 1, len = static_cast<size_t>(in.shape(axis_)), inner = 1;
  for (int d = 0; d < in.ndim(); ++d) {
    if (d < axis_) outer *= static_cast<size_t>(in.shape(d));
    if (d > axis_) inner *= static_cast<size_t>(in.shape(d));
  }
  array x = contiguous_gpu(in, in.dtype());
  void* o = alloc_out(out);
  argreduce(type_ == ArgMax, dt(in.dtype()), x.device_data(), static_cast<uint32_t*>(o), outer, len, inner,
            current_stream());
}

void Softmax::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  Dtype d = out.dtype();
  if (in.dtype() != d || !(d == float32 || d == float16 || d == bfloat16 || d == float64) || in.ndim() > kMaxDims ||
      in.ndim() == 0) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  array x = contiguous_gpu(in, d);
  void* o = alloc_out(out);
  size_t cols = static_cast<size_t>(in.shape(-1));
  softmax(dt(d), x.device_data(), o, cols ? in.size() / cols : 0, cols, log_, current_stream());
}

}  // namespace tessera
