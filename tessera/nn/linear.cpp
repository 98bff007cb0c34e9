// nn::Linear.
#include "tessera/nn/linear.h"

#include <cmath>
#include <stdexcept>

#include "tessera/nn/functional.h"
#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn {

Linear::Linear(int input_dims, int output_dims, bool bias) {
  if (input_dims <= 0 || output_dims <= 0) throw std::invalid_argument("[Linear] dims must be positive.");
  float scale = std::sqrt(1.0f / static_cast<float>(input_dims));
  register_array("weight", random::uniform(-scale, scale, {output_dims, input_dims}));
  if (bias) register_array("bias", random::uniform(-scale, scale, {output_dims}));
}

array Linear::operator()(const array& x) {
  std::optional<array> b;
  if (contains("bias")) b = get_array("bias");
  return functional::linear(x, get_array("weight"), b);
}

array functional::linear(const array& x, const array& weight, const std::optional<array>& bias) {
  if (weight.ndim() != 2 || x.ndim() < 1 || x.shape(-1) != weight.shape(1)) {
    throw std::invalid_argument("[nn] linear: x " + shape_str(x.shape()) + " does not match weight " +
                                shape_str(weight.shape()) + " (out, in).");
  }
  if (bias) return addmm(*bias, x, transpose(weight));
  return matmul(x, transpose(weight));
}

}  // namespace tessera::nn
