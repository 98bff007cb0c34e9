// Random numbers (MLX's mlx.core.random): counter-based Threefry-2x32 keys, bits and distributions.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera::random {

namespace detail {
// Distribution parameters may be arrays or plain numbers (mixed freely).
template <typename T>
concept Param = std::is_arithmetic_v<T> || std::is_same_v<T, array>;
template <typename T>
array to_param(const T& v) {
  if constexpr (std::is_same_v<T, array>) return v;
  else return array(static_cast<double>(v), float64);
}
}  // namespace detail

// A PRNG key: uint32 array of shape (2,) holding (seed >> 32, seed & 0xffffffff).
array key(uint64_t seed);
// Seeds the global key that ops use when they get no key.
void seed(uint64_t seed);
// Splits the global key: the global state advances and the returned key is fresh.
array new_key();

// The Threefry-2x32 block function with 20 rounds (as JAX/MLX): hashes `count` under `key`.
std::pair<uint32_t, uint32_t> threefry2x32_hash(std::pair<uint32_t, uint32_t> key, std::pair<uint32_t, uint32_t> count);

// Random bits of the given byte width (1, 2 or 4 -> uint8, uint16, uint32).
array bits(const Shape& shape, int width = 4, const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});
array bits(const Shape& shape, const std::optional<array>& key, StreamOrDevice s = {});

// num new keys from `key`: (num, 2) uint32.
array split(const array& key, int num, StreamOrDevice s = {});
std::pair<array, array> split(const array& key, StreamOrDevice s = {});

// Uniform in [low, high); low/high broadcast to `shape`. dtype must be real floating point. Every
// float dtype draws 32 bits per value (float64 values thus have 32-bit resolution).
array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype = float32,
              const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});
template <detail::Param T, detail::Param U>
  requires(!(std::is_same_v<T, array> && std::is_same_v<U, array>))
array uniform(const T& low, const U& high, const Shape& shape, Dtype dtype = float32,
              const std::optional<array>& key = std::nullopt, StreamOrDevice s = {}) {
  return uniform(detail::to_param(low), detail::to_param(high), shape, dtype, key, s);
}
array uniform(const Shape& shape, Dtype dtype, const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});
array uniform(const Shape& shape, const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});

// Normal with mean loc and standard deviation scale, via sqrt(2) * erfinv(uniform(-1, 1)).
array normal(const Shape& shape, Dtype dtype, float loc, float scale, const std::optional<array>& key = std::nullopt,
             StreamOrDevice s = {});
array normal(const Shape& shape, float loc, float scale, const std::optional<array>& key = std::nullopt,
             StreamOrDevice s = {});
array normal(const Shape& shape, Dtype dtype, const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});
array normal(const Shape& shape, const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});

// Standard normal truncated to [lower, upper] (arrays broadcast to `shape`).
array truncated_normal(const array& lower, const array& upper, const Shape& shape, Dtype dtype = float32,
                       const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});
// Shape: the broadcast of lower and upper.
array truncated_normal(const array& lower, const array& upper, Dtype dtype = float32,
                       const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});

// Integers in [low, high) (arrays broadcast to `shape`); dtype integral.
array randint(const array& low, const array& high, const Shape& shape, Dtype dtype = int32,
              const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});
template <detail::Param T, detail::Param U>
  requires(!(std::is_same_v<T, array> && std::is_same_v<U, array>))
array randint(const T& low, const U& high, const Shape& shape, Dtype dtype = int32,
              const std::optional<array>& key = std::nullopt, StreamOrDevice s = {}) {
  return randint(detail::to_param(low), detail::to_param(high), shape, dtype, key, s);
}

// Booleans that are true with probability p (p broadcast to `shape`; default shape p's shape).
array bernoulli(const array& p, const Shape& shape, const std::optional<array>& key = std::nullopt,
                StreamOrDevice s = {});
array bernoulli(const array& p, const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});
template <typename T>
  requires std::is_arithmetic_v<T>
array bernoulli(T p, const Shape& shape, const std::optional<array>& key = std::nullopt, StreamOrDevice s = {}) {
  return bernoulli(array(static_cast<float>(p)), shape, key, s);
}
array bernoulli(const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});  // p = 0.5, scalar

// Samples from the categorical distributions given by unnormalized log-probabilities along `axis`
// (Gumbel-max). Result uint32. shape: the output shape (logits without `axis` must broadcast to it).
array categorical(const array& logits, int axis, const Shape& shape, const std::optional<array>& key = std::nullopt,
                  StreamOrDevice s = {});
// num_samples draws per distribution: shape = logits.shape without axis, plus (num_samples,).
array categorical(const array& logits, int axis, int num_samples, const std::optional<array>& key = std::nullopt,
                  StreamOrDevice s = {});
array categorical(const array& logits, int axis = -1, const std::optional<array>& key = std::nullopt,
                  StreamOrDevice s = {});

// Standard Gumbel samples: -log(-log(u)).
array gumbel(const Shape& shape, Dtype dtype = float32, const std::optional<array>& key = std::nullopt,
             StreamOrDevice s = {});

// x shuffled along `axis`; or a permutation of arange(n) (int32).
array permutation(const array& x, int axis = 0, const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});
array permutation(int n, const std::optional<array>& key = std::nullopt, StreamOrDevice s = {});

}  // namespace tessera::random
