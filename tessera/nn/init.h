// Parameter initializers (MLX's mlx.nn.init): each returns a function mapping an array to a new array of
// its shape, drawn with the global random key (random::seed makes them reproducible).
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "tessera/array.h"

namespace tessera::nn::init {

using Initializer = std::function<array(const array&)>;

Initializer constant(float value, Dtype dtype = float32);
Initializer normal(float mean = 0.0f, float std = 1.0f, Dtype dtype = float32);
Initializer uniform(float low = 0.0f, float high = 1.0f, Dtype dtype = float32);
// a must be a square matrix (throws "[init] ...").
Initializer identity(Dtype dtype = float32);

// MLX's fans: a (out, ..., in) with ndim >= 2: fan_in = in * receptive, fan_out = out * receptive,
// receptive = product of the middle dims.
std::pair<int, int> fan_in_fan_out(const array& a);

// Glorot/Xavier: std = gain * sqrt(2 / (fan_in + fan_out)); uniform limit gain * sqrt(6 / (fan_in + fan_out)).
struct Glorot {
  bool uniform;
  Dtype dtype;
  array operator()(const array& a, float gain = 1.0f) const;
};
Glorot glorot_normal(Dtype dtype = float32);
Glorot glorot_uniform(Dtype dtype = float32);

// He/Kaiming: fan = fan_in or fan_out by mode; std = gain / sqrt(fan); uniform limit gain * sqrt(3 / fan).
struct He {
  bool uniform;
  Dtype dtype;
  array operator()(const array& a, const std::string& mode = "fan_in", float gain = 1.0f) const;
};
He he_normal(Dtype dtype = float32);
He he_uniform(Dtype dtype = float32);

}  // namespace tessera::nn::init
