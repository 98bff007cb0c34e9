// Output shapes from input shapes for shapeless compile (MLX's output_shapes): reductions, scans,
// softmax/logsumexp/variance rows, transposes and matmul re-infer their shapes on new inputs.
#include "tessera/primitives/linalg.h"
#include "tessera/primitives/reduce.h"
#include "tessera/primitives/shape.h"

namespace tessera {

namespace {
// The input's shape with `axes` set to 1 (axes may be negative).
Shape ones_at(const array& a, const std::vector<int>& axes) {
  Shape s = a.shape();
  for (int ax : axes) s.at(ax < 0 ? ax + a.ndim() : ax) = 1;
  return s;
}
}  // namespace

std::vector<Shape> Reduce::output_shapes(const std::vector<array>& in) { return {ones_at(in[0], axes_)}; }
std::vector<Shape> ArgReduce::output_shapes(const std::vector<array>& in) { return {ones_at(in[0], {axis_})}; }
std::vector<Shape> Scan::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }
std::vector<Shape> Variance::output_shapes(const std::vector<array>& in) { return {ones_at(in[0], {-1})}; }
std::vector<Shape> LogSumExp::output_shapes(const std::vector<array>& in) { return {ones_at(in[0], {-1})}; }
std::vector<Shape> Softmax::output_shapes(const std::vector<array>& in) { return {in[0].shape()}; }

std::vector<Shape> Transpose::output_shapes(const std::vector<array>& in) {
  Shape s;
  for (int ax : axes_) s.push_back(in[0].shape(ax));
  return {s};
}

// a (..., M, K) @ b (..., K, N) with equal batch dims (compile's replay broadcasts them first).
std::vector<Shape> Matmul::output_shapes(const std::vector<array>& in) {
  const array &a = in[0], &b = in[1];
  if (a.ndim() < 2 || b.ndim() != a.ndim() || a.shape(-1) != b.shape(-2)) {
    throw std::invalid_argument("[compile] Matmul of shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                                " does not match (shapeless replay).");
  }
  Shape s(a.shape().begin(), a.shape().end() - 1);
  s.push_back(b.shape(-1));
  return {s};
}

}  // namespace tessera
