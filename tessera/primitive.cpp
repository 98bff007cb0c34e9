// Default behaviour of primitives: clear errors where a backend or a transform is missing.
#include "tessera/primitive.h"

namespace tessera {

// CPU fallback for primitives without a CUDA kernel: the CPU code reads its inputs through
// array::data(), which copies device-only buffers to the host first (views never touch data, so
// they move nothing); its outputs are host buffers that GPU kernels upload when they read them.
void Primitive::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  eval_cpu(inputs, outputs);
}

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  throw std::invalid_argument(std::string("[") + name() + "] vjp is not implemented.");
}

std::vector<array> Primitive::jvp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&) {
  throw std::invalid_argument(std::string("[") + name() + "] jvp is not implemented.");
}

std::pair<std::vector<array>, std::vector<int>> Primitive::vmap(const std::vector<array>&,
                                                                const std::vector<int>&) {
  throw std::invalid_argument(std::string("[") + name() + "] vmap is not implemented.");
}

std::vector<Shape> Primitive::output_shapes(const std::vector<array>&) {
  throw std::invalid_argument(std::string("[") + name() + "] cannot infer output shapes (shapeless compile).");
}

}  // namespace tessera
