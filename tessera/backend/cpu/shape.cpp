// CPU evaluation of layout primitives: views share the input buffer, copies go through copy.h.
#include "tessera/backend/common/utils.h"
#include "tessera/backend/cpu/copy.h"
#include "tessera/primitives/shape.h"

namespace tessera {

namespace {
void set_view(const array& in, array& out, const Strides& strides, int64_t elem_offset) {
  size_t data_size;
  auto flags = flags_for(out.shape(), strides, &data_size);
  out.copy_shared_buffer(in, strides, flags, data_size, elem_offset * static_cast<int64_t>(in.itemsize()));
}
}  // namespace

void AsType::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  cpu::copy_to_contiguous(inputs[0], outputs[0]);
}
bool AsType::is_equivalent(const Primitive& o) const { return dtype_ == static_cast<const AsType&>(o).dtype_; }

void Copy::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  cpu::copy_to_contiguous(inputs[0], outputs[0]);
}

Strides Reshape::view_strides(const array& in, const Shape& shape) {
  if (in.flags().row_contiguous) return row_major_strides(shape);
  // Merge/split input dims whose strides allow it (NumPy's attempt_nocopy_reshape, simplified):
  // walk both shapes grouping dims with equal products.
  const Shape& is = in.shape();
  const Strides& ist = in.strides();
  Strides out(shape.size(), 0);
  size_t i = 0, j = 0;
  while (i < is.size() || j < shape.size()) {
    if (i < is.size() && is[i] == 1) { ++i; continue; }
    if (j < shape.size() && shape[j] == 1) { out[j] = 0; ++j; continue; }
    if (i >= is.size() || j >= shape.size()) return {};
    size_t i0 = i, j0 = j;
    int64_t pi = is[i++], pj = shape[j++];
    while (pi != pj) {
      if (pi < pj) {
        if (i >= is.size()) return {};
        pi *= is[i++];
      } else {
        if (j >= shape.size()) return {};
        pj *= shape[j++];
      }
    }
    // The input group [i0, i) must be contiguous among itself.
    for (size_t k = i0; k + 1 < i; ++k) {
      if (is[k] == 1 || is[k + 1] == 1) continue;
      if (ist[k] != ist[k + 1] * is[k + 1]) return {};
    }
    int64_t st = ist[i - 1];
    for (size_t k = i - 1; k + 1 > i0 && is[k] == 1; --k) st = ist[k];
    for (size_t k = j; k-- > j0;) {
      out[k] = st;
      st *= shape[k];
    }
  }
  return out;
}

void Reshape::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  auto st = view_strides(in, out.shape());
  if (st.size() == out.shape().size() && (out.ndim() > 0 || in.size() == 1)) {
    set_view(in, out, st, 0);
  } else {
    cpu::copy_to_contiguous(in, out);
  }
}
bool Reshape::is_equivalent(const Primitive& o) const { return shape_ == static_cast<const Reshape&>(o).shape_; }

void Broadcast::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  Strides st(out.ndim(), 0);
  int diff = out.ndim() - in.ndim();
  for (int i = 0; i < in.ndim(); ++i) st[i + diff] = in.shape(i) == 1 ? 0 : in.strides()[i];
  set_view(in, out, st, 0);
}
bool Broadcast::is_equivalent(const Primitive& o) const { return shape_ == static_cast<const Broadcast&>(o).shape_; }

void Transpose::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  Strides st(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) st[i] = in.strides()[axes_[i]];
  set_view(in, outputs[0], st, 0);
}
bool Transpose::is_equivalent(const Primitive& o) const { return axes_ == static_cast<const Transpose&>(o).axes_; }

void Slice::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  int64_t off = 0;
  Strides st(in.ndim());
  for (int i = 0; i < in.ndim(); ++i) {
    off += static_cast<int64_t>(start_[i]) * in.strides()[i];
    st[i] = in.strides()[i] * strides_[i];
  }
  if (out.size() == 0) off = 0;
  set_view(in, out, st, off);
}
bool Slice::is_equivalent(const Primitive& o) const {
  auto& s = static_cast<const Slice&>(o);
  return start_ == s.start_ && stop_ == s.stop_ && strides_ == s.strides_;
}

void AsStrided::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  // Refuse views that would read outside the buffer.
  int64_t lo = offset_, hi = offset_;
  for (size_t i = 0; i < shape_.size(); ++i) {
    if (shape_[i] == 0) { lo = hi = 0; break; }
    int64_t ext = strides_[i] * (shape_[i] - 1);
    (ext < 0 ? lo : hi) += ext;
  }
  if (outputs[0].size() > 0 && (lo < 0 || hi >= static_cast<int64_t>(in.data_size()))) {
    throw std::invalid_argument("[as_strided] the requested view reads outside the array's memory.");
  }
  set_view(in, outputs[0], strides_, offset_);
}

}  // namespace tessera
