// Creation ops.
#include "tessera/ops/creation.h"

#include <cmath>

#include "tessera/ops/elementwise.h"
#include "tessera/ops/shape.h"
#include "tessera/primitives/creation.h"

namespace tessera {

array full(Shape shape, const array& vals, Dtype dtype, StreamOrDevice s) {
  shape_size(shape);  // validates
  auto st = to_stream(s);
  auto in = broadcast_to(astype(vals, dtype, st), shape, st);
  return array(std::move(shape), dtype, std::make_shared<Full>(st), {in});
}

array full(Shape shape, const array& vals, StreamOrDevice s) { return full(std::move(shape), vals, vals.dtype(), s); }

array zeros(const Shape& shape, Dtype dtype, StreamOrDevice s) { return full(shape, array(0, dtype), dtype, s); }
array ones(const Shape& shape, Dtype dtype, StreamOrDevice s) { return full(shape, array(1, dtype), dtype, s); }
array zeros_like(const array& a, StreamOrDevice s) { return zeros(a.shape(), a.dtype(), s); }
array ones_like(const array& a, StreamOrDevice s) { return ones(a.shape(), a.dtype(), s); }
array full_like(const array& a, const array& vals, StreamOrDevice s) { return full(a.shape(), vals, a.dtype(), s); }

array arange(double start, double stop, double step, Dtype dtype, StreamOrDevice s) {
  if (step == 0) throw std::invalid_argument("[arange] step cannot be 0.");
  if (std::isnan(start) || std::isnan(stop) || std::isnan(step) || std::isinf(start) || std::isinf(stop)) {
    throw std::invalid_argument("[arange] start, stop and step must be finite.");
  }
  if (dtype == bool_) throw std::invalid_argument("[arange] bool is not supported.");
  double n = std::ceil((stop - start) / step);
  if (n > 2147483647.0) throw std::invalid_argument("[arange] Maximum size exceeded.");
  ShapeElem len = n > 0 ? static_cast<ShapeElem>(n) : 0;
  return array({len}, dtype, std::make_shared<Arange>(to_stream(s), start, stop, step), {});
}
array arange(double start, double stop, double step, StreamOrDevice s) { return arange(start, stop, step, float32, s); }
array arange(int start, int stop, int step, StreamOrDevice s) { return arange(start, stop, step, int32, s); }
array arange(int stop, StreamOrDevice s) { return arange(0, stop, 1, s); }
array arange(double stop, StreamOrDevice s) { return arange(0.0, stop, 1.0, s); }

array linspace(double start, double stop, int num, Dtype dtype, StreamOrDevice s) {
  if (num < 0) throw std::invalid_argument("[linspace] num must be non-negative, got " + std::to_string(num) + ".");
  if (is_complex(dtype)) throw std::invalid_argument("[linspace] complex64 is not supported.");
  Dtype ct = dtype == float64 ? float64 : float32;  // compute dtype
  array out = num == 1 ? full({1}, array(start, ct), ct, s) : [&] {
    // (1 - t) * start + t * stop with t = i / (num - 1): both ends are exact.
    auto t = divide(arange(0.0, static_cast<double>(num), 1.0, ct, s), array(static_cast<double>(num - 1), ct), s);
    auto lo = multiply(subtract(array(1.0, ct), t, s), array(start, ct), s);
    return add(lo, multiply(t, array(stop, ct), s), s);
  }();
  if (is_integral(dtype) && dtype != bool_) out = floor(out, s);
  return astype(out, dtype, s);
}

namespace {
// Row index i as (n, 1) and column index j as (1, m), both int32.
std::pair<array, array> grid(int n, int m, const char* name, StreamOrDevice s) {
  if (n < 0 || m < 0) {
    throw std::invalid_argument(std::string("[") + name + "] N and M must be non-negative, got " + std::to_string(n) +
                                " and " + std::to_string(m) + ".");
  }
  return {reshape(arange(0, n, 1, s), {n, 1}, s), reshape(arange(0, m, 1, s), {1, m}, s)};
}
}  // namespace

array eye(int n, int m, int k, Dtype dtype, StreamOrDevice s) {
  auto [i, j] = grid(n, m, "eye", s);
  return astype(equal(add(i, array(k), s), j, s), dtype, s);
}
array eye(int n, Dtype dtype, StreamOrDevice s) { return eye(n, n, 0, dtype, s); }
array identity(int n, Dtype dtype, StreamOrDevice s) {
  if (n < 0) throw std::invalid_argument("[identity] n must be non-negative, got " + std::to_string(n) + ".");
  return eye(n, n, 0, dtype, s);
}
array tri(int n, int m, int k, Dtype dtype, StreamOrDevice s) {
  auto [i, j] = grid(n, m, "tri", s);
  return astype(greater_equal(add(i, array(k), s), j, s), dtype, s);
}
array tri(int n, Dtype dtype, StreamOrDevice s) { return tri(n, n, 0, dtype, s); }

}  // namespace tessera
