// Random ops: key handling (global key sequence), argument checks, and the graph of bits + maps.
#include "tessera/random.h"

#include <chrono>
#include <mutex>

#include "tessera/backend/common/utils.h"
#include "tessera/ops/creation.h"
#include "tessera/ops/shape.h"
#include "tessera/primitives/random.h"

namespace tessera::random {

namespace {

[[noreturn]] void fail(const char* op, const std::string& msg) {
  throw std::invalid_argument(std::string("[random.") + op + "] " + msg);
}

// The global key, kept on the host so that drawing keys never grows a graph.
struct KeySequence {
  std::mutex mu;
  std::pair<uint32_t, uint32_t> key;
  KeySequence() {
    auto t = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    key = {static_cast<uint32_t>(t >> 32), static_cast<uint32_t>(t)};
  }
  static KeySequence& get() {
    static KeySequence seq;
    return seq;
  }
};

// split(key) on the host: RandomBits' layout for a (2, 2) uint32 output.
std::pair<std::pair<uint32_t, uint32_t>, std::pair<uint32_t, uint32_t>> host_split(std::pair<uint32_t, uint32_t> k) {
  auto a = threefry2x32_hash(k, {0, 2});
  auto b = threefry2x32_hash(k, {1, 3});
  return {{a.first, b.first}, {a.second, b.second}};
}

array key_or_new(const std::optional<array>& key, const char* op) {
  if (!key) return new_key();
  if (key->dtype() != uint32) fail(op, "Expected a key of type uint32 but got " + dtype_name(key->dtype()) + ".");
  if (key->shape() != Shape{2}) fail(op, "Expected a key of shape (2,) but got " + shape_str(key->shape()) + ".");
  return *key;
}

void check_shape(const Shape& shape, const char* op) {
  for (auto d : shape) {
    if (d < 0) fail(op, "Negative dimension in shape " + shape_str(shape) + ".");
  }
  shape_size(shape);
}

void check_float(Dtype dtype, const char* op) {
  if (!is_floating_point(dtype)) {
    fail(op, std::string("Can only generate ") + op + " numbers with a real floating point type, got " +
                 dtype_name(dtype) + ".");
  }
}

// A distribution parameter as float64 broadcast to `shape`; the shape must not grow.
array param(const array& p, const Shape& shape, const char* op, const char* what, const Stream& st) {
  if (is_complex(p.dtype())) fail(op, std::string(what) + " must be real.");
  auto b = broadcast_shapes(p.shape(), shape, (std::string("random.") + op).c_str());
  if (b != shape) {
    fail(op, std::string("Cannot generate random values of shape ") + shape_str(shape) + " from " + what +
                 " of shape " + shape_str(p.shape()) + ".");
  }
  return broadcast_to(astype(p, float64, st), shape, st);
}

array map_bits(RandomMap::Kind kind, const Shape& shape, Dtype dtype, std::vector<array> params,
               const std::optional<array>& key, const char* op, const Stream& st, float loc = 0.0f,
               float scale = 1.0f) {
  auto k = key_or_new(key, op);
  auto b = array(shape, uint32, std::make_shared<RandomBits>(st, 4), {k});
  params.insert(params.begin(), b);
  return array(shape, dtype, std::make_shared<RandomMap>(st, kind, loc, scale), std::move(params));
}

}  // namespace

std::pair<uint32_t, uint32_t> threefry2x32_hash(std::pair<uint32_t, uint32_t> key, std::pair<uint32_t, uint32_t> count) {
  constexpr uint32_t rotations[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  uint32_t ks[3] = {key.first, key.second, key.first ^ key.second ^ 0x1BD11BDAu};
  uint32_t x0 = count.first + ks[0], x1 = count.second + ks[1];
  for (uint32_t i = 0; i < 5; ++i) {
    for (uint32_t r : rotations[i % 2]) {
      x0 += x1;
      x1 = (x1 << r) | (x1 >> (32 - r));
      x1 ^= x0;
    }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + i + 1;
  }
  return {x0, x1};
}

array key(uint64_t seed) {
  return array({static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(seed & 0xffffffffu)});
}

void seed(uint64_t s) {
  auto& seq = KeySequence::get();
  std::lock_guard<std::mutex> lock(seq.mu);
  seq.key = {static_cast<uint32_t>(s >> 32), static_cast<uint32_t>(s & 0xffffffffu)};
}

array new_key() {
  auto& seq = KeySequence::get();
  std::pair<uint32_t, uint32_t> out;
  {
    std::lock_guard<std::mutex> lock(seq.mu);
    auto [next, fresh] = host_split(seq.key);
    seq.key = next;
    out = fresh;
  }
  return array({out.first, out.second});
}

array bits(const Shape& shape, int width, const std::optional<array>& key, StreamOrDevice s) {
  check_shape(shape, "bits");
  if (width != 1 && width != 2 && width != 4) {
    fail("bits", "Bit width must be in {1, 2, 4} but got " + std::to_string(width) + ".");
  }
  auto k = key_or_new(key, "bits");
  Dtype dt = width == 1 ? uint8 : width == 2 ? uint16 : uint32;
  return array(shape, dt, std::make_shared<RandomBits>(to_stream(s), width), {k});
}

array bits(const Shape& shape, const std::optional<array>& key, StreamOrDevice s) { return bits(shape, 4, key, s); }

array split(const array& key, int num, StreamOrDevice s) {
  if (num < 1) fail("split", "num must be at least 1 but is " + std::to_string(num) + ".");
  key_or_new(key, "split");
  return bits({num, 2}, 4, key, s);
}

std::pair<array, array> split(const array& key, StreamOrDevice s) {
  auto keys = split(key, 2, s);
  return {reshape(slice(keys, {0, 0}, {1, 2}, s), {2}, s), reshape(slice(keys, {1, 0}, {2, 2}, s), {2}, s)};
}

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype, const std::optional<array>& key,
              StreamOrDevice s) {
  check_shape(shape, "uniform");
  check_float(dtype, "uniform");
  auto st = to_stream(s);
  auto lo = param(low, shape, "uniform", "low", st);
  auto hi = param(high, shape, "uniform", "high", st);
  return map_bits(RandomMap::Kind::uniform, shape, dtype, {lo, hi}, key, "uniform", st);
}

array uniform(const Shape& shape, Dtype dtype, const std::optional<array>& key, StreamOrDevice s) {
  return uniform(array(0.0), array(1.0), shape, dtype, key, s);
}
array uniform(const Shape& shape, const std::optional<array>& key, StreamOrDevice s) {
  return uniform(shape, float32, key, s);
}

array normal(const Shape& shape, Dtype dtype, float loc, float scale, const std::optional<array>& key,
             StreamOrDevice s) {
  check_shape(shape, "normal");
  check_float(dtype, "normal");
  return map_bits(RandomMap::Kind::normal, shape, dtype, {}, key, "normal", to_stream(s), loc, scale);
}
array normal(const Shape& shape, float loc, float scale, const std::optional<array>& key, StreamOrDevice s) {
  return normal(shape, float32, loc, scale, key, s);
}
array normal(const Shape& shape, Dtype dtype, const std::optional<array>& key, StreamOrDevice s) {
  return normal(shape, dtype, 0.0f, 1.0f, key, s);
}
array normal(const Shape& shape, const std::optional<array>& key, StreamOrDevice s) {
  return normal(shape, float32, 0.0f, 1.0f, key, s);
}

array truncated_normal(const array& lower, const array& upper, const Shape& shape, Dtype dtype,
                       const std::optional<array>& key, StreamOrDevice s) {
  check_shape(shape, "truncated_normal");
  check_float(dtype, "truncated_normal");
  auto st = to_stream(s);
  auto lo = param(lower, shape, "truncated_normal", "lower", st);
  auto hi = param(upper, shape, "truncated_normal", "upper", st);
  return map_bits(RandomMap::Kind::truncated_normal, shape, dtype, {lo, hi}, key, "truncated_normal", st);
}

array truncated_normal(const array& lower, const array& upper, Dtype dtype, const std::optional<array>& key,
                       StreamOrDevice s) {
  auto shape = broadcast_shapes(lower.shape(), upper.shape(), "random.truncated_normal");
  return truncated_normal(lower, upper, shape, dtype, key, s);
}

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype, const std::optional<array>& key,
              StreamOrDevice s) {
  check_shape(shape, "randint");
  if (!is_integral(dtype)) {
    fail("randint", "randint only accepts integer dtypes and bool, got " + dtype_name(dtype) + ".");
  }
  auto st = to_stream(s);
  auto lo = param(low, shape, "randint", "low", st);
  auto hi = param(high, shape, "randint", "high", st);
  return map_bits(RandomMap::Kind::randint, shape, dtype, {lo, hi}, key, "randint", st);
}

