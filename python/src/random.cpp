// Bindings for tessera/random.h as tessera.core.random (MLX signatures, `key=` on every sampler).
#include "utils.h"

using namespace tessera;
using txpy::to_array;

namespace {

using OptKey = std::optional<array>;

}  // namespace

void init_random(nb::module_& m) {
  auto r = m.def_submodule("random", "Random number generation (counter-based Threefry keys).");
  r.def("key", [](uint64_t seed) { return random::key(seed); }, "seed"_a, "A PRNG key (uint32, shape (2,)) from a seed.");
  r.def("seed", [](uint64_t seed) { random::seed(seed); }, "seed"_a, "Seeds the global PRNG.");
  r.def("split", [](const array& key, int num, StreamOrDevice s) { return random::split(key, num, s); }, "key"_a,
        "num"_a = 2, TX_STREAM, "Splits a key into ``num`` new keys (shape (num, 2)).");
  r.def("bits",
        [](const IntOrVec& shape, int width, OptKey key, StreamOrDevice s) {
          return random::bits(txpy::to_shape(shape), width, key, s);
        },
        "shape"_a = std::vector<int>{}, "width"_a = 4, "key"_a = nb::none(), TX_STREAM,
        "Random bits of ``width`` bytes (1, 2 or 4) per element.");
  r.def("uniform",
        [](const ArrayLike& low, const ArrayLike& high, const IntOrVec& shape, Dtype dtype, OptKey key,
           StreamOrDevice s) {
          return random::uniform(to_array(low, float32), to_array(high, float32), txpy::to_shape(shape), dtype, key, s);
        },
        "low"_a = 0, "high"_a = 1, "shape"_a = std::vector<int>{}, "dtype"_a = float32, "key"_a = nb::none(), TX_STREAM,
        "Uniform samples in [low, high).");
  r.def("normal",
        [](const IntOrVec& shape, Dtype dtype, float loc, float scale, OptKey key, StreamOrDevice s) {
          return random::normal(txpy::to_shape(shape), dtype, loc, scale, key, s);
        },
        "shape"_a = std::vector<int>{}, "dtype"_a = float32, "loc"_a = 0.0f, "scale"_a = 1.0f, "key"_a = nb::none(),
        TX_STREAM, "Normal samples with mean ``loc`` and standard deviation ``scale``.");
  r.def("randint",
        [](const ArrayLike& low, const ArrayLike& high, const IntOrVec& shape, Dtype dtype, OptKey key,
           StreamOrDevice s) {
          return random::randint(to_array(low), to_array(high), txpy::to_shape(shape), dtype, key, s);
        },
        "low"_a, "high"_a, "shape"_a = std::vector<int>{}, "dtype"_a = int32, "key"_a = nb::none(), TX_STREAM,
        "Random integers in [low, high).");
  r.def("bernoulli",
        [](const ArrayLike& p, std::optional<IntOrVec> shape, OptKey key, StreamOrDevice s) {
          array pp = to_array(p, float32);
          return shape ? random::bernoulli(pp, txpy::to_shape(*shape), key, s) : random::bernoulli(pp, key, s);
        },
        "p"_a = 0.5, "shape"_a = nb::none(), "key"_a = nb::none(), TX_STREAM,
        "Booleans that are true with probability ``p``.");
  r.def("truncated_normal",
        [](const ArrayLike& lower, const ArrayLike& upper, std::optional<IntOrVec> shape, Dtype dtype, OptKey key,
           StreamOrDevice s) {
          array lo = to_array(lower, float32), hi = to_array(upper, float32);
          if (shape) return random::truncated_normal(lo, hi, txpy::to_shape(*shape), dtype, key, s);
          return random::truncated_normal(lo, hi, dtype, key, s);
        },
        "lower"_a, "upper"_a, "shape"_a = nb::none(), "dtype"_a = float32, "key"_a = nb::none(), TX_STREAM,
        "Standard normal samples truncated to [lower, upper].");
  r.def("gumbel",
        [](const IntOrVec& shape, Dtype dtype, OptKey key, StreamOrDevice s) {
          return random::gumbel(txpy::to_shape(shape), dtype, key, s);
        },
        "shape"_a = std::vector<int>{}, "dtype"_a = float32, "key"_a = nb::none(), TX_STREAM,
        "Standard Gumbel samples.");
  r.def("categorical",
        [](const ArrayLike& logits, int axis, std::optional<IntOrVec> shape, std::optional<int> num_samples, OptKey key,
           StreamOrDevice s) {
          array l = to_array(logits);
          if (shape && num_samples) {
            throw std::invalid_argument("[categorical] at most one of shape or num_samples can be given.");
          }
          if (shape) return random::categorical(l, axis, txpy::to_shape(*shape), key, s);
          if (num_samples) return random::categorical(l, axis, *num_samples, key, s);
          return random::categorical(l, axis, key, s);
        },
        "logits"_a, "axis"_a = -1, "shape"_a = nb::none(), "num_samples"_a = nb::none(), "key"_a = nb::none(),
        TX_STREAM, "Samples (uint32) from the categorical distributions given by unnormalized log-probabilities.");
  r.def("permutation",
        [](const ArrayLike& x, int axis, OptKey key, StreamOrDevice s) {
          if (nb::isinstance<nb::int_>(x.obj)) return random::permutation(nb::cast<int>(x.obj), key, s);
          return random::permutation(to_array(x), axis, key, s);
        },
        "x"_a, "axis"_a = 0, "key"_a = nb::none(), TX_STREAM,
        "A random permutation of arange(x) (int x), or x shuffled along ``axis``.");
}
