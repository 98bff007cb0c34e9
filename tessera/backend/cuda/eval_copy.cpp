// eval_gpu of copies and data movement: astype, copy, reshape (copying case), full, concatenate,
// slice_update (in place when the source can be donated) and gather.
#include <stdexcept>
#include <string>

#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/primitives/creation.h"
#include "tessera/primitives/indexing.h"
#include "tessera/primitives/manipulation.h"
#include "tessera/primitives/shape.h"

namespace tessera {

using namespace cuda;

namespace {
void copy_gpu(const array& in, array& out) {
  void* p = alloc_out(out);
  copy_into(in, p, out.dtype(), out.strides(), 0);
}
bool too_many_dims(const array& a) { return a.ndim() > kMaxDims; }
}  // namespace

void AsType::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (!copy_supported(dt(inputs[0].dtype()), dt(outputs[0].dtype())) || too_many_dims(inputs[0])) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  copy_gpu(inputs[0], outputs[0]);
}

void Copy::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  if (too_many_dims(inputs[0])) return Primitive::eval_gpu(inputs, outputs);
  copy_gpu(inputs[0], outputs[0]);
}

void Reshape::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  auto st = view_strides(in, out.shape());
  if ((st.size() == out.shape().size() && (out.ndim() > 0 || in.size() == 1)) || too_many_dims(in)) {
    return eval_cpu(inputs, outputs);  // a view: moves no data
  }
  // Row-major copy: the destination strides follow the input's shape (same element order).
  void* p = alloc_out(out);
  copy_into(in, p, out.dtype(), row_major_strides(in.shape()), 0);
}

void Full::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.data_size() == 1 && in.data_shared_ptr()->host_valid.load()) {
    void* p = alloc_out(out);
    fill(p, out.itemsize(), in.data<char>(), out.size(), current_stream());
    return;
  }
  if (too_many_dims(in) || in.shape() != out.shape()) return Primitive::eval_gpu(inputs, outputs);
  copy_gpu(in, out);
}

void Concatenate::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  if (too_many_dims(out)) return Primitive::eval_gpu(inputs, outputs);
  void* p = alloc_out(out);
  int64_t offset = 0;
  for (auto& in : inputs) {
    copy_into(in, p, out.dtype(), out.strides(), offset);
    offset += static_cast<int64_t>(in.shape(axis_)) * out.strides()[axis_];
  }
}

void SliceUpdate::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& src = inputs[0];
  auto& upd = inputs[1];
  auto& out = outputs[0];
  if (too_many_dims(out)) return Primitive::eval_gpu(inputs, outputs);
  void* p;
  if (src.dtype() == out.dtype() && src.is_donatable_device()) {
    out.copy_shared_buffer(src);  // write into the source's buffer (e.g. a KV cache)
    p = out.device_data();
  } else {
    p = alloc_out(out);
    copy_into(src, p, out.dtype(), out.strides(), 0);
  }
  int64_t off = 0;
  Strides vst(out.ndim());
  for (int i = 0; i < out.ndim(); ++i) {
    off += static_cast<int64_t>(start_[i]) * out.strides()[i];
    vst[i] = out.strides()[i] * strides_[i];
  }
  copy_into(upd, p, out.dtype(), vst, off);
  out.mark_device_written();
}

void Gather::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& a = inputs[0];
  auto& out = outputs[0];
  size_t naxes = axes_.size();
  bool ok = a.ndim() <= kMaxDims && naxes <= 4;
  for (size_t k = 0; k < naxes && ok; ++k) {
    auto d = inputs[k + 1].dtype();
    ok = d == int32 || d == uint32 || d == int64;
  }
  if (!ok) return Primitive::eval_gpu(inputs, outputs);
  size_t nidx = naxes > 0 ? inputs[1].size() : 1;
  // Bounds as the CPU checks them, when the indices are on the host anyway.
  for (size_t k = 0; k < naxes; ++k) {
    const array& ix = inputs[k + 1];
    if (!ix.data_shared_ptr()->host_valid.load()) continue;
    int ax = axes_[k];
    auto v = const_cast<array&>(ix).to_vector<int64_t>();
    for (int64_t x : v) {
      int64_t w = x < 0 ? x + a.shape(ax) : x;
      if (w < 0 || w + slice_sizes_[ax] > a.shape(ax)) {
        throw std::out_of_range("[gather] index " + std::to_string(x) + " is out of bounds for axis " +
                                std::to_string(ax) + " with size " + std::to_string(a.shape(ax)) + ".");
      }
    }
  }
  void* p = alloc_out(out);
  if (out.size() == 0) return;
  std::vector<array> idx;
  GatherArgs g{};
  g.src = a.device_data();
  g.out = p;
  g.elem_size = static_cast<int>(a.itemsize());
  g.ndim = a.ndim();
  size_t slice = 1;
  for (int d = 0; d < a.ndim(); ++d) {
    g.src_shape[d] = a.shape(d);
    g.src_strides[d] = a.strides()[d];
    g.slice[d] = slice_sizes_[d];
    slice *= static_cast<size_t>(slice_sizes_[d]);
  }
  g.naxes = static_cast<int>(naxes);
  for (size_t k = 0; k < naxes; ++k) {
    idx.push_back(contiguous_gpu(inputs[k + 1], int32));
    g.axes[k] = axes_[k];
    g.idx[k] = static_cast<const int32_t*>(idx.back().device_data());
  }
  g.n_idx = nidx;
  g.slice_size = slice;
  gather(g, current_stream());
}

}  // namespace tessera
