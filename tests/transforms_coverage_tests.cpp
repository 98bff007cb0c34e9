// Per-op transform coverage: every op declared in tessera/ops/*.h has a case here that checks vjp and
// jvp against float64 central differences and vmap (in_axes 0, 1, and unmapped extras) against a
// loop of per-example calls, or an explicit entry for the clear error it gives.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gtest/gtest-spi.h>

#include "tessera/primitives/custom_kernel.h"
#include "test_utils.h"

namespace tessera {
namespace {

using testing::error_message;
using testing::random_array;
using Fn = std::function<array(const std::vector<array>&)>;

struct Case {
  std::string op;             // the op's name in tessera/ops/*.h
  std::vector<Shape> shapes;  // float64 inputs, random in [lo, hi)
  Fn f;
  bool diff = true;           // false: non-differentiable output (integer/bool): gradients must be zero
  bool axis1 = true;          // also check vmap with the batch at axis 1
  double lo = -1, hi = 1;
  std::string grad_error;     // non-empty: vjp and jvp must throw a message containing it
  std::string vmap_error;     // non-empty: vmap must throw a message containing it
};

array ints(std::vector<int> v, Shape s) { return array(v, std::move(s), int32); }
// A symmetric positive definite (n, n) matrix made from x (n, n).
array spd(const array& x) {
  return add(matmul(x, swapaxes(x, -1, -2)), multiply(array(3.0, float64), eye(x.shape(-1), float64)));
}
array f64(const array& a) { return astype(a, float64); }
// Two Q4_1 rows of 32 weights d * q + m: float16 d, m (0.5, -1 and 0.25, 0.5), then 16 bytes of nibbles.
// (Q4_1 is multiplied in float; Q8_0/Q4_0 quantize x for small batches, which is not smooth in x.)
array q4_1_blocks() {
  std::vector<uint8_t> b(40);
  uint8_t head[2][4] = {{0x00, 0x38, 0x00, 0xBC}, {0x00, 0x34, 0x00, 0x38}};
  for (int r = 0; r < 2; ++r) {
    for (int k = 0; k < 4; ++k) b[r * 20 + k] = head[r][k];
    for (int j = 0; j < 16; ++j) b[r * 20 + 4 + j] = static_cast<uint8_t>((j * 37 + 11 * r + 3) & 0xFF);
  }
  return array(b, {2, 20}, uint8);
}
Case nd(Case c) {
  c.diff = false;
  return c;
}

// The table: one small case per op. Inputs are float64; ops over integers or bools build them from x.
std::vector<Case> cases() {
  std::vector<Case> t;
  auto unary = [&](const std::string& name, std::function<array(const array&)> g, double lo = -1, double hi = 1) {
    t.push_back({name, {{2, 3}}, [g](const std::vector<array>& x) { return g(x[0]); }, true, true, lo, hi});
  };
  auto binary = [&](const std::string& name, std::function<array(const array&, const array&)> g, double lo = -1,
                    double hi = 1) {
    t.push_back({name, {{2, 3}, {3}}, [g](const std::vector<array>& x) { return g(x[0], x[1]); }, true, true, lo, hi});
  };
  // ---- elementwise ----
  unary("abs", [](auto& a) { return abs(a); });
  unary("negative", [](auto& a) { return negative(a); });
  unary("sign", [](auto& a) { return sign(a); });
  unary("square", [](auto& a) { return square(a); });
  unary("exp", [](auto& a) { return exp(a); });
  unary("expm1", [](auto& a) { return expm1(a); });
  unary("log", [](auto& a) { return log(a); }, 0.5, 2);
  unary("log1p", [](auto& a) { return log1p(a); }, 0.5, 2);
  unary("log2", [](auto& a) { return log2(a); }, 0.5, 2);
  unary("log10", [](auto& a) { return log10(a); }, 0.5, 2);
  unary("sqrt", [](auto& a) { return sqrt(a); }, 0.5, 2);
  unary("rsqrt", [](auto& a) { return rsqrt(a); }, 0.5, 2);
  unary("reciprocal", [](auto& a) { return reciprocal(a); }, 0.5, 2);
  unary("sin", [](auto& a) { return sin(a); });
  unary("cos", [](auto& a) { return cos(a); });
  unary("tan", [](auto& a) { return tan(a); });
  unary("arcsin", [](auto& a) { return arcsin(a); }, -0.9, 0.9);
  unary("arccos", [](auto& a) { return arccos(a); }, -0.9, 0.9);
  unary("arctan", [](auto& a) { return arctan(a); });
  unary("sinh", [](auto& a) { return sinh(a); });
  unary("cosh", [](auto& a) { return cosh(a); });
  unary("tanh", [](auto& a) { return tanh(a); });
  unary("arcsinh", [](auto& a) { return arcsinh(a); });
  unary("arccosh", [](auto& a) { return arccosh(a); }, 1.5, 3);
  unary("arctanh", [](auto& a) { return arctanh(a); }, -0.9, 0.9);
  unary("sigmoid", [](auto& a) { return sigmoid(a); });
  unary("erf", [](auto& a) { return erf(a); });
  unary("erfinv", [](auto& a) { return erfinv(a); }, -0.9, 0.9);
  unary("floor", [](auto& a) { return floor(multiply(a, array(3.0))); });
  unary("ceil", [](auto& a) { return ceil(multiply(a, array(3.0))); });
  unary("round", [](auto& a) { return round(multiply(a, array(3.0))); });
  unary("real", [](auto& a) { return real(a); });
  unary("imag", [](auto& a) { return imag(a); });
  unary("conjugate", [](auto& a) { return conjugate(a); });
  unary("clip", [](auto& a) { return clip(a, array(-0.5), array(0.5)); });
  for (auto& [name, fn] : std::vector<std::pair<std::string, std::function<array(const array&)>>>{
           {"isnan", [](auto& a) { return isnan(a); }},
           {"isinf", [](auto& a) { return isinf(a); }},
           {"isposinf", [](auto& a) { return isposinf(a); }},
           {"isneginf", [](auto& a) { return isneginf(a); }},
           {"isfinite", [](auto& a) { return isfinite(a); }},
           {"logical_not", [](auto& a) { return logical_not(greater(a, array(0.0))); }},
           {"bitwise_invert", [](auto& a) { return bitwise_invert(astype(multiply(a, array(9.0)), int32)); }}}) {
    auto g = fn;
    t.push_back(nd({name, {{2, 3}}, [g](const std::vector<array>& x) { return g(x[0]); }}));
  }
  binary("add", [](auto& a, auto& b) { return add(a, b); });
  binary("subtract", [](auto& a, auto& b) { return subtract(a, b); });
  binary("multiply", [](auto& a, auto& b) { return multiply(a, b); });
  binary("divide", [](auto& a, auto& b) { return divide(a, b); }, 0.5, 2);
  binary("floor_divide", [](auto& a, auto& b) { return floor_divide(a, b); }, 0.5, 2);
  binary("remainder", [](auto& a, auto& b) { return remainder(a, b); }, 0.5, 2);
  binary("power", [](auto& a, auto& b) { return power(a, b); }, 0.5, 2);
  binary("maximum", [](auto& a, auto& b) { return maximum(a, b); });
  binary("minimum", [](auto& a, auto& b) { return minimum(a, b); });
  binary("logaddexp", [](auto& a, auto& b) { return logaddexp(a, b); });
  binary("arctan2", [](auto& a, auto& b) { return arctan2(a, b); });
  t.push_back({"where", {{2, 3}, {2, 3}, {3}}, [](auto& x) { return where(greater(x[0], array(0.0)), x[1], x[2]); }});
  for (auto& [name, fn] : std::vector<std::pair<std::string, std::function<array(const array&, const array&)>>>{
           {"equal", [](auto& a, auto& b) { return equal(round(a), round(b)); }},
           {"not_equal", [](auto& a, auto& b) { return not_equal(round(a), round(b)); }},
           {"less", [](auto& a, auto& b) { return less(a, b); }},
           {"less_equal", [](auto& a, auto& b) { return less_equal(a, b); }},
           {"greater", [](auto& a, auto& b) { return greater(a, b); }},
           {"greater_equal", [](auto& a, auto& b) { return greater_equal(a, b); }},
           {"logical_and", [](auto& a, auto& b) { return logical_and(greater(a, array(0.0)), greater(b, array(0.0))); }},
           {"logical_or", [](auto& a, auto& b) { return logical_or(greater(a, array(0.0)), greater(b, array(0.0))); }},
           {"bitwise_and", [](auto& a, auto& b) { return bitwise_and(astype(multiply(a, array(9.0)), int32), astype(multiply(b, array(9.0)), int32)); }},
           {"bitwise_or", [](auto& a, auto& b) { return bitwise_or(astype(multiply(a, array(9.0)), int32), astype(multiply(b, array(9.0)), int32)); }},
           {"bitwise_xor", [](auto& a, auto& b) { return bitwise_xor(astype(multiply(a, array(9.0)), int32), astype(multiply(b, array(9.0)), int32)); }},
           {"left_shift", [](auto& a, auto& b) { return left_shift(astype(multiply(a, array(9.0)), int32), astype(add(b, array(2.0)), int32)); }},
           {"right_shift", [](auto& a, auto& b) { return right_shift(astype(multiply(a, array(9.0)), int32), astype(add(b, array(2.0)), int32)); }}}) {
    auto g = fn;
    t.push_back(nd({name, {{2, 3}, {3}}, [g](const std::vector<array>& x) { return g(x[0], x[1]); }}));
  }
  // ---- creation (composed with an input so the graph depends on it) ----
  t.push_back({"arange", {{4}}, [](auto& x) { return multiply(x[0], arange(0.0, 4.0, 1.0, float64)); }});
  t.push_back({"eye", {{3, 3}}, [](auto& x) { return multiply(x[0], eye(3, float64)); }});
  t.push_back({"identity", {{3, 3}}, [](auto& x) { return add(x[0], identity(3, float64)); }});
  t.push_back({"tri", {{3, 4}}, [](auto& x) { return multiply(x[0], tri(3, 4, 0, float64)); }});
  t.push_back({"linspace", {{4}}, [](auto& x) { return multiply(x[0], linspace(0, 1, 4, float64)); }});
  t.push_back({"zeros", {{3}}, [](auto& x) { return add(x[0], zeros({3}, float64)); }});
  t.push_back({"ones", {{3}}, [](auto& x) { return multiply(x[0], ones({3}, float64)); }});
  t.push_back({"full", {{3}}, [](auto& x) { return full({2, 3}, x[0]); }});
  t.push_back({"zeros_like", {{3}}, [](auto& x) { return add(x[0], zeros_like(x[0])); }});
  t.push_back({"ones_like", {{3}}, [](auto& x) { return multiply(x[0], ones_like(x[0])); }});
  t.push_back({"full_like", {{3}}, [](auto& x) { return multiply(x[0], full_like(x[0], array(2.0))); }});
  // ---- shape ----
  t.push_back({"astype", {{2, 3}}, [](auto& x) { return astype(x[0], float32); }});
  t.push_back({"copy", {{2, 3}}, [](auto& x) { return copy(x[0]); }});
  t.push_back({"contiguous", {{2, 3}}, [](auto& x) { return contiguous(transpose(x[0])); }});
  t.push_back({"reshape", {{2, 3}}, [](auto& x) { return reshape(x[0], {3, 2}); }});
  t.push_back({"flatten", {{2, 3}}, [](auto& x) { return flatten(x[0]); }});
  t.push_back({"squeeze", {{2, 1, 3}}, [](auto& x) { return squeeze(x[0], std::vector<int>{1}); }});
  t.push_back({"expand_dims", {{2, 3}}, [](auto& x) { return expand_dims(x[0], 1); }});
  t.push_back({"broadcast_to", {{3}}, [](auto& x) { return broadcast_to(x[0], {2, 3}); }});
  t.push_back({"broadcast_arrays", {{3}, {2, 1}}, [](auto& x) {
                 auto b = broadcast_arrays({x[0], x[1]});
                 return multiply(b[0], b[1]);
               }});
  t.push_back({"transpose", {{2, 3, 4}}, [](auto& x) { return transpose(x[0], {2, 0, 1}); }});
  t.push_back({"swapaxes", {{2, 3}}, [](auto& x) { return swapaxes(x[0], 0, 1); }});
  t.push_back({"moveaxis", {{2, 3, 4}}, [](auto& x) { return moveaxis(x[0], 0, 2); }});
  t.push_back({"slice", {{4, 5}}, [](auto& x) { return slice(x[0], {1, 4}, {3, 0}, {1, -2}); }});
  t.push_back({"as_strided", {{6}}, [](auto& x) { return as_strided(x[0], {2, 3}, {1, 1}); }});
  // ---- indexing ----
  t.push_back({"take", {{4, 3}}, [](auto& x) { return take(x[0], ints({2, 0, 2}, {3}), 0); }});
  t.push_back({"take_along_axis", {{3, 4}}, [](auto& x) { return take_along_axis(x[0], ints({1, 0, 3, 2, 2, 1}, {3, 2}), 1); }});
  t.push_back({"put_along_axis", {{3, 4}, {3, 1}}, [](auto& x) { return put_along_axis(x[0], ints({1, 3, 0}, {3, 1}), x[1], 1); }});
  t.push_back({"scatter_add_axis", {{3, 4}, {3, 2}}, [](auto& x) { return scatter_add_axis(x[0], ints({1, 1, 3, 0, 2, 2}, {3, 2}), x[1], 1); }});
  t.push_back({"gather", {{4, 3}}, [](auto& x) { return gather(x[0], ints({3, 1}, {2}), 0, {1, 2}); }});
  t.push_back({"scatter", {{4, 3}, {2, 1, 3}}, [](auto& x) { return scatter(x[0], ints({3, 1}, {2}), x[1], 0); }});
  t.push_back({"scatter_add", {{4, 3}, {2, 1, 3}}, [](auto& x) { return scatter_add(x[0], ints({3, 3}, {2}), x[1], 0); }});
  t.push_back({"scatter_prod", {{4, 3}, {2, 1, 3}}, [](auto& x) { return scatter_prod(x[0], ints({3, 1}, {2}), x[1], 0); }});
  t.push_back({"scatter_max", {{4, 3}, {2, 1, 3}}, [](auto& x) { return scatter_max(x[0], ints({3, 1}, {2}), x[1], 0); }});
  t.push_back({"scatter_min", {{4, 3}, {2, 1, 3}}, [](auto& x) { return scatter_min(x[0], ints({3, 1}, {2}), x[1], 0); }});
  t.push_back({"slice_update", {{4, 3}, {2, 3}}, [](auto& x) { return slice_update(x[0], x[1], {1, 0}, {3, 3}); }});
  t.push_back({"dynamic_slice", {{4, 3}}, [](auto& x) { return dynamic_slice(x[0], ints({1}, {1}), {0}, {2, 3}); }});
  t.push_back({"dynamic_slice_update", {{4, 3}, {2, 3}}, [](auto& x) { return dynamic_slice_update(x[0], x[1], ints({2}, {1}), {0}); }});
  t.push_back({"index", {{4, 3}}, [](auto& x) { return index(x[0], {ints({2, 0}, {2}), SliceIndex{1, std::nullopt, std::nullopt}}); }});
  t.push_back({"index_update", {{4, 3}, {3}}, [](auto& x) { return index_update(x[0], {int64_t{1}}, x[1]); }});
  // ---- linalg ----
  t.push_back({"matmul", {{2, 3}, {3, 4}}, [](auto& x) { return matmul(x[0], x[1]); }});
  t.push_back({"addmm", {{4}, {2, 3}, {3, 4}}, [](auto& x) { return addmm(x[0], x[1], x[2], 0.5f, 2.0f); }});
  t.push_back({"outer", {{3}, {2}}, [](auto& x) { return outer(x[0], x[1]); }});
  t.push_back({"inner", {{2, 3}, {3}}, [](auto& x) { return inner(x[0], x[1]); }});
  t.push_back({"tensordot", {{2, 3, 4}, {3, 4, 2}}, [](auto& x) { return tensordot(x[0], x[1], 2); }});
  t.push_back({"einsum", {{2, 3}, {3, 4}}, [](auto& x) { return einsum("ij,jk->ik", {x[0], x[1]}); }});
  t.push_back({"norm", {{2, 3}}, [](auto& x) { return linalg::norm(x[0], 2.0, 1); }});
  t.push_back({"inv", {{3, 3}}, [](auto& x) { return linalg::inv(spd(x[0])); }});
  t.push_back({"solve", {{3, 3}, {3, 2}}, [](auto& x) { return linalg::solve(spd(x[0]), x[1]); }});
  t.push_back({"cholesky", {{3, 3}}, [](auto& x) { return linalg::cholesky(spd(x[0])); }});
  t.push_back({"qr", {{3, 3}}, [](auto& x) { return linalg::qr(x[0]).second; }});
  t.push_back({"svd", {{3, 3}}, [](auto& x) { return linalg::svd(x[0], false)[0]; }});
  t.push_back({"eigh", {{3, 3}}, [](auto& x) { return linalg::eigh(spd(x[0])).first; }});
  t.push_back({"eigvalsh", {{3, 3}}, [](auto& x) { return linalg::eigvalsh(spd(x[0])); }});
  // ---- manipulation ----
  t.push_back({"concatenate", {{2, 3}, {1, 3}}, [](auto& x) { return concatenate({x[0], x[1]}, 0); }});
  t.push_back({"stack", {{2, 3}, {2, 3}}, [](auto& x) { return stack({x[0], x[1]}, 1); }});
  t.push_back({"split", {{4, 3}}, [](auto& x) { return split(x[0], 2, 0)[1]; }});
  t.push_back({"tile", {{2, 3}}, [](auto& x) { return tile(x[0], {2, 1}); }});
  t.push_back({"repeat", {{2, 3}}, [](auto& x) { return repeat(x[0], 2, 1); }});
  t.push_back({"pad", {{2, 3}}, [](auto& x) { return pad(x[0], {{1, 0}, {0, 2}}, array(0.5)); }});
  t.push_back({"roll", {{2, 3}}, [](auto& x) { return roll(x[0], 1, 1); }});
  t.push_back({"diag", {{3}}, [](auto& x) { return diag(x[0], 1); }, true, false});
  t.push_back({"diagonal", {{3, 4}}, [](auto& x) { return diagonal(x[0], 1, 0, 1); }});
  t.push_back({"tril", {{3, 4}}, [](auto& x) { return tril(x[0], 0); }});
  t.push_back({"triu", {{3, 4}}, [](auto& x) { return triu(x[0], 1); }});
  t.push_back({"flip", {{2, 3}}, [](auto& x) { return flip(x[0], std::vector<int>{1}); }});
  // ---- reduce ----
  for (auto& [name, fn] : std::vector<std::pair<std::string, std::function<array(const array&)>>>{
           {"sum", [](auto& a) { return sum(a, 1); }},
           {"prod", [](auto& a) { return prod(a, 1); }},
           {"max", [](auto& a) { return max(a, 1); }},
           {"min", [](auto& a) { return min(a, 0); }},
           {"mean", [](auto& a) { return mean(a, 1, true); }},
           {"logsumexp", [](auto& a) { return logsumexp(a, 1); }},
           {"var", [](auto& a) { return var(a, 1, false, 1); }},
           {"std", [](auto& a) { return std(a, 0); }},
           {"cumsum", [](auto& a) { return cumsum(a, 1, true, false); }},
           {"cumprod", [](auto& a) { return cumprod(a, 1); }},
           {"cummax", [](auto& a) { return cummax(a, 1); }},
           {"cummin", [](auto& a) { return cummin(a, 1, true); }},
           {"softmax", [](auto& a) { return softmax(a, 1); }},
           {"log_softmax", [](auto& a) { return log_softmax(a, 0); }}}) {
    auto g = fn;
    t.push_back({name, {{2, 4}}, [g](const std::vector<array>& x) { return g(x[0]); }});
  }
  t.push_back(nd({"all", {{2, 3}}, [](auto& x) { return all(greater(x[0], array(-0.5)), 1); }}));
  t.push_back(nd({"any", {{2, 3}}, [](auto& x) { return any(greater(x[0], array(0.5)), 1); }}));
  t.push_back(nd({"argmax", {{2, 3}}, [](auto& x) { return argmax(x[0], 1); }}));
  t.push_back(nd({"argmin", {{2, 3}}, [](auto& x) { return argmin(x[0], 0); }}));
  // ---- sort ----
  t.push_back({"sort", {{2, 4}}, [](auto& x) { return sort(x[0], 1); }});
  t.push_back({"partition", {{2, 4}}, [](auto& x) { return partition(x[0], 1, 1); }});
  t.push_back({"topk", {{2, 4}}, [](auto& x) { return topk(x[0], 2, 1); }});
  t.push_back(nd({"argsort", {{2, 4}}, [](auto& x) { return argsort(x[0], 1); }}));
  t.push_back(nd({"argpartition", {{2, 4}}, [](auto& x) { return argpartition(x[0], 2, 1); }}));
  // ---- conv ----
  t.push_back({"conv1d", {{1, 5, 2}, {3, 2, 2}}, [](auto& x) { return conv1d(x[0], x[1], 1, 1); }});
  t.push_back({"conv2d", {{1, 4, 4, 2}, {2, 2, 2, 2}}, [](auto& x) { return conv2d(x[0], x[1]); }});
  t.push_back({"conv3d", {{1, 3, 3, 3, 1}, {2, 2, 2, 2, 1}}, [](auto& x) { return conv3d(x[0], x[1]); }});
  // ---- quantized (float32 weights; gradients for x and for scales/biases, none for the packed ints) ----
  // quantize rounds: no derivative (a clear error).
  t.push_back({"quantize", {{4, 32}}, [](auto& x) { return quantize(astype(x[0], float32), 32, 4)[1]; }, true, false,
               -1, 1, "[AffineQuantize] vjp is not implemented: rounding", ""});
  // dequantize is linear in scales (4, 2) and biases (4, 2) (two groups of 32).
  t.push_back({"dequantize", {{4, 2}, {4, 2}}, [](auto& x) {
                 auto q = quantize(astype(random_array({4, 64}, float64, -1, 1, 6), float32), 32, 4)[0];
                 return dequantize(q, astype(x[0], float32), astype(x[1], float32), 32, 4);
               }});
  t.push_back({"quantized_matmul", {{2, 32}}, [](auto& x) {
                 auto q = quantize(astype(random_array({4, 32}, float64, -1, 1, 5), float32), 32, 4);
                 return quantized_matmul(astype(x[0], float32), q[0], q[1], q[2], true, 32, 4);
               }});
  // Q8_0 blocks of zeros (scale 0): the dequantized weights are zeros; gradients flow through x.
  t.push_back({"gguf_dequantize", {{2, 32}}, [](auto& x) {
                 return multiply(x[0], gguf_dequantize(zeros({2, 34}, uint8), GGUFType::Q8_0, {2, 32}));
               }});
  // Two Q4_1 rows: nonzero weights.
  t.push_back({"gguf_quantized_matmul", {{2, 32}}, [](auto& x) {
                 return gguf_quantized_matmul(astype(x[0], float32), q4_1_blocks(), GGUFType::Q4_1, 32);
               }});
  return t;
}

// The op names declared in tessera/ops/*.h (functions returning arrays, and the reduce/scan macros).
std::set<std::string> header_ops() {
  std::set<std::string> names;
  std::regex fn(R"(^(array|std::vector<array>|std::pair<array, array>) +([a-z_0-9]+)\()");
  std::regex macro(R"(^TESSERA_(REDUCE|SCAN)_DECL\(([a-z_0-9]+)\))");
  for (auto& entry : std::filesystem::directory_iterator(std::string(TESSERA_SOURCE_DIR) + "/tessera/ops")) {
    if (entry.path().extension() != ".h") continue;
    std::ifstream in(entry.path());
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
      if (std::regex_search(line, m, fn) || std::regex_search(line, m, macro)) names.insert(m[2].str());
    }
  }
  return names;
}

std::vector<double> values(const array& a) { return f64(a).to_vector<double>(); }

::testing::AssertionResult close(const std::vector<double>& got, const std::vector<double>& want, double rtol,
                                 double atol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) && std::isnan(want[i])) continue;
    if (std::isinf(want[i]) && got[i] == want[i]) continue;
    if (!(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]))) {
      return ::testing::AssertionFailure() << "at " << i << ": got " << got[i] << ", expected " << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<array> inputs_of(const Case& c, unsigned seed) {
  std::vector<array> xs;
  for (size_t i = 0; i < c.shapes.size(); ++i) xs.push_back(random_array(c.shapes[i], float64, c.lo, c.hi, seed + i));
  return xs;
}

VecFn as_vec(const Fn& f) {
  return [f](const std::vector<array>& x) { return std::vector<array>{f(x)}; };
}

// vjp and jvp against one central difference along a random direction t:
// jvp(t) == (f(x + h t) - f(x - h t)) / 2h and <vjp(c), t> == <c, jvp(t)>.
void check_grads(const Case& c) {
  auto xs = inputs_of(c, 11);
  std::vector<array> ts;
  for (size_t i = 0; i < xs.size(); ++i) ts.push_back(random_array(xs[i].shape(), float64, -1, 1, 101 + i));
  auto out = c.f(xs);
  if (!c.diff) {
    auto cot = astype(ones(out.shape()), out.dtype());
    auto grads = vjp(as_vec(c.f), xs, {cot}).second;
    for (auto& g : grads) EXPECT_TRUE(close(values(g), std::vector<double>(g.size(), 0.0), 0, 0)) << "vjp";
    auto tan = jvp(as_vec(c.f), xs, ts).second[0];
    EXPECT_TRUE(close(values(tan), std::vector<double>(tan.size(), 0.0), 0, 0)) << "jvp";
    return;
  }
  if (!c.grad_error.empty()) {
    auto cot = ones_like(out);
    auto e1 = error_message([&] { eval(vjp(as_vec(c.f), xs, {cot}).second); });
    auto e2 = error_message([&] { eval(jvp(as_vec(c.f), xs, ts).second); });
    EXPECT_NE((e1 + " | " + e2).find(c.grad_error), std::string::npos) << "vjp: '" << e1 << "', jvp: '" << e2 << "'";
    EXPECT_NE(e2.find("not implemented"), std::string::npos) << "jvp error: '" << e2 << "'";
    return;
  }
  bool single = out.dtype() == float32;  // computed in float32: a wider step and a looser bound
  const double h = single ? 1e-2 : 1e-6;
  auto shifted = [&](double s) {
    std::vector<array> in;
    for (size_t i = 0; i < xs.size(); ++i) in.push_back(add(xs[i], multiply(array(s * h), ts[i])));
    return values(c.f(in));
  };
  auto plus = shifted(1), minus = shifted(-1);
  std::vector<double> fd(plus.size());
  for (size_t k = 0; k < fd.size(); ++k) fd[k] = (plus[k] - minus[k]) / (2 * h);
  double rtol = single ? 2e-2 : 1e-5, atol = single ? 2e-2 : 1e-6;
  auto tan = jvp(as_vec(c.f), xs, ts).second[0];
  EXPECT_TRUE(close(values(tan), fd, rtol, atol)) << "jvp vs finite differences";
  auto cot = random_array(out.shape(), float64, -1, 1, 7);
  auto grads = vjp(as_vec(c.f), xs, {astype(cot, out.dtype())}).second;
  double lhs = 0, rhs = 0;
  auto cv = values(cot);
  for (size_t k = 0; k < fd.size(); ++k) rhs += cv[k] * fd[k];
  for (size_t i = 0; i < xs.size(); ++i) {
    ASSERT_EQ(grads[i].shape(), xs[i].shape()) << "vjp shape of input " << i;
    auto gv = values(grads[i]), tv = values(ts[i]);
    for (size_t k = 0; k < gv.size(); ++k) lhs += gv[k] * tv[k];
  }
  EXPECT_NEAR(lhs, rhs, atol * 10 + rtol * 10 * std::abs(rhs)) << "<vjp(c), t> vs <c, finite difference>";
}

// vmap over a batch of 3 against stacking per-example calls. axes[i]: where input i's batch axis is
// (-1: the input is shared, unmapped).
void check_vmap_axes(const Case& c, const std::vector<int>& axes) {
  const int B = 3;
  std::vector<array> batched, shared = inputs_of(c, 31);
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    if (axes[i] < 0) {
      batched.push_back(shared[i]);
      continue;
    }
    Shape s = c.shapes[i];
    s.insert(s.begin() + axes[i], B);
    batched.push_back(random_array(s, float64, c.lo, c.hi, 51 + i));
  }
  std::vector<array> per;
  for (int b = 0; b < B; ++b) {
    std::vector<array> in;
    for (size_t i = 0; i < batched.size(); ++i) in.push_back(axes[i] < 0 ? batched[i] : take(batched[i], b, axes[i]));
    per.push_back(c.f(in));
  }
  auto want = stack(per, 0);
  if (!c.vmap_error.empty()) {
    auto e = error_message([&] { eval(vmap(as_vec(c.f), axes)(batched)); });
    EXPECT_NE(e.find(c.vmap_error), std::string::npos) << "vmap error: '" << e << "'";
    return;
  }
  auto got = vmap(as_vec(c.f), axes)(batched)[0];
  ASSERT_EQ(got.shape(), want.shape()) << "vmap output shape";
  EXPECT_EQ(got.dtype(), want.dtype());
  double tol = want.dtype() == float32 ? 1e-5 : 1e-9;  // float32 kernels may block rows differently
  EXPECT_TRUE(close(values(got), values(want), tol, tol));
}

