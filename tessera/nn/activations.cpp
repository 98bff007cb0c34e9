// Activation functions written with tessera ops (differentiable through their primitives).
#include "tessera/nn/activations.h"

#include <cmath>
#include <numbers>
#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::nn {

namespace {
array s(double v, const array& like) {
  Dtype d = is_floating_point(like.dtype()) ? like.dtype() : float32;
  return array(v, d);
}
}  // namespace

array relu(const array& x) { return maximum(x, s(0, x)); }
array step(const array& x, float threshold) {
  return where(greater(x, s(threshold, x)), array(1, int32), array(0, int32));
}
array relu6(const array& x) { return minimum(maximum(x, s(0, x)), s(6, x)); }
array leaky_relu(const array& x, float negative_slope) { return maximum(multiply(s(negative_slope, x), x), x); }
array elu(const array& x, float alpha) {
  return where(greater(x, s(0, x)), x, multiply(s(alpha, x), expm1(x)));
}
array selu(const array& x) { return multiply(elu(x, 1.67326f), s(1.0507, x)); }
array celu(const array& x, float alpha) {
  return add(maximum(x, s(0, x)), multiply(s(alpha, x), expm1(divide(minimum(x, s(0, x)), s(alpha, x)))));
}
array gelu(const array& x) {
  return divide(multiply(x, add(s(1, x), erf(divide(x, s(std::sqrt(2.0), x))))), s(2, x));
}
array gelu_approx(const array& x) {
  auto inner = multiply(s(std::sqrt(2.0 / std::numbers::pi), x), add(x, multiply(s(0.044715, x), power(x, s(3, x)))));
  return multiply(multiply(s(0.5, x), x), add(s(1, x), tessera::tanh(inner)));
}
array gelu_fast_approx(const array& x) { return multiply(x, tessera::sigmoid(multiply(s(1.702, x), x))); }
array silu(const array& x) { return multiply(x, tessera::sigmoid(x)); }
array sigmoid(const array& x) { return tessera::sigmoid(x); }
array tanh(const array& x) { return tessera::tanh(x); }
array softplus(const array& x) { return logaddexp(x, s(0, x)); }
array softsign(const array& x) { return divide(x, add(s(1, x), abs(x))); }
array mish(const array& x) { return multiply(x, tessera::tanh(softplus(x))); }
array hardswish(const array& x) {
  auto m = maximum(add(x, s(3, x)), s(0, x));
  return divide(multiply(x, minimum(m, s(6, x))), s(6, x));
}
array hard_tanh(const array& x, float min_val, float max_val) {
  return minimum(maximum(x, s(min_val, x)), s(max_val, x));
}
array log_sigmoid(const array& x) { return negative(softplus(negative(x))); }
array glu(const array& x, int axis) {
  auto parts = split(x, 2, axis);
  return multiply(parts[0], tessera::sigmoid(parts[1]));
}
array prelu(const array& x, const array& alpha) {
  return add(maximum(s(0, x), x), multiply(alpha, minimum(s(0, x), x)));
}

GELU::GELU(const std::string& approx) : approx_(approx) {
  if (approx != "none" && approx != "precise" && approx != "tanh" && approx != "fast") {
    throw std::invalid_argument("[GELU] approx must be \"none\", \"precise\", \"tanh\" or \"fast\", got \"" +
                                approx + "\".");
  }
}
array GELU::operator()(const array& x) {
  if (approx_ == "none") return gelu(x);
  if (approx_ == "fast") return gelu_fast_approx(x);
  return gelu_approx(x);
}

PReLU::PReLU(int num_parameters, float init) { register_array("weight", full({num_parameters}, init)); }

}  // namespace tessera::nn
