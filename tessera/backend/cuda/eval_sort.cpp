// eval_gpu of sort/argsort, partition/argpartition (a full stable sort is a valid partition) and
// scans; unsupported dtypes and sizes use the CPU fallback.
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_scan.h"
#include "tessera/backend/cuda/kernels_sort.h"
#include "tessera/primitives/reduce.h"
#include "tessera/primitives/sort.h"

namespace tessera {

using namespace cuda;

namespace {

// (outer, n, inner) of `shape` around `axis`.
struct Lines {
  size_t outer{1}, n{1}, inner{1};
  Lines(const Shape& shape, int axis) {
    for (int d = 0; d < static_cast<int>(shape.size()); ++d) {
      size_t s = static_cast<size_t>(shape[d]);
      if (d < axis) outer *= s;
      else if (d == axis) n = s;
      else inner *= s;
    }
  }
};

void run_sort(Primitive& p, int axis, bool arg, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.ndim() == 0 || in.ndim() > kMaxDims) return p.Primitive::eval_gpu(inputs, outputs);
  Lines L(in.shape(), axis);
  if (!sort_supported(dt(in.dtype()), L.outer, L.n, L.inner)) return p.Primitive::eval_gpu(inputs, outputs);
  array x = contiguous_gpu(in, in.dtype());
  void* o = alloc_out(out);
  sort_lines(dt(in.dtype()), x.device_data(), arg ? nullptr : o, arg ? static_cast<uint32_t*>(o) : nullptr, L.outer,
             L.n, L.inner, current_stream());
}

}  // namespace

void Sort::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run_sort(*this, axis_, false, inputs, outputs);
}
void ArgSort::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run_sort(*this, axis_, true, inputs, outputs);
}
void Partition::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run_sort(*this, axis_, false, inputs, outputs);
}
void ArgPartition::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  run_sort(*this, axis_, true, inputs, outputs);
}

void Scan::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  int op = static_cast<int>(type_);
  if (in.ndim() == 0 || in.ndim() > kMaxDims || in.dtype() != out.dtype() || !scan_supported(op, dt(in.dtype()))) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  Lines L(in.shape(), axis_);
  array x = contiguous_gpu(in, in.dtype());
  void* o = alloc_out(out);
  scan(op, dt(in.dtype()), x.device_data(), o, L.outer, L.n, L.inner, reverse_, inclusive_, current_stream());
}

}  // namespace tessera
