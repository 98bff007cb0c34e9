// Function transforms (MLX's mlx.core): vjp, jvp, grad, value_and_grad, vmap, stop_gradient,
// checkpoint and custom_function. They trace the lazy graph that a function builds.
#pragma once

#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

using VecFn = std::function<std::vector<array>(const std::vector<array>&)>;

// Outputs of fun(primals) and the cotangents of the primals given one cotangent per output.
std::pair<std::vector<array>, std::vector<array>> vjp(const VecFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents);
std::pair<array, array> vjp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& cotangent);

// Outputs of fun(primals) and their tangents given one tangent per primal.
std::pair<std::vector<array>, std::vector<array>> jvp(const VecFn& fun, const std::vector<array>& primals,
                                                      const std::vector<array>& tangents);
std::pair<array, array> jvp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& tangent);

// value_and_grad: the first output of fun must be a scalar (the loss); further outputs are
// auxiliary values returned as they are. Returns (outputs, gradients of the loss w.r.t. argnums).
using ValueAndGradFn = std::function<std::pair<std::vector<array>, std::vector<array>>(const std::vector<array>&)>;
using SimpleValueAndGradFn = std::function<std::pair<array, array>(const array&)>;
ValueAndGradFn value_and_grad(const VecFn& fun, const std::vector<int>& argnums = {0});
ValueAndGradFn value_and_grad(const VecFn& fun, int argnum);
ValueAndGradFn value_and_grad(const std::function<array(const std::vector<array>&)>& fun,
                              const std::vector<int>& argnums = {0});
SimpleValueAndGradFn value_and_grad(const std::function<array(const array&)>& fun);

// Gradients of a scalar-valued function w.r.t. argnums.
VecFn grad(const std::function<array(const std::vector<array>&)>& fun, const std::vector<int>& argnums = {0});
std::function<array(const std::vector<array>&)> grad(const std::function<array(const std::vector<array>&)>& fun,
                                                     int argnum);
std::function<array(const array&)> grad(const std::function<array(const array&)>& fun);

// Vectorizing map. in_axes: one per input (-1 = not mapped; empty: all 0); out_axes: one per
// output (empty: all 0). Negative axes other than -1 are not accepted (MLX uses -1 for None).
VecFn vmap(const VecFn& fun, const std::vector<int>& in_axes = {}, const std::vector<int>& out_axes = {});
std::function<array(const array&)> vmap(const std::function<array(const array&)>& fun, int in_axis = 0,
                                        int out_axis = 0);
std::function<array(const array&, const array&)> vmap(const std::function<array(const array&, const array&)>& fun,
                                                      int in_axis_a = 0, int in_axis_b = 0, int out_axis = 0);

// The identity whose gradient is zero.
array stop_gradient(const array& a, StreamOrDevice s = {});

// fun whose backward pass recomputes fun's intermediates instead of keeping them.
VecFn checkpoint(const VecFn& fun);

// fun with user transforms. fun_vjp(primals, cotangents, outputs) -> one cotangent per primal;
// fun_jvp(primals, tangents, argnums) -> one tangent per output (tangents only for argnums);
// fun_vmap(inputs, axes) -> (outputs, output axes). Missing ones fall back to transforming fun.
using CustomVjpFn =
    std::function<std::vector<array>(const std::vector<array>&, const std::vector<array>&, const std::vector<array>&)>;
using CustomJvpFn =
    std::function<std::vector<array>(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&)>;
using CustomVmapFn =
    std::function<std::pair<std::vector<array>, std::vector<int>>(const std::vector<array>&, const std::vector<int>&)>;
VecFn custom_function(VecFn fun, std::optional<CustomVjpFn> fun_vjp = std::nullopt,
                      std::optional<CustomJvpFn> fun_jvp = std::nullopt,
                      std::optional<CustomVmapFn> fun_vmap = std::nullopt);

}  // namespace tessera
