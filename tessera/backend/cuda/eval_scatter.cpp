// eval_gpu of scatter (with reductions), take_along_axis and put_along_axis; indices are read on
// the device (bounds are checked on the host, as the CPU does, when they are there anyway).
#include <stdexcept>
#include <string>

#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_scatter.h"
#include "tessera/primitives/indexing.h"

namespace tessera {

using namespace cuda;

namespace {

bool index_dtype_ok(Dtype d) { return d == int32 || d == uint32 || d == int64; }

// Throws the CPU's out_of_range error when host-valid indices fall outside [-n, n - span].
void check_host_indices(const array& ix, int64_t n, int64_t span, int axis, const char* op) {
  if (!ix.data_shared_ptr() || !ix.data_shared_ptr()->host_valid.load()) return;
  for (int64_t x : const_cast<array&>(ix).to_vector<int64_t>()) {
    int64_t w = x < 0 ? x + n : x;
    if (w < 0 || w + span > n) {
      throw std::out_of_range(std::string("[") + op + "] index " + std::to_string(x) + " is out of bounds for axis " +
                              std::to_string(axis) + " with size " + std::to_string(n) + ".");
    }
  }
}

AlongAxisArgs along_args(const Shape& shape, const Strides& strides, int axis, int64_t axis_size) {
  AlongAxisArgs a{};
  a.ndim = static_cast<int>(shape.size());
  a.axis = axis;
  a.axis_size = axis_size;
  for (int d = 0; d < a.ndim; ++d) {
    a.shape[d] = shape[d];
    a.strides[d] = strides[d];
  }
  return a;
}

}  // namespace

void Scatter::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  size_t naxes = axes_.size();
  const array& upd_in = inputs.back();
  int op = static_cast<int>(reduce_);
  bool ok = out.ndim() <= kMaxDims && out.ndim() > 0 && naxes <= 4 && inputs.size() == naxes + 2 &&
            upd_in.dtype() == out.dtype() && scatter_supported(op, dt(out.dtype()));
  for (size_t k = 0; k < naxes && ok; ++k) ok = index_dtype_ok(inputs[k + 1].dtype());
  if (!ok) return Primitive::eval_gpu(inputs, outputs);
  int nd = out.ndim();
  Shape ushape(upd_in.shape().end() - nd, upd_in.shape().end());
  for (size_t k = 0; k < naxes; ++k) {
    check_host_indices(inputs[k + 1], out.shape(axes_[k]), ushape[axes_[k]], axes_[k], "scatter");
  }
  void* p = copy_or_donate_gpu(inputs[0], out);
  out.mark_device_written();
  size_t nidx = naxes > 0 ? inputs[1].size() : 1;
  size_t usize = 1;
  for (auto d : ushape) usize *= static_cast<size_t>(d);
  if (nidx == 0 || usize == 0) return;
  array upd = contiguous_gpu(upd_in, out.dtype());
  std::vector<array> idx;
  ScatterArgs a{};
  a.out = p;
  a.upd = upd.device_data();
  a.ndim = nd;
  auto ost = row_major_strides(out.shape());
  for (int d = 0; d < nd; ++d) {
    a.out_shape[d] = out.shape(d);
    a.out_strides[d] = ost[d];
    a.upd_shape[d] = ushape[d];
  }
  a.naxes = static_cast<int>(naxes);
  for (size_t k = 0; k < naxes; ++k) {
    idx.push_back(contiguous_gpu(inputs[k + 1], int64));
    a.axes[k] = axes_[k];
    a.idx[k] = static_cast<const int64_t*>(idx.back().device_data());
  }
  a.n_idx = nidx;
  a.upd_size = usize;
  // Plain scatter with many index tuples: the last writer of each element is found through a table.
  size_t table_bytes = 0;
  if (op == sc_none && nidx > kScatterDirectCheckMax && nidx < (size_t(1) << 31)) {
    table_bytes = out.size() * sizeof(int);
    a.winner = static_cast<int*>(gpu::malloc(table_bytes));
    TESSERA_CUDA_CHECK(cudaMemsetAsync(a.winner, 0xff, table_bytes, current_stream()));
  }
  try {
    scatter(op, dt(out.dtype()), static_cast<int>(out.itemsize()), a, current_stream());
  } catch (...) {
    if (a.winner) gpu::free(a.winner, table_bytes);
    throw;
  }
  if (a.winner) gpu::free(a.winner, table_bytes);
}

void GatherAxis::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& a = inputs[0];
  auto& out = outputs[0];
  if (a.ndim() == 0 || a.ndim() > kMaxDims || !index_dtype_ok(inputs[1].dtype())) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  check_host_indices(inputs[1], a.shape(axis_), 1, axis_, "take_along_axis");
  void* o = alloc_out(out);
  if (out.size() == 0) return;
  array idx = contiguous_gpu(inputs[1], int64);
  auto args = along_args(out.shape(), a.strides(), axis_, a.shape(axis_));
  take_along_axis(a.device_data(), static_cast<const int64_t*>(idx.device_data()), o, static_cast<int>(a.itemsize()),
                  args, out.size(), current_stream());
}

void ScatterAxis::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  auto& vals_in = inputs[2];
  int op = static_cast<int>(reduce_);
  if (out.ndim() == 0 || out.ndim() > kMaxDims || !index_dtype_ok(inputs[1].dtype()) ||
      vals_in.dtype() != out.dtype() || !scatter_supported(op, dt(out.dtype()))) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  check_host_indices(inputs[1], out.shape(axis_), 1, axis_, "put_along_axis");
  void* p = copy_or_donate_gpu(inputs[0], out);
  out.mark_device_written();
  if (vals_in.size() == 0) return;
  array vals = contiguous_gpu(vals_in, out.dtype());
  array idx = contiguous_gpu(inputs[1], int64);
  auto args = along_args(vals.shape(), row_major_strides(out.shape()), axis_, out.shape(axis_));
  put_along_axis(op, dt(out.dtype()), static_cast<int>(out.itemsize()), vals.device_data(),
                 static_cast<const int64_t*>(idx.device_data()), p, args, vals.size(), current_stream());
}

}  // namespace tessera
