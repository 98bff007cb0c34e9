// eval_gpu of DynamicSlice and DynamicSliceUpdate: the start indices stay on the device and are
// read inside the copy kernel (no host sync), clamped as on the CPU. DynamicSlice makes a
// row-contiguous copy (the CPU returns a view; the values are the same).
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_dynamic.h"
#include "tessera/primitives/indexing.h"

namespace tessera {

using namespace cuda;

namespace {

// The iteration space over `shape` and the start array's dtype/stride; false when it does not fit.
bool dynamic_args(const Shape& shape, const Shape& full, const std::vector<int>& axes, const array& start,
                  DynamicCopyArgs& a) {
  if (shape.size() > static_cast<size_t>(kMaxDims) || !is_integral(start.dtype()) || start.dtype() == bool_) {
    return false;
  }
  a.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < a.ndim; ++d) {
    a.shape[d] = shape[d];
    a.full[d] = full[d];
  }
  a.naxes = static_cast<int>(axes.size());
  for (int k = 0; k < a.naxes; ++k) a.axes[k] = axes[k];
  a.start = start.device_data();
  a.start_dt = dt(start.dtype());
  a.start_stride = start.ndim() == 1 ? start.strides()[0] : 0;
  return true;
}

}  // namespace

// inputs: a (any layout), start (naxes,). out: slice_size, row-contiguous.
void DynamicSlice::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  DynamicCopyArgs a;
  if (!dynamic_args(out.shape(), in.shape(), axes_, inputs[1], a)) return Primitive::eval_gpu(inputs, outputs);
  void* o = alloc_out(out);
  for (int d = 0; d < a.ndim; ++d) {
    a.src_strides[d] = in.strides()[d];
    a.dst_strides[d] = out.strides()[d];
  }
  a.shift_src = true;
  dynamic_copy(in.device_data(), o, static_cast<int>(out.itemsize()), a, out.size(), current_stream());
}

// inputs: src, update (any layouts), start (naxes,). out: src's shape, row-contiguous.
void DynamicSliceUpdate::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& upd = inputs[1];
  auto& out = outputs[0];
  DynamicCopyArgs a;
  if (upd.dtype() != out.dtype() || !dynamic_args(upd.shape(), out.shape(), axes_, inputs[2], a)) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  void* o = copy_or_donate_gpu(inputs[0], out);
  for (int d = 0; d < a.ndim; ++d) {
    a.src_strides[d] = upd.strides()[d];
    a.dst_strides[d] = out.strides()[d];
  }
  a.shift_src = false;
  dynamic_copy(upd.device_data(), o, static_cast<int>(out.itemsize()), a, upd.size(), current_stream());
  out.mark_device_written();
}

}  // namespace tessera