void check_vmap(const Case& c) {
  size_t n = c.shapes.size();
  {
    SCOPED_TRACE("in_axes 0");
    check_vmap_axes(c, std::vector<int>(n, 0));
  }
  if (c.axis1) {
    SCOPED_TRACE("in_axes 1");
    std::vector<int> axes;
    for (auto& s : c.shapes) axes.push_back(s.empty() ? 0 : 1);
    check_vmap_axes(c, axes);
  }
  if (n > 1 && c.vmap_error.empty()) {
    for (size_t keep = 0; keep < n; ++keep) {  // one mapped input, the others shared
      SCOPED_TRACE("only input " + std::to_string(keep) + " mapped");
      std::vector<int> axes(n, -1);
      axes[keep] = 0;
      check_vmap_axes(c, axes);
    }
  }
}

class TransformsCoverage : public ::testing::TestWithParam<Case> {};

TEST_P(TransformsCoverage, VjpJvp) { check_grads(GetParam()); }
TEST_P(TransformsCoverage, Vmap) { check_vmap(GetParam()); }

INSTANTIATE_TEST_SUITE_P(Ops, TransformsCoverage, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.op; });

// cumprod's vjp and jvp where inputs are exactly zero (one, two, or leading zeros), for forward,
// reverse, inclusive and exclusive scans, against the Jacobian J[j][i] = prod_{k in S_j, k != i} x_k
// (S_j: the positions output j multiplies).
TEST(TransformsCumprod, GradientsAtZeros) {
  std::vector<std::vector<double>> inputs{{2, 0, 3, 0.5, -1}, {0, 0, 2, 3, 4}, {1.5, -2, 0, 3, 0}, {0.5, 2, -1, 3, 1.25}};
  for (auto& x : inputs) {
    for (bool reverse : {false, true}) {
      for (bool inclusive : {true, false}) {
        SCOPED_TRACE(std::to_string(x[0]) + "," + std::to_string(x[1]) + " reverse " + std::to_string(reverse) +
                     " inclusive " + std::to_string(inclusive));
        int n = static_cast<int>(x.size());
        auto in_set = [&](int j, int k) {
          if (reverse) return inclusive ? k >= j : k > j;
          return inclusive ? k <= j : k < j;
        };
        std::vector<double> c(n), t(n), want_vjp(n, 0.0), want_jvp(n, 0.0);
        for (int i = 0; i < n; ++i) {
          c[i] = 0.3 * i - 0.7;
          t[i] = 1.1 - 0.4 * i;
        }
        for (int j = 0; j < n; ++j) {
          for (int i = 0; i < n; ++i) {
            if (!in_set(j, i)) continue;
            double p = 1;
            for (int k = 0; k < n; ++k) {
              if (k != i && in_set(j, k)) p *= x[k];
            }
            want_vjp[i] += c[j] * p;
            want_jvp[j] += p * t[i];
          }
        }
        auto f = [&](const std::vector<array>& a) { return std::vector<array>{cumprod(a[0], 0, reverse, inclusive)}; };
        auto xa = array(x, {n}, float64);
        auto g = vjp(f, {xa}, {array(c, {n}, float64)}).second[0];
        EXPECT_TRUE(close(values(g), want_vjp, 1e-12, 1e-12)) << "vjp";
        auto tan = jvp(f, {xa}, {array(t, {n}, float64)}).second[0];
        EXPECT_TRUE(close(values(tan), want_jvp, 1e-12, 1e-12)) << "jvp";
      }
    }
  }
  // Along an inner axis of a 2-d array, and grad of prod (which uses exclusive cumprods) at a zero.
  auto x = array({1.0, 0.0, 2.0, 3.0, 0.0, 0.0}, {2, 3}, float64);
  using F1 = std::function<array(const array&)>;
  auto g = grad(F1([](const array& a) { return sum(cumprod(a, 1)); }))(x);
  EXPECT_TRUE(close(values(g), {1 + 0 + 0, 1 + 2, 0, 1 + 0 + 0, 3 + 0, 0}, 1e-12, 1e-12));
  auto gg = grad(F1([](const array& a) { return sum(grad(F1([](const array& b) { return prod(b); }))(a)); }))(
      array({2.0, 0.0, 3.0}, {3}, float64));
  // d/dx_i sum_j prod_{k != j} x_k = sum_{j != i} prod_{k != i, j} x_k: (3 + 0, 3 + 2, 0 + 2).
  EXPECT_TRUE(close(values(gg), {3, 5, 2}, 1e-12, 1e-12));
}

