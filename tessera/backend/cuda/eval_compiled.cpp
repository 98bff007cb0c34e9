// eval_gpu of compile's Compiled primitive: the fused chain becomes one NVRTC kernel (cached by
// source, so each chain and input layout compiles once), launched over the output's elements.
#include <algorithm>
#include <deque>
#include <stdexcept>

#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/fused_kernel.h"
#include "tessera/backend/cuda/nvrtc.h"
#include "tessera/compile/compiled.h"

namespace tessera::detail {

using namespace cuda;

void Compiled::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  const Dtype d = out.dtype();
  const int nin = num_inputs_;
  std::vector<FusedAccess> access(nin);
  std::vector<const Strides*> strided;
  for (int i = 0; i < nin; ++i) {
    const array& in = inputs[i];
    if (in.dtype() != d || in.shape() != out.shape()) {
      throw std::runtime_error("[compile] fused GPU chain: an input's dtype or shape differs from the output's.");
    }
    if (in.data_size() == 1) {
      access[i] = FusedAccess::scalar;
    } else if (in.flags().row_contiguous && in.data_size() == in.size()) {
      access[i] = FusedAccess::dense;
    } else {
      access[i] = FusedAccess::strided;
      strided.push_back(&in.strides());
    }
  }
  void* o = alloc_out(out);
  const size_t n = out.size();
  if (n == 0) return;
  std::vector<int64_t> shape;
  std::vector<std::vector<int64_t>> st;
  if (!strided.empty()) collapse_dims(out.shape(), strided, shape, st);
  if (shape.size() > static_cast<size_t>(kMaxDims)) {
    throw std::runtime_error("[compile] fused GPU chain over more than 8 dimensions.");
  }
  const std::string source = fused_kernel_source(d, instrs_, access, static_cast<int>(shape.size()));
  JitFunction f = jit_kernel(source, "tessera_fused");

  struct Dims {
    long long v[8]{};
  };
  std::deque<Dims> dims;  // stable addresses for the argument pointers
  std::vector<const void*> ptrs(nin);
  std::vector<void*> args;
  long long count = static_cast<long long>(n);
  args.push_back(&count);
  for (int i = 0, s = 0; i < nin; ++i) {
    ptrs[i] = inputs[i].device_data();
    args.push_back(&ptrs[i]);
    if (access[i] == FusedAccess::strided) {
      auto& dm = dims.emplace_back();
      std::copy(st[s].begin(), st[s].end(), dm.v);
      ++s;
      args.push_back(&dm);
    }
  }
  args.push_back(&o);
  if (!strided.empty()) {
    auto& dm = dims.emplace_back();
    std::copy(shape.begin(), shape.end(), dm.v);
    args.push_back(&dm);
  }
  constexpr unsigned kThreads = 256, kMaxBlocks = 1u << 20;  // grid-stride past kMaxBlocks blocks
  const unsigned grid[3] = {static_cast<unsigned>(std::min<size_t>((n + kThreads - 1) / kThreads, kMaxBlocks)), 1, 1};
  const unsigned block[3] = {kThreads, 1, 1};
  jit_launch(f, grid, block, 0, args.data(), current_stream());
}

}  // namespace tessera::detail
