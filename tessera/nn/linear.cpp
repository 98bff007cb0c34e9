// nn::Linear.
#include "tessera/nn/linear.h"

#include <cmath>
#include <stdexcept>

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
  const auto& w = get_array("weight");
  if (contains("bias")) return addmm(get_array("bias"), x, transpose(w));
  return matmul(x, transpose(w));
}

}  // namespace tessera::nn