// vmap over the start of dynamic slices (integer inputs the table does not map), with a negative
// start (wraps) and one past the end (clamps), against per-example calls.
TEST(TransformsCoverageVmap, DynamicSliceOverStarts) {
  auto a = random_array({5, 4}, float64, -1, 1, 3);
  auto upd = random_array({3, 2, 4}, float64, -1, 1, 4);
  auto starts = ints({1, -2, 4}, {3, 1});
  std::vector<array> sl, up;
  for (int b = 0; b < 3; ++b) {
    sl.push_back(dynamic_slice(a, take(starts, b, 0), {0}, {2, 4}));
    up.push_back(dynamic_slice_update(a, take(upd, b, 0), take(starts, b, 0), {0}));
  }
  auto vs = vmap([&](const std::vector<array>& s) { return std::vector<array>{dynamic_slice(a, s[0], {0}, {2, 4})}; },
                 {0})({starts})[0];
  EXPECT_TRUE(close(values(vs), values(stack(sl, 0)), 0, 0));
  auto vu = vmap(
      [&](const std::vector<array>& s) { return std::vector<array>{dynamic_slice_update(a, s[1], s[0], {0})}; },
      {0, 0})({starts, upd})[0];
  EXPECT_TRUE(close(values(vu), values(stack(up, 0)), 0, 0));
}

