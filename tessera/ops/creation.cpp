// Creation ops.
#include "tessera/ops/creation.h"

#include <cmath>

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

}  // namespace tessera
