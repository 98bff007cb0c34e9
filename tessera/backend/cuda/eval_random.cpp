// eval_gpu of RandomMap (bits -> uniform/normal/truncated normal/gumbel/bernoulli/randint, the CPU's
// numbers) and Permutation (stable argsort of the bits on the device, then a row gather).
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_random.h"
#include "tessera/backend/cuda/kernels_sort.h"
#include "tessera/primitives/random.h"

namespace tessera::random {

using namespace cuda;

void RandomMap::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  int kind = static_cast<int>(kind_);
  size_t nparams = inputs.size() - 1;
  bool ok = random_map_supported(kind, dt(out.dtype())) && nparams <= 2;
  for (size_t k = 1; k < inputs.size() && ok; ++k) ok = inputs[k].dtype() == float64;
  std::vector<const Strides*> st;
  for (size_t k = 1; k < inputs.size(); ++k) st.push_back(&inputs[k].strides());
  Strides none(out.ndim(), 0);
  while (st.size() < 2) st.push_back(&none);
  Strided s;
  if (!ok || !make_strided(out.shape(), st, s)) return Primitive::eval_gpu(inputs, outputs);
  void* o = alloc_out(out);
  if (out.size() == 0) return;
  array bits = contiguous_gpu(inputs[0], uint32);
  RandomMapArgs a{};
  a.kind = kind;
  a.out_dt = dt(out.dtype());
  a.bits = static_cast<const uint32_t*>(bits.device_data());
  a.p0 = nparams > 0 ? static_cast<const double*>(inputs[1].device_data()) : nullptr;
  a.p1 = nparams > 1 ? static_cast<const double*>(inputs[2].device_data()) : nullptr;
  a.loc = loc_;
  a.scale = scale_;
  random_map(a, o, s, out.size(), current_stream());
}

// inputs: bits (n,) uint32, x with x.shape(axis) == n. out: x reordered along axis.
void Permutation::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  const array& x_in = inputs[1];
  size_t n = static_cast<size_t>(x_in.shape(axis_));
  if (!sort_supported(dt(uint32), 1, n, 1)) return Primitive::eval_gpu(inputs, outputs);
  void* o = alloc_out(out);
  if (out.size() == 0) return;
  array bits = contiguous_gpu(inputs[0], uint32);
  array order(Shape{static_cast<Shape::value_type>(n)}, uint32, nullptr, {});
  alloc_out(order);
  sort_lines(dt(uint32), bits.device_data(), nullptr, static_cast<uint32_t*>(order.device_data()), 1, n, 1,
             current_stream());
  array x = contiguous_gpu(x_in, x_in.dtype());
  size_t inner_bytes = x.itemsize();
  for (int d = axis_ + 1; d < x.ndim(); ++d) inner_bytes *= static_cast<size_t>(x.shape(d));
  size_t outer = x.nbytes() / (inner_bytes * n);
  permute_rows(x.device_data(), static_cast<const uint32_t*>(order.device_data()), o, outer, n, inner_bytes,
               current_stream());
}

}  // namespace tessera::random
