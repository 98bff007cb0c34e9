// Helpers shared by the transform rules: scalars in a dtype, reducing to a shape, composite rules.
#pragma once

#include <functional>
#include <vector>

#include "tessera/ops.h"
#include "tessera/primitive.h"
#include "tessera/transforms.h"

namespace tessera::rules {

// A scalar of value v in a's dtype (so rules never promote).
inline array scal(double v, const array& a) { return array(v, a.dtype()); }
// The matrix transpose of the last two axes.
inline array mT(const array& a) { return swapaxes(a, -1, -2); }
inline bool differentiable(const array& a) { return is_inexact(a.dtype()); }

// Sums a broadcast cotangent back to `shape` (leading dims and size-1 dims).
array sum_to_shape(const array& x, const Shape& shape);

// The tangent of input i (zeros like primals[i] when i is not among argnums).
array tangent_of(int i, const std::vector<array>& primals, const std::vector<array>& tangents,
                 const std::vector<int>& argnums);

// Zeros for every argnum (integer or non-differentiable inputs).
std::vector<array> zero_cotangents(const std::vector<array>& primals, const std::vector<int>& argnums);

// Rules written as the vjp/jvp of a composite function of all primals (others held constant).
std::vector<array> composite_vjp(const VecFn& f, const std::vector<array>& primals,
                                 const std::vector<array>& cotangents, const std::vector<int>& argnums);
std::vector<array> composite_jvp(const VecFn& f, const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>& argnums);

// vmap helpers: moves axis `ax` to 0, or (ax == -1) adds a broadcast batch dim of size n at 0.
array batch_first(const array& x, int ax, int n);
// The batch size of mapped inputs (throws "[vmap] ..." when they disagree).
int batch_size(const std::vector<array>& inputs, const std::vector<int>& axes);

}  // namespace tessera::rules

namespace tessera::rules {
// The outputs of the node whose jvp or vmap the engine is computing (rules that need an output shape).
const std::vector<array>& current_outputs(const char* name);
struct CurrentOutputs {
  explicit CurrentOutputs(const std::vector<array>* outs);
  ~CurrentOutputs();
  const std::vector<array>* prev;
};
}  // namespace tessera::rules