// The checks fail on wrong rules: a custom_function of sin whose vjp, jvp or vmap is off by 1%.
Case wrong_rules_case(double vjp_scale, double jvp_scale, double vmap_scale) {
  auto fun = [](const std::vector<array>& x) { return std::vector<array>{sin(x[0])}; };
  auto f = custom_function(
      fun,
      [vjp_scale](const std::vector<array>& p, const std::vector<array>& c, const std::vector<array>&) {
        return std::vector<array>{multiply(c[0], multiply(array(vjp_scale), cos(p[0])))};
      },
      [jvp_scale](const std::vector<array>& p, const std::vector<array>& t, const std::vector<int>&) {
        return std::vector<array>{multiply(t[0], multiply(array(jvp_scale), cos(p[0])))};
      },
      [vmap_scale](const std::vector<array>& x, const std::vector<int>& ax) {
        return std::make_pair(std::vector<array>{multiply(array(vmap_scale), sin(x[0]))}, std::vector<int>{ax[0]});
      });
  Case c{"wrong", {{2, 3}}, [f](const std::vector<array>& x) { return f(x)[0]; }};
  c.axis1 = false;
  return c;
}
void check_bad_vjp() { check_grads(wrong_rules_case(1.01, 1.0, 1.0)); }
void check_bad_jvp() { check_grads(wrong_rules_case(1.0, 0.99, 1.0)); }
void check_bad_vmap() { check_vmap(wrong_rules_case(1.0, 1.0, 1.01)); }
TEST(TransformsCoverageTable, ChecksCatchWrongRules) {
  check_grads(wrong_rules_case(1.0, 1.0, 1.0));  // the right rules pass
  check_vmap(wrong_rules_case(1.0, 1.0, 1.0));
  EXPECT_NONFATAL_FAILURE(check_bad_vjp(), "<vjp(c), t> vs <c, finite difference>");
  EXPECT_NONFATAL_FAILURE(check_bad_jvp(), "jvp vs finite differences");
  EXPECT_NONFATAL_FAILURE(check_bad_vmap(), "close(values(got), values(want), tol, tol)");
}

