// Parameter initializers with MLX's fan computations.
#include "tessera/nn/init.h"

#include <cmath>
#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/random.h"

namespace tessera::nn::init {

Initializer constant(float value, Dtype dtype) {
  return [=](const array& a) { return full(a.shape(), value, dtype); };
}
Initializer normal(float mean, float std, Dtype dtype) {
  return [=](const array& a) { return random::normal(a.shape(), dtype, mean, std); };
}
Initializer uniform(float low, float high, Dtype dtype) {
  return [=](const array& a) { return random::uniform(low, high, a.shape(), dtype); };
}
Initializer identity(Dtype dtype) {
  return [=](const array& a) {
    if (a.ndim() != 2 || a.shape(0) != a.shape(1)) {
      throw std::invalid_argument("[init] identity needs a square matrix, got shape " + shape_str(a.shape()) + ".");
    }
    return eye(a.shape(0), dtype);
  };
}

std::pair<int, int> fan_in_fan_out(const array& a) {
  if (a.ndim() < 2) {
    throw std::invalid_argument("[init] glorot/he initialization needs at least 2 dims, got shape " +
                                shape_str(a.shape()) + ".");
  }
  int fan_in = a.shape(-1), fan_out = a.shape(0);
  int receptive = 1;
  for (int d = 1; d + 1 < a.ndim(); ++d) receptive *= a.shape(d);
  return {fan_in * receptive, fan_out * receptive};
}

array Glorot::operator()(const array& a, float gain) const {
  auto [fan_in, fan_out] = fan_in_fan_out(a);
  if (uniform) {
    float limit = gain * std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
    return random::uniform(-limit, limit, a.shape(), dtype);
  }
  float std = gain * std::sqrt(2.0f / static_cast<float>(fan_in + fan_out));
  return random::normal(a.shape(), dtype, 0.0f, std);
}
Glorot glorot_normal(Dtype dtype) { return {false, dtype}; }
Glorot glorot_uniform(Dtype dtype) { return {true, dtype}; }

array He::operator()(const array& a, const std::string& mode, float gain) const {
  auto [fan_in, fan_out] = fan_in_fan_out(a);
  int fan;
  if (mode == "fan_in") fan = fan_in;
  else if (mode == "fan_out") fan = fan_out;
  else throw std::invalid_argument("[init] mode must be \"fan_in\" or \"fan_out\", got \"" + mode + "\".");
  if (uniform) {
    float limit = gain * std::sqrt(3.0f / static_cast<float>(fan));
    return random::uniform(-limit, limit, a.shape(), dtype);
  }
  return random::normal(a.shape(), dtype, 0.0f, gain / std::sqrt(static_cast<float>(fan)));
}
He he_normal(Dtype dtype) { return {false, dtype}; }
He he_uniform(Dtype dtype) { return {true, dtype}; }

}  // namespace tessera::nn::init
