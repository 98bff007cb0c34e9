// eval_gpu of fast::cuda_kernel's CustomKernel: inputs made row-contiguous when asked, outputs
// allocated (and filled with the init value), then the NVRTC-compiled kernel is launched.
#include <cstring>
#include <deque>
#include <stdexcept>

#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/nvrtc.h"
#include "tessera/primitives/custom_kernel.h"

namespace tessera::fast {

using namespace cuda;

namespace {

// Parameter storage with stable addresses (cuLaunchKernel reads each through a pointer).
struct KernelArgs {
  struct alignas(16) Slot {
    char bytes[64];
  };
  std::deque<Slot> storage;
  std::vector<void*> ptrs;
  template <typename T>
  void add(const T& v) {
    static_assert(sizeof(T) <= 64);
    auto& slot = storage.emplace_back();
    std::memcpy(slot.bytes, &v, sizeof(T));
    ptrs.push_back(slot.bytes);
  }
};

template <typename T>
struct Dims {  // layout of tessera_dims<T> in the generated source
  T v[8];
};

}  // namespace

void CustomKernel::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const auto& L = launch_;
  std::vector<array> ins;
  ins.reserve(inputs.size());
  for (auto& in : inputs) ins.push_back(L.ensure_row_contiguous ? contiguous_gpu(in, in.dtype()) : in);
  for (size_t k = 0; k < outputs.size(); ++k) {
    void* p = alloc_out(outputs[k]);
    if (!L.init_values.empty() && outputs[k].size() > 0) {
      fill(p, static_cast<int>(outputs[k].itemsize()), L.init_values[k].data(), outputs[k].size(), current_stream());
    }
  }
  if (L.blocks[0] == 0 || L.blocks[1] == 0 || L.blocks[2] == 0) return;
  KernelArgs args;
  for (size_t i = 0; i < ins.size(); ++i) {
    const array& a = ins[i];
    args.add(a.size() > 0 ? a.device_data() : nullptr);
    const auto& p = L.params[i];
    if (p.shape) {
      Dims<int> d{};
      for (int j = 0; j < static_cast<int>(a.ndim()); ++j) d.v[j] = a.shape(j);
      args.add(d);
    }
    if (p.strides) {
      Dims<long long> d{};
      for (int j = 0; j < static_cast<int>(a.ndim()); ++j) d.v[j] = a.strides()[j];
      args.add(d);
    }
    if (p.ndim) args.add(static_cast<int>(a.ndim()));
  }
  for (auto& o : outputs) args.add(o.size() > 0 ? o.device_data() : nullptr);
  JitFunction f = jit_kernel(L.source, L.kernel_name);
  jit_launch(f, L.blocks.data(), L.threads.data(), static_cast<size_t>(L.shared_memory), args.ptrs.data(),
             current_stream());
}

}  // namespace tessera::fast