// Every op of the headers has a case (new ops cannot skip the table), and every case names an op.
TEST(TransformsCoverageTable, EveryHeaderOpHasACase) {
  auto ops = header_ops();
  ASSERT_GT(ops.size(), 150u);
  std::set<std::string> table;
  for (auto& c : cases()) EXPECT_TRUE(table.insert(c.op).second) << "two cases for " << c.op;
  for (auto& op : ops) EXPECT_TRUE(table.count(op)) << "op without a transform case: " << op;
  for (auto& op : table) EXPECT_TRUE(ops.count(op)) << "case for an op not in the headers: " << op;
}

// ---- rules beyond the one-case-per-op table ----

// A case over the given shapes (float64 inputs in [lo, hi)).
Case extra(std::string name, std::vector<Shape> shapes, Fn f, double lo = -1, double hi = 1) {
  Case c{std::move(name), std::move(shapes), std::move(f)};
  c.lo = lo;
  c.hi = hi;
  return c;
}
// All inputs' gradients of sum(w * f(x)) (w fixed, random), flattened and joined: checking its vjp and
// jvp checks second derivatives (grad of grad) of f.
Fn grad_of(const Fn& f) {
  return [f](const std::vector<array>& x) {
    auto w = random_array(f(x).shape(), float64, -1, 1, 77);
    auto loss = [&](const std::vector<array>& a) { return std::vector<array>{sum(multiply(f(a), astype(w, f(a).dtype())))}; };
    auto g = vjp(loss, x, {array(1.0, f(x).dtype())}).second;
    std::vector<array> flat;
    for (auto& gi : g) flat.push_back(flatten(gi));
    return astype(concatenate(flat, 0), f(x).dtype());  // float32 functions: float32 steps in the check
  };
}
array signs_of_row0(const array& v) { return stop_gradient(sign(take(v, 0, -2))); }  // (..., n): fixes vector signs
array joined(const std::vector<array>& parts) {
  std::vector<array> flat;
  for (auto& p : parts) flat.push_back(flatten(p));
  return concatenate(flat, 0);
}

