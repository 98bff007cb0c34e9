// CPU evaluation of manipulation primitives: concatenation copies, diagonal views, triangle masks.
#include <cstring>

#include "tessera/backend/common/utils.h"
#include "tessera/backend/cpu/copy.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/manipulation.h"

namespace tessera {

void Concatenate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  auto ost = row_major_strides(out.shape());
  int64_t offset = 0;
  for (auto& in : inputs) {
    cpu::copy_strided_into(in, out, ost, offset);
    offset += static_cast<int64_t>(in.shape(axis_)) * ost[axis_];
  }
}
bool Concatenate::is_equivalent(const Primitive& o) const { return axis_ == static_cast<const Concatenate&>(o).axis_; }

void Diagonal::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  Strides st;
  for (int d = 0; d < in.ndim(); ++d) {
    if (d != axis1_ && d != axis2_) st.push_back(in.strides()[d]);
  }
  st.push_back(in.strides()[axis1_] + in.strides()[axis2_]);
  int64_t off = offset_ >= 0 ? offset_ * in.strides()[axis2_] : -static_cast<int64_t>(offset_) * in.strides()[axis1_];
  if (out.size() == 0) off = 0;
  size_t data_size;
  auto flags = flags_for(out.shape(), st, &data_size);
  out.copy_shared_buffer(in, st, flags, data_size, off * static_cast<int64_t>(in.itemsize()));
}
bool Diagonal::is_equivalent(const Primitive& o) const {
  auto& d = static_cast<const Diagonal&>(o);
  return offset_ == d.offset_ && axis1_ == d.axis1_ && axis2_ == d.axis2_;
}

void TriMask::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.flags().row_contiguous && in.data_size() == in.size() && in.is_donatable()) {
    out.copy_shared_buffer(in);
  } else {
    cpu::copy_to_contiguous(in, out);
  }
  if (out.size() == 0) return;
  // All-zero bytes are zero in every dtype, so the mask is a memset per row.
  int64_t m = out.shape(-2), n = out.shape(-1);
  size_t rows = out.size() / n;
  size_t isz = out.itemsize();
  char* base = out.data<char>();
  cpu::parallel_for(rows, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(n, 1)), [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) {
      int64_t i = static_cast<int64_t>(r % m);
      int64_t lo, hi;  // zeroed columns [lo, hi)
      if (lower_) {
        lo = std::clamp<int64_t>(i + k_ + 1, 0, n);
        hi = n;
      } else {
        lo = 0;
        hi = std::clamp<int64_t>(i + k_, 0, n);
      }
      if (hi > lo) std::memset(base + (r * n + lo) * isz, 0, (hi - lo) * isz);
    }
  });
}
bool TriMask::is_equivalent(const Primitive& o) const {
  auto& t = static_cast<const TriMask&>(o);
  return k_ == t.k_ && lower_ == t.lower_;
}

}  // namespace tessera
