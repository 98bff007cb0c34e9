// CPU kernels of RMSNorm and LayerNorm: one fused pass per row, rows in parallel.
#include <cmath>
#include <optional>
#include <vector>

#include "tessera/backend/cpu/fast_common.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/fast.h"

namespace tessera::fast {

namespace {

// Calls f(row_in, row_out, scratch) for each row of x (rows, d) in parallel; row_in points at the
// row in A (acc type), converted into scratch first when T != A; f writes A values into row_out,
// which the caller then stores as T.
template <typename T, typename F>
void for_each_row(const array& x, array& out, F f) {
  using A = acc_t<T>;
  size_t d = static_cast<size_t>(x.shape(-1));
  size_t rows = d == 0 ? 0 : x.size() / d;
  const T* src = x.data<T>();
  T* dst = out.data<T>();
  cpu::parallel_for(rows, std::max<size_t>(1, 16384 / std::max<size_t>(d, 1)), [&](size_t b, size_t e) {
    std::vector<A> in_buf, out_buf;
    if constexpr (!std::is_same_v<T, A>) {
      in_buf.resize(d);
      out_buf.resize(d);
    }
    for (size_t r = b; r < e; ++r) {
      const T* xr = src + r * d;
      T* yr = dst + r * d;
      if constexpr (std::is_same_v<T, A>) {
        f(xr, yr);
      } else {
        for (size_t i = 0; i < d; ++i) in_buf[i] = static_cast<A>(xr[i]);
        f(in_buf.data(), out_buf.data());
        for (size_t i = 0; i < d; ++i) yr[i] = T(out_buf[i]);
      }
    }
  });
}

}  // namespace

void RMSNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  dispatch_float(inputs[0].dtype(), "rms_norm", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    array x = cpu::contiguous_as(inputs[0], inputs[0].dtype());
    std::optional<array> w;
    if (has_weight_) w = cpu::contiguous_as(inputs[1], dtype_of<A>);
    const A* wp = w ? w->template data<A>() : nullptr;
    size_t d = static_cast<size_t>(x.shape(-1));
    A eps = static_cast<A>(eps_);
    for_each_row<T>(x, out, [&](const A* xr, A* yr) {
      A r = A(1) / std::sqrt(cpu::dot16(xr, xr, d) / static_cast<A>(d) + eps);
      if (wp) {
        for (size_t i = 0; i < d; ++i) yr[i] = xr[i] * r * wp[i];
      } else {
        for (size_t i = 0; i < d; ++i) yr[i] = xr[i] * r;
      }
    });
  });
}

void LayerNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  dispatch_float(inputs[0].dtype(), "layer_norm", [&](auto t) {
    using T = decltype(t);
    using A = acc_t<T>;
    array x = cpu::contiguous_as(inputs[0], inputs[0].dtype());
    std::optional<array> w, bias;
    int next = 1;
    if (has_weight_) w = cpu::contiguous_as(inputs[next++], dtype_of<A>);
    if (has_bias_) bias = cpu::contiguous_as(inputs[next++], dtype_of<A>);
    const A* wp = w ? w->template data<A>() : nullptr;
    const A* bp = bias ? bias->template data<A>() : nullptr;
    size_t d = static_cast<size_t>(x.shape(-1));
    A eps = static_cast<A>(eps_);
    for_each_row<T>(x, out, [&](const A* xr, A* yr) {
      A mean = cpu::sum16(xr, d) / static_cast<A>(d);
      A var = cpu::sq_dev16(xr, mean, d) / static_cast<A>(d);
      A r = A(1) / std::sqrt(var + eps);
      if (wp && bp) {
        for (size_t i = 0; i < d; ++i) yr[i] = (xr[i] - mean) * r * wp[i] + bp[i];
      } else if (wp) {
        for (size_t i = 0; i < d; ++i) yr[i] = (xr[i] - mean) * r * wp[i];
      } else if (bp) {
        for (size_t i = 0; i < d; ++i) yr[i] = (xr[i] - mean) * r + bp[i];
      } else {
        for (size_t i = 0; i < d; ++i) yr[i] = (xr[i] - mean) * r;
      }
    });
  });
}

}  // namespace tessera::fast