std::vector<Case> extra_cases() {
  std::vector<Case> t;
  auto fix = [](const array& u) { return multiply(u, expand_dims(signs_of_row0(u), -2)); };
  // QR: Q and R of square, tall and wide matrices.
  for (Shape s : std::vector<Shape>{{3, 3}, {4, 3}, {3, 5}}) {
    t.push_back(extra("qr_" + std::to_string(s[0]) + "x" + std::to_string(s[1]), {s}, [](auto& x) {
      auto [q, r] = linalg::qr(x[0]);
      return joined({q, r});
    }));
  }
  // SVD: singular values of a non-square matrix, and U, S, Vt of a square one (signs fixed per column of U).
  t.push_back(extra("svd_values_3x4", {{3, 4}}, [](auto& x) { return linalg::svd(x[0], false)[0]; }));
  t.push_back(extra("svd_vectors", {{3, 3}}, [](auto& x) {
    auto usv = linalg::svd(x[0]);
    auto sg = signs_of_row0(usv[0]);
    return joined({multiply(usv[0], expand_dims(sg, -2)), usv[1], multiply(usv[2], expand_dims(sg, -1))});
  }));
  t.push_back(extra("eigh_vectors", {{3, 3}}, [fix](auto& x) {
    auto [w, v] = linalg::eigh(spd(x[0]));
    return joined({w, fix(v)});
  }));
  // quantized_matmul w.r.t. scales and biases (both layouts) and x.
  for (bool transpose : {true, false}) {
    t.push_back(extra(std::string("quantized_matmul_scales_biases_") + (transpose ? "t" : "n"), {{2, 64}, {4, 2}, {4, 2}},
                      [transpose](auto& x) {
                        auto q = quantize(astype(random_array({4, 64}, float64, -1, 1, 8), float32), 32, 4)[0];
                        auto xin = transpose ? x[0] : random_array({2, 4}, float32, -1, 1, 9);
                        return quantized_matmul(astype(xin, float32), q, astype(x[1], float32), astype(x[2], float32),
                                                transpose, 32, 4);
                      }));
  }
  // Batched quantized_matmul (weights (3, 4, 64) and (3, 64, 4)), x (1, 2, .) broadcast over the batch:
  // x, scales and biases.
  for (bool transpose : {true, false}) {
    t.push_back(extra(std::string("quantized_matmul_batched_") + (transpose ? "t" : "n"),
                      {{1, 2, transpose ? 64 : 32}, {3, transpose ? 4 : 32, 2}, {3, transpose ? 4 : 32, 2}},
                      [transpose](auto& x) {
                        Shape ws = transpose ? Shape{3, 4, 64} : Shape{3, 32, 64};
                        auto q = quantize(astype(random_array(ws, float64, -1, 1, 10), float32), 32, 4)[0];
                        return quantized_matmul(astype(x[0], float32), q, astype(x[1], float32),
                                                astype(x[2], float32), transpose, 32, 4);
                      }));
  }
  // Second derivatives through the new rules.
  auto gg = [&](const std::string& name, std::vector<Shape> shapes, Fn f) {
    t.push_back(extra("grad_of_grad_" + name, shapes, grad_of(f)));
  };
  gg("scatter_prod", {{4, 3}, {3, 1, 3}}, [](auto& x) { return scatter_prod(x[0], ints({3, 1, 3}, {3}), x[1], 0); });
  gg("scatter_max", {{4, 3}, {3, 1, 3}}, [](auto& x) { return square(scatter_max(x[0], ints({3, 1, 3}, {3}), x[1], 0)); });
  gg("as_strided", {{6}}, [](auto& x) { return square(as_strided(x[0], {2, 3}, {2, 1}, 1)); });
  gg("qr", {{4, 3}}, [](auto& x) { return joined({linalg::qr(x[0]).first, linalg::qr(x[0]).second}); });
  gg("svd_values", {{3, 3}}, [](auto& x) { return linalg::svd(x[0], false)[0]; });
  gg("eigh_vectors", {{3, 3}}, [fix](auto& x) { return fix(linalg::eigh(spd(x[0])).second); });
  gg("dequantize", {{4, 2}, {4, 2}}, [](auto& x) {
    auto q = quantize(astype(random_array({4, 64}, float64, -1, 1, 6), float32), 32, 4)[0];
    return square(dequantize(q, astype(x[0], float32), astype(x[1], float32), 32, 4));
  });
  gg("gguf_quantized_matmul", {{2, 32}}, [](auto& x) {
    return square(gguf_quantized_matmul(astype(x[0], float32), q4_1_blocks(), GGUFType::Q4_1, 32));
  });
  return t;
}

