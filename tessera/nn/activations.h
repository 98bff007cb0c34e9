// Activation functions and their Module wrappers (MLX's mlx.nn activations, same formulas).
#pragma once

#include <string>

#include "tessera/array.h"
#include "tessera/nn/module.h"

namespace tessera::nn {

// Elementwise; x: any shape, float dtype (scalars take x's dtype).
array relu(const array& x);                                    // max(x, 0)
array relu6(const array& x);                                   // min(max(x, 0), 6)
array leaky_relu(const array& x, float negative_slope = 0.01f);  // max(slope * x, x)
array elu(const array& x, float alpha = 1.0f);                 // x > 0 ? x : alpha (e^x - 1)
array selu(const array& x);                                    // 1.0507 * elu(x, 1.67326)
array celu(const array& x, float alpha = 1.0f);                // max(x, 0) + alpha (e^(min(x, 0) / alpha) - 1)
array gelu(const array& x);                                    // x (1 + erf(x / sqrt 2)) / 2
array gelu_approx(const array& x);  // x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
array gelu_fast_approx(const array& x);                        // x sigmoid(1.702 x)
array silu(const array& x);                                    // x sigmoid(x)
array sigmoid(const array& x);
array tanh(const array& x);
array softplus(const array& x);                                // log(1 + e^x)
array softsign(const array& x);                                // x / (1 + |x|)
array mish(const array& x);                                    // x tanh(softplus(x))
array hardswish(const array& x);                               // x min(max(x + 3, 0), 6) / 6
array hard_tanh(const array& x, float min_val = -1.0f, float max_val = 1.0f);
array log_sigmoid(const array& x);                             // -softplus(-x)
array glu(const array& x, int axis = -1);                      // a sigmoid(b), (a, b) = halves along axis
array prelu(const array& x, const array& alpha);               // max(0, x) + alpha min(0, x)
array step(const array& x, float threshold = 0.0f);            // int32: 1 where x > threshold, else 0

// Modules without parameters.
#define TESSERA_NN_ACTIVATION(NAME, FN)                       \
  class NAME : public Module {                                \
   public:                                                    \
    std::string name() const override { return #NAME; }       \
    array operator()(const array& x) override { return FN(x); } \
  };
TESSERA_NN_ACTIVATION(ReLU, relu)
TESSERA_NN_ACTIVATION(ReLU6, relu6)
TESSERA_NN_ACTIVATION(SELU, selu)
TESSERA_NN_ACTIVATION(SiLU, silu)
TESSERA_NN_ACTIVATION(Sigmoid, sigmoid)
TESSERA_NN_ACTIVATION(Tanh, tanh)
TESSERA_NN_ACTIVATION(Softplus, softplus)
TESSERA_NN_ACTIVATION(Softsign, softsign)
TESSERA_NN_ACTIVATION(Mish, mish)
TESSERA_NN_ACTIVATION(Hardswish, hardswish)
TESSERA_NN_ACTIVATION(LogSigmoid, log_sigmoid)
#undef TESSERA_NN_ACTIVATION

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(float negative_slope = 0.01f) : slope_(negative_slope) {}
  std::string name() const override { return "LeakyReLU"; }
  array operator()(const array& x) override { return leaky_relu(x, slope_); }

 private:
  float slope_;
};

class ELU : public Module {
 public:
  explicit ELU(float alpha = 1.0f) : alpha_(alpha) {}
  std::string name() const override { return "ELU"; }
  array operator()(const array& x) override { return elu(x, alpha_); }

 private:
  float alpha_;
};

class CELU : public Module {
 public:
  explicit CELU(float alpha = 1.0f) : alpha_(alpha) {}
  std::string name() const override { return "CELU"; }
  array operator()(const array& x) override { return celu(x, alpha_); }

 private:
  float alpha_;
};

class HardTanh : public Module {
 public:
  HardTanh(float min_val = -1.0f, float max_val = 1.0f) : lo_(min_val), hi_(max_val) {}
  std::string name() const override { return "HardTanh"; }
  array operator()(const array& x) override { return hard_tanh(x, lo_, hi_); }

 private:
  float lo_, hi_;
};

class GLU : public Module {
 public:
  explicit GLU(int axis = -1) : axis_(axis) {}
  std::string name() const override { return "GLU"; }
  array operator()(const array& x) override { return glu(x, axis_); }

 private:
  int axis_;
};

// approx: "none" (erf), "precise" or "tanh" (gelu_approx), "fast" (gelu_fast_approx).
class GELU : public Module {
 public:
  explicit GELU(const std::string& approx = "none");
  std::string name() const override { return "GELU"; }
  array operator()(const array& x) override;

 private:
  std::string approx_;
};

// Learnable slope: "weight" (num_parameters,) filled with init.
class PReLU : public Module {
 public:
  explicit PReLU(int num_parameters = 1, float init = 0.25f);
  std::string name() const override { return "PReLU"; }
  array operator()(const array& x) override { return prelu(x, get_array("weight")); }
};

}  // namespace tessera::nn
