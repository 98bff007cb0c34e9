// Helpers of the eval_gpu implementations (see eval_utils.h).
#include "tessera/backend/cuda/eval_utils.h"

#include <stdexcept>

namespace tessera::cuda {

void collapse_dims(const Shape& shape, const std::vector<const Strides*>& strides, std::vector<int64_t>& sh,
                   std::vector<std::vector<int64_t>>& st) {
  const size_t k = strides.size();
  sh.clear();
  st.assign(k, {});
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !sh.empty();
    for (size_t o = 0; o < k && merge; ++o) merge = st[o].back() == (*strides[o])[d] * shape[d];
    if (merge) {
      sh.back() *= shape[d];
      for (size_t o = 0; o < k; ++o) st[o].back() = (*strides[o])[d];
    } else {
      sh.push_back(shape[d]);
      for (size_t o = 0; o < k; ++o) st[o].push_back((*strides[o])[d]);
    }
  }
}

bool make_strided(const Shape& shape, const std::vector<const Strides*>& strides, Strided& s) {
  const size_t k = strides.size();
  std::vector<int64_t> sh;
  std::vector<std::vector<int64_t>> st;
  collapse_dims(shape, strides, sh, st);
  if (sh.size() > static_cast<size_t>(kMaxDims)) return false;
  s.ndim = static_cast<int>(sh.size());
  for (int d = 0; d < s.ndim; ++d) {
    s.shape[d] = sh[d];
    for (size_t o = 0; o < k; ++o) s.strides[o][d] = st[o][d];
  }
  return true;
}

void copy_into(const array& src, void* dst_base, Dtype dst_dtype, const Strides& dst_strides, int64_t dst_offset) {
  if (src.size() == 0) return;
  Strided s;
  if (!make_strided(src.shape(), {&src.strides(), &dst_strides}, s)) {
    throw std::invalid_argument("[cuda] copy of an array with too many non-mergeable dimensions.");
  }
  char* dst = static_cast<char*>(dst_base) + dst_offset * static_cast<int64_t>(dst_dtype.size);
  copy_strided(src.device_data(), dt(src.dtype()), dst, dt(dst_dtype), s, src.size(), current_stream());
}

void* copy_or_donate_gpu(const array& src, array& out) {
  if (src.dtype() == out.dtype() && src.is_donatable_device() && src.flags().row_contiguous &&
      src.data_size() == src.size()) {
    out.copy_shared_buffer(src);
    return out.device_data();
  }
  void* p = alloc_out(out);
  copy_into(src, p, out.dtype(), out.strides(), 0);
  return p;
}

array contiguous_gpu(const array& in, Dtype d) {
  if (in.dtype() == d && in.flags().row_contiguous && in.data_size() == in.size()) return in;
  array out(in.shape(), d, nullptr, {});
  void* p = alloc_out(out);
  copy_into(in, p, d, out.strides(), 0);
  return out;
}

bool host_scalar(const array& a, double* v) {
  if (a.data_size() != 1 || !a.data_shared_ptr() || !a.data_shared_ptr()->host_valid.load()) return false;
  const void* p = a.data<char>();
  switch (a.dtype().val) {
    case Dtype::Val::float32: *v = *static_cast<const float*>(p); return true;
    case Dtype::Val::float16: *v = static_cast<float>(*static_cast<const float16_t*>(p)); return true;
    case Dtype::Val::bfloat16: *v = static_cast<float>(*static_cast<const bfloat16_t*>(p)); return true;
    case Dtype::Val::int32: *v = *static_cast<const int32_t*>(p); return true;
    default: return false;
  }
}

}  // namespace tessera::cuda