class TransformsExtraRules : public ::testing::TestWithParam<Case> {};
TEST_P(TransformsExtraRules, VjpJvp) { check_grads(GetParam()); }
TEST_P(TransformsExtraRules, Vmap) { check_vmap(GetParam()); }
INSTANTIATE_TEST_SUITE_P(Rules, TransformsExtraRules, ::testing::ValuesIn(extra_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.op; });

// The Jacobian of a scatter with duplicate indices, zeros and ties, against plain loops: out[p] combines
// a[p] with the updates u at idx[u] == p. prod: d out[p] / d x = the product of the others (exact at
// zeros); max/min: the winners (equal to out[p]) share the derivative equally.
TEST(TransformsScatterRules, DuplicatesZerosAndTies) {
  enum Kind { prod, max, min };
  struct Data {
    std::vector<double> a, u;
  };
  std::vector<int> idx{1, 1, 2, 1, 0};
  std::vector<Data> data{{{2, 0.5, -1, 3}, {0, 2, 3, 0, 1.5}},   // two zeros at position 1
                         {{2, 0.5, -1, 3}, {0, 2, 3, 4, 1.5}},   // one zero at position 1
                         {{0, 0.5, 0, 3}, {-2, 2, 3, 4, 1.5}},   // zeros in a
                         {{1, 5, 3, 3}, {5, 3, 3, 5, 1}}};       // ties: at 1 (a and two updates) and 2
  for (Kind kind : {prod, max, min}) {
    for (auto& d : data) {
      SCOPED_TRACE("kind " + std::to_string(kind) + " a[0] " + std::to_string(d.a[0]) + " u[0] " + std::to_string(d.u[0]));
      int na = 4, nu = 5;
      // x = a then u; element k of x is combined at pos(k).
      std::vector<double> x = d.a;
      x.insert(x.end(), d.u.begin(), d.u.end());
      auto pos = [&](int k) { return k < na ? k : idx[k - na]; };
      std::vector<double> out(na);
      for (int p = 0; p < na; ++p) {
        out[p] = x[p];
        for (int k = na; k < na + nu; ++k) {
          if (pos(k) != p) continue;
          out[p] = kind == prod ? out[p] * x[k] : kind == max ? std::max(out[p], x[k]) : std::min(out[p], x[k]);
        }
      }
      std::vector<std::vector<double>> jac(na, std::vector<double>(na + nu, 0.0));  // d out[p] / d x[k]
      for (int p = 0; p < na; ++p) {
        int winners = 0;
        for (int k = 0; k < na + nu; ++k) winners += pos(k) == p && x[k] == out[p];
        for (int k = 0; k < na + nu; ++k) {
          if (pos(k) != p) continue;
          if (kind == prod) {
            double others = 1;
            for (int j = 0; j < na + nu; ++j) {
              if (j != k && pos(j) == p) others *= x[j];
            }
            jac[p][k] = others;
          } else {
            jac[p][k] = x[k] == out[p] ? 1.0 / winners : 0.0;
          }
        }
      }
      std::vector<double> c{0.3, -0.7, 1.1, 0.4}, tvec;
      for (int k = 0; k < na + nu; ++k) tvec.push_back(0.25 * k - 0.6);
      std::vector<double> want_vjp(na + nu, 0.0), want_jvp(na, 0.0);
      for (int p = 0; p < na; ++p) {
        for (int k = 0; k < na + nu; ++k) {
          want_vjp[k] += c[p] * jac[p][k];
          want_jvp[p] += jac[p][k] * tvec[k];
        }
      }
      auto f = [&](const std::vector<array>& in) {
        auto i = ints(idx, {nu});
        auto r = kind == prod ? scatter_prod(in[0], i, in[1], 0)
                              : kind == max ? scatter_max(in[0], i, in[1], 0) : scatter_min(in[0], i, in[1], 0);
        return std::vector<array>{r};
      };
      std::vector<array> xs{array(d.a, {na}, float64), array(d.u, {nu, 1}, float64)};
      auto [y, g] = vjp(f, xs, {array(c, {na}, float64)});
      EXPECT_TRUE(close(values(y[0]), out, 0, 0)) << "forward";
      auto got = values(g[0]), gu = values(g[1]);
      got.insert(got.end(), gu.begin(), gu.end());
      EXPECT_TRUE(close(got, want_vjp, 1e-12, 1e-12)) << "vjp";
      std::vector<double> ta(tvec.begin(), tvec.begin() + na), tu(tvec.begin() + na, tvec.end());
      auto tan = jvp(f, xs, {array(ta, {na}, float64), array(tu, {nu, 1}, float64)}).second[0];
      EXPECT_TRUE(close(values(tan), want_jvp, 1e-12, 1e-12)) << "jvp";
    }
  }
}