array bernoulli(const array& p, const Shape& shape, const std::optional<array>& key, StreamOrDevice s) {
  check_shape(shape, "bernoulli");
  if (!is_floating_point(p.dtype())) {
    fail("bernoulli", "The probability p must be a floating point array but has type " + dtype_name(p.dtype()) + ".");
  }
  auto st = to_stream(s);
  auto pp = param(p, shape, "bernoulli", "p", st);
  return map_bits(RandomMap::Kind::bernoulli, shape, bool_, {pp}, key, "bernoulli", st);
}
array bernoulli(const array& p, const std::optional<array>& key, StreamOrDevice s) {
  return bernoulli(p, p.shape(), key, s);
}
array bernoulli(const std::optional<array>& key, StreamOrDevice s) { return bernoulli(array(0.5f), Shape{}, key, s); }

array gumbel(const Shape& shape, Dtype dtype, const std::optional<array>& key, StreamOrDevice s) {
  check_shape(shape, "gumbel");
  check_float(dtype, "gumbel");
  return map_bits(RandomMap::Kind::gumbel, shape, dtype, {}, key, "gumbel", to_stream(s));
}

array categorical(const array& logits, int axis, const Shape& shape, const std::optional<array>& key,
                  StreamOrDevice s) {
  check_shape(shape, "categorical");
  if (logits.ndim() == 0) fail("categorical", "logits must have at least one dimension.");
  if (is_complex(logits.dtype()) || logits.dtype() == bool_) {
    fail("categorical", "logits must be real numbers but have type " + dtype_name(logits.dtype()) + ".");
  }
  int ax = normalize_axis(axis, logits.ndim(), "random.categorical");
  int n = logits.shape(ax);
  if (n == 0) fail("categorical", "Cannot sample from an empty set of categories.");
  // The category axis goes where it sits in logits, counted from the end.
  int from_end = logits.ndim() - 1 - ax;
  if (static_cast<int>(shape.size()) < from_end) {
    fail("categorical", "Requested shape " + shape_str(shape) + " is not compatible with logits of shape " +
                            shape_str(logits.shape()) + ".");
  }
  int out_ax = static_cast<int>(shape.size()) - from_end;
  Shape full = shape;
  full.insert(full.begin() + out_ax, n);
  if (broadcast_shapes(logits.shape(), full, "random.categorical") != full) {
    fail("categorical", "Requested shape " + shape_str(shape) + " is not compatible with logits of shape " +
                            shape_str(logits.shape()) + ".");
  }
  auto st = to_stream(s);
  auto k = key_or_new(key, "categorical");
  auto b = array(full, uint32, std::make_shared<RandomBits>(st, 4), {k});
  auto lg = broadcast_to(astype(logits, float32, st), full, st);
  return array(shape, uint32, std::make_shared<Categorical>(st, out_ax), {b, lg});
}

