// The CustomKernel primitive of fast::cuda_kernel: a generated CUDA source launched on the GPU.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera::fast {

// Which extra parameters follow an input's pointer in the generated signature.
struct KernelInputParams {
  bool shape = false, strides = false, ndim = false;
};

struct CustomKernelLaunch {
  std::string kernel_name;  // extern "C" name in `source`
  std::string source;       // the whole generated translation unit
  std::array<unsigned, 3> blocks{1, 1, 1}, threads{1, 1, 1};
  int shared_memory = 0;
  std::vector<KernelInputParams> params;  // one per input
  bool ensure_row_contiguous = true;
  std::vector<std::vector<char>> init_values;  // per output: one element's bytes (empty: no init)
};

// inputs: the kernel's inputs; outputs: as declared at the call.
class CustomKernel : public Primitive {
 public:
  CustomKernel(Stream s, CustomKernelLaunch launch) : Primitive(s), launch_(std::move(launch)) {}
  // Throws "[cuda_kernel] needs a GPU".
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(CustomKernel)
  TESSERA_VMAP_RULE
  const CustomKernelLaunch& launch() const { return launch_; }

 private:
  CustomKernelLaunch launch_;
};

}  // namespace tessera::fast
