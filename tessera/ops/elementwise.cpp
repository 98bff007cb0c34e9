// Elementwise ops: promote, broadcast, build the node.
#include "tessera/ops/elementwise.h"

#include "tessera/backend/common/utils.h"
#include "tessera/ops/shape.h"
#include "tessera/primitives/elementwise.h"

namespace tessera {

namespace {

template <typename Prim>
array unary(const array& a, Dtype out_dtype, StreamOrDevice s) {
  auto st = to_stream(s);
  auto in = astype(a, out_dtype, st);
  return array(a.shape(), out_dtype, std::make_shared<Prim>(st), {in});
}

// Broadcasts a and b to a common shape and casts both to `compute`; the result has `out_dtype`.
template <typename Prim>
array binary(const array& a, const array& b, Dtype compute, Dtype out_dtype, const char* name, StreamOrDevice s) {
  auto st = to_stream(s);
  auto shape = broadcast_shapes(a.shape(), b.shape(), name);
  auto x = broadcast_to(astype(a, compute, st), shape, st);
  auto y = broadcast_to(astype(b, compute, st), shape, st);
  return array(std::move(shape), out_dtype, std::make_shared<Prim>(st), {x, y});
}

}  // namespace

array exp(const array& a, StreamOrDevice s) { return unary<Exp>(a, to_inexact(a.dtype()), s); }

array negative(const array& a, StreamOrDevice s) {
  if (a.dtype() == bool_) throw std::invalid_argument("[negative] Not supported for bool, use logical_not instead.");
  return unary<Negative>(a, a.dtype(), s);
}

array add(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_types(a.dtype(), b.dtype());
  return binary<Add>(a, b, t, t, "add", s);
}
array subtract(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_types(a.dtype(), b.dtype());
  if (t == bool_) throw std::invalid_argument("[subtract] Not supported for bool arrays.");
  return binary<Subtract>(a, b, t, t, "subtract", s);
}
array multiply(const array& a, const array& b, StreamOrDevice s) {
  auto t = promote_types(a.dtype(), b.dtype());
  return binary<Multiply>(a, b, t, t, "multiply", s);
}
array divide(const array& a, const array& b, StreamOrDevice s) {
  auto t = to_inexact(promote_types(a.dtype(), b.dtype()));
  return binary<Divide>(a, b, t, t, "divide", s);
}

array operator-(const array& a) { return negative(a); }
array operator+(const array& a, const array& b) { return add(a, b); }
array operator-(const array& a, const array& b) { return subtract(a, b); }
array operator*(const array& a, const array& b) { return multiply(a, b); }
array operator/(const array& a, const array& b) { return divide(a, b); }

}  // namespace tessera