array categorical(const array& logits, int axis, int num_samples, const std::optional<array>& key, StreamOrDevice s) {
  if (num_samples < 0) fail("categorical", "num_samples must be non-negative.");
  if (logits.ndim() == 0) fail("categorical", "logits must have at least one dimension.");
  int ax = normalize_axis(axis, logits.ndim(), "random.categorical");
  // logits (..., n, ...) -> (..., n, ..., 1) so the samples axis goes last.
  Shape shape = logits.shape();
  shape.erase(shape.begin() + ax);
  shape.push_back(num_samples);
  return categorical(expand_dims(logits, -1, s), ax, shape, key, s);
}

array categorical(const array& logits, int axis, const std::optional<array>& key, StreamOrDevice s) {
  if (logits.ndim() == 0) fail("categorical", "logits must have at least one dimension.");
  int ax = normalize_axis(axis, logits.ndim(), "random.categorical");
  Shape shape = logits.shape();
  shape.erase(shape.begin() + ax);
  return categorical(logits, ax, shape, key, s);
}

array permutation(const array& x, int axis, const std::optional<array>& key, StreamOrDevice s) {
  if (x.ndim() == 0) fail("permutation", "Cannot permute a scalar.");
  int ax = normalize_axis(axis, x.ndim(), "random.permutation");
  auto st = to_stream(s);
  auto k = key_or_new(key, "permutation");
  auto b = array(Shape{x.shape(ax)}, uint32, std::make_shared<RandomBits>(st, 4), {k});
  return array(x.shape(), x.dtype(), std::make_shared<Permutation>(st, ax), {b, x});
}

array permutation(int n, const std::optional<array>& key, StreamOrDevice s) {
  if (n < 0) fail("permutation", "n must be non-negative but is " + std::to_string(n) + ".");
  return permutation(arange(0, n, 1, s), 0, key, s);
}

bool RandomBits::is_equivalent(const Primitive& o) const { return width_ == static_cast<const RandomBits&>(o).width_; }
bool RandomMap::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const RandomMap&>(o);
  return kind_ == p.kind_ && loc_ == p.loc_ && scale_ == p.scale_;
}
const char* RandomMap::name() const {
  switch (kind_) {
    case Kind::uniform: return "RandomUniform";
    case Kind::normal: return "RandomNormal";
    case Kind::truncated_normal: return "RandomTruncatedNormal";
    case Kind::gumbel: return "RandomGumbel";
    case Kind::bernoulli: return "RandomBernoulli";
    case Kind::randint: return "RandomRandint";
  }
  return "RandomMap";
}
bool Categorical::is_equivalent(const Primitive& o) const { return axis_ == static_cast<const Categorical&>(o).axis_; }
bool Permutation::is_equivalent(const Primitive& o) const { return axis_ == static_cast<const Permutation&>(o).axis_; }

}  // namespace tessera::random