// A full SVD of a non-square matrix has no unique U/Vt: a clear error (the singular values work).
TEST(TransformsDecompositions, NonSquareSvdVectorsError) {
  auto x = random_array({3, 4}, float64, -1, 1, 3);
  auto f = [](const std::vector<array>& a) { return std::vector<array>{linalg::svd(a[0])[0]}; };
  auto e = error_message([&] { eval(vjp(f, {x}, {ones({3, 3}, float64)}).second); });
  EXPECT_NE(e.find("[SVD] vjp/jvp of U and Vt is implemented for square matrices only"), std::string::npos) << e;
  // Eigenvalues of A and gradients: d(sum of eigenvalues)/dA = I (the trace), through eigvalsh and eigh.
  auto a = spd(random_array({3, 3}, float64, -1, 1, 4));
  using F1 = std::function<array(const array&)>;
  auto g1 = grad(F1([](const array& m) { return sum(linalg::eigvalsh(m)); }))(a);
  auto g2 = grad(F1([](const array& m) { return sum(linalg::eigh(m).first); }))(a);
  EXPECT_TRUE(close(values(g1), values(eye(3, float64)), 1e-10, 1e-10));
  EXPECT_TRUE(close(values(g2), values(eye(3, float64)), 1e-10, 1e-10));
}

// Quantizing rounds: its error names the primitive and says what to do instead.
TEST(TransformsQuantizedRules, QuantizeHasNoGradient) {
  auto x = random_array({2, 32}, float32, -1, 1, 3);
  using F1 = std::function<array(const array&)>;
  auto e = error_message([&] { eval(grad(F1([](const array& w) { return sum(quantize(w, 32, 4)[1]); }))(x)); });
  EXPECT_NE(e.find("[AffineQuantize] vjp is not implemented: rounding"), std::string::npos) << e;
  EXPECT_NE(e.find("stop_gradient"), std::string::npos) << e;
  // The straight-through estimator it suggests works: gradient 1 everywhere.
  auto g = grad(F1([](const array& w) {
    auto q = quantize(w, 32, 4);
    return sum(add(w, stop_gradient(subtract(dequantize(q[0], q[1], q[2], 32, 4), w))));
  }))(x);
  EXPECT_TRUE(close(values(g), std::vector<double>(64, 1.0), 0, 0));
}

// vmap of random ops over a batch of keys equals the loop over the keys (bit-exact), with the batch at
// axis 0 or 1 of the keys.
TEST(TransformsRandomVmap, EqualsPerKeyLoop) {
  auto keys = random::split(random::key(7), 4);  // (4, 2)
  auto logits = random_array({3, 5}, float32, -1, 1, 2);
  using R = std::function<array(const array&)>;
  std::vector<std::pair<std::string, R>> ops{
      {"bits", [](const array& k) { return random::bits({2, 3}, 4, k); }},
      {"bits8", [](const array& k) { return random::bits({5}, 1, k); }},
      {"uniform", [](const array& k) { return random::uniform({2, 3}, float32, k); }},
      {"normal", [](const array& k) { return random::normal({3, 2}, float64, 0.5f, 2.0f, k); }},
      {"truncated_normal", [](const array& k) { return random::truncated_normal(array(-1.0f), array(0.5f), {4}, float32, k); }},
      {"randint", [](const array& k) { return random::randint(array(-3), array(9), {6}, int32, k); }},
      {"bernoulli", [](const array& k) { return random::bernoulli(array(0.3f), {7}, k); }},
      {"gumbel", [](const array& k) { return random::gumbel({2, 2}, float32, k); }},
      {"categorical", [logits](const array& k) { return random::categorical(logits, -1, 4, k); }},
      {"permutation", [](const array& k) { return random::permutation(arange(0, 6), 0, k); }},
      {"split", [](const array& k) { return random::split(k, 3); }}};
  for (auto& [name, f] : ops) {
    SCOPED_TRACE(name);
    std::vector<array> per;
    for (int b = 0; b < 4; ++b) per.push_back(f(take(keys, b, 0)));
    auto want = stack(per, 0);
    auto got = vmap([f](const std::vector<array>& k) { return std::vector<array>{f(k[0])}; }, {0})({keys})[0];
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_EQ(got.dtype(), want.dtype());
    EXPECT_TRUE(close(values(got), values(want), 0, 0));
    auto got1 = vmap([f](const std::vector<array>& k) { return std::vector<array>{f(k[0])}; }, {1})({transpose(keys)})[0];
    EXPECT_TRUE(close(values(got1), values(want), 0, 0)) << "keys batched at axis 1";
  }
  // Different keys give different samples (the batch is not one key repeated).
  auto u = vmap([](const std::vector<array>& k) { return std::vector<array>{random::uniform({8}, float32, k[0])}; },
                {0})({keys})[0];
  auto uv = values(u);
  EXPECT_NE(std::vector<double>(uv.begin(), uv.begin() + 8), std::vector<double>(uv.begin() + 8, uv.begin() + 16));
}

// User CUDA kernels have no vmap rule: a clear error naming the primitive.
TEST(TransformsCustomKernel, VmapError) {
  fast::CustomKernelLaunch launch;
  auto f = [launch](const std::vector<array>& x) {
    return std::vector<array>{array({4}, float32, std::make_shared<fast::CustomKernel>(to_stream(Device::cpu), launch), {x[0]})};
  };
  auto e = error_message([&] { eval(vmap(f, {0})({ones({3, 4})})); });
  EXPECT_NE(e.find("[CustomKernel] vmap is not implemented for user CUDA kernels"), std::string::npos) << e;
}

}  // namespace
}  // namespace tessera
