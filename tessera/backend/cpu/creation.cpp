// CPU evaluation of creation primitives.
#include "tessera/backend/cpu/copy.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/creation.h"

namespace tessera {

void Full::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  auto& out = outputs[0];
  if (in.data_size() == 1) {
    out.set_data(allocator::malloc(out.nbytes()));
    dispatch_dtype(out.dtype(), [&](auto t) {
      using T = decltype(t);
      T v = in.data<T>()[0];
      T* o = out.data<T>();
      cpu::parallel_for(out.size(), 1 << 16, [&](size_t b, size_t e) { std::fill(o + b, o + e, v); });
    });
  } else {
    cpu::copy_to_contiguous(in, out);
  }
}

void Arange::eval_cpu(const std::vector<array>&, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  dispatch_dtype(out.dtype(), [&](auto t) {
    using T = decltype(t);
    T* o = out.data<T>();
    for (size_t i = 0; i < out.size(); ++i) {
      if constexpr (std::is_same_v<T, complex64_t>) {
        o[i] = T(static_cast<float>(start_ + i * step_), 0.0f);
      } else {
        o[i] = static_cast<T>(static_cast<acc_t<T>>(start_ + static_cast<double>(i) * step_));
      }
    }
  });
}

bool Arange::is_equivalent(const Primitive& o) const {
  auto& a = static_cast<const Arange&>(o);
  return start_ == a.start_ && stop_ == a.stop_ && step_ == a.step_;
}

}  // namespace tessera
