// Function transforms: vjp of every family against float64 central differences, jvp against vjp,
// grad of grad, value_and_grad, vmap against a loop, stop_gradient, checkpoint, custom_function.
#include <cmath>

#include "tessera/primitives/custom_kernel.h"
#include "test_utils.h"

namespace tessera {
namespace {

using testing::all_close;
using testing::error_message;
using testing::random_array;
using Fn = std::function<array(const std::vector<array>&)>;

// Checks grad (vjp) of sum(f(xs) * w) against central differences, and jvp against vjp.
void check_rules(const std::string& label, const Fn& f, const std::vector<array>& xs, double h = 1e-6,
                 double rtol = 1e-5, double atol = 1e-6) {
  SCOPED_TRACE(label);
  auto out = f(xs);
  auto w = random_array(out.shape(), float64, -1, 1, 7);
  Fn loss = [&](const std::vector<array>& in) { return sum(multiply(astype(f(in), float64), w)); };
  std::vector<int> argnums(xs.size());
  std::iota(argnums.begin(), argnums.end(), 0);
  auto grads = grad(loss, argnums)(xs);
  ASSERT_EQ(grads.size(), xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    ASSERT_EQ(grads[i].shape(), xs[i].shape());
    auto base = array(xs[i]).to_vector<double>();
    std::vector<double> fd(base.size());
    for (size_t k = 0; k < base.size(); ++k) {
      auto at = [&](double d) {
        auto v = base;
        v[k] += d;
        auto in = xs;
        in[i] = astype(array(v, xs[i].shape(), float64), xs[i].dtype());
        return loss(in).item<double>();
      };
      fd[k] = (at(h) - at(-h)) / (2 * h);
    }
    EXPECT_TRUE(all_close(grads[i], fd, rtol, atol)) << "input " << i;
  }
  // <w, J u> == <grad, u>
  std::vector<array> us;
  for (size_t i = 0; i < xs.size(); ++i) us.push_back(random_array(xs[i].shape(), xs[i].dtype(), -1, 1, 11 + i));
  auto [o, t] = jvp([&](const std::vector<array>& in) { return std::vector<array>{f(in)}; }, xs, us);
  double lhs = sum(multiply(astype(t[0], float64), w)).item<double>();
  double rhs = 0;
  for (size_t i = 0; i < xs.size(); ++i) rhs += sum(multiply(astype(grads[i], float64), astype(us[i], float64))).item<double>();
  EXPECT_NEAR(lhs, rhs, 1e-4 * (1 + std::abs(rhs)) + (xs[0].dtype() == float32 ? 1e-3 : 0.0));
}

array r64(const Shape& s, double lo = -1, double hi = 1, unsigned seed = 0) { return random_array(s, float64, lo, hi, seed); }

TEST(TransformsRules, ElementwiseUnary) {
  struct U { const char* name; std::function<array(const array&)> f; double lo, hi; };
  std::vector<U> ops = {
      {"abs", [](const array& x) { return abs(x); }, 0.1, 1},
      {"negative", [](const array& x) { return negative(x); }, -1, 1},
      {"square", [](const array& x) { return square(x); }, -1, 1},
      {"exp", [](const array& x) { return exp(x); }, -1, 1},
      {"expm1", [](const array& x) { return expm1(x); }, -1, 1},
      {"log", [](const array& x) { return log(x); }, 0.5, 2},
      {"log1p", [](const array& x) { return log1p(x); }, 0.1, 2},
      {"log2", [](const array& x) { return log2(x); }, 0.5, 2},
      {"log10", [](const array& x) { return log10(x); }, 0.5, 2},
      {"sqrt", [](const array& x) { return sqrt(x); }, 0.5, 2},
      {"rsqrt", [](const array& x) { return rsqrt(x); }, 0.5, 2},
      {"reciprocal", [](const array& x) { return reciprocal(x); }, 0.5, 2},
      {"sin", [](const array& x) { return sin(x); }, -2, 2},
      {"cos", [](const array& x) { return cos(x); }, -2, 2},
      {"tan", [](const array& x) { return tan(x); }, -1, 1},
      {"arcsin", [](const array& x) { return arcsin(x); }, -0.8, 0.8},
      {"arccos", [](const array& x) { return arccos(x); }, -0.8, 0.8},
      {"arctan", [](const array& x) { return arctan(x); }, -2, 2},
      {"sinh", [](const array& x) { return sinh(x); }, -1, 1},
      {"cosh", [](const array& x) { return cosh(x); }, -1, 1},
      {"tanh", [](const array& x) { return tanh(x); }, -1, 1},
      {"arcsinh", [](const array& x) { return arcsinh(x); }, -2, 2},
      {"arccosh", [](const array& x) { return arccosh(x); }, 1.5, 3},
      {"arctanh", [](const array& x) { return arctanh(x); }, -0.8, 0.8},
      {"sigmoid", [](const array& x) { return sigmoid(x); }, -2, 2},
      {"erf", [](const array& x) { return erf(x); }, -1, 1},
      {"erfinv", [](const array& x) { return erfinv(x); }, -0.8, 0.8},
      {"floor*x", [](const array& x) { return multiply(floor(x), x); }, 0.1, 0.9},
      {"sign*x", [](const array& x) { return multiply(sign(x), x); }, 0.1, 0.9},
      {"round+ceil", [](const array& x) { return add(round(x), ceil(x)); }, 0.1, 0.4},
  };
  for (auto& u : ops) {
    check_rules(u.name, [&](const std::vector<array>& in) { return u.f(in[0]); }, {r64({3, 4}, u.lo, u.hi)});
  }
}

TEST(TransformsRules, ElementwiseBinary) {
  auto a = r64({3, 4}, 0.5, 2, 1), b = r64({4}, 0.5, 2, 2);
  struct B { const char* name; std::function<array(const array&, const array&)> f; };
  std::vector<B> ops = {
      {"add", [](auto& x, auto& y) { return add(x, y); }},
      {"subtract", [](auto& x, auto& y) { return subtract(x, y); }},
      {"multiply", [](auto& x, auto& y) { return multiply(x, y); }},
      {"divide", [](auto& x, auto& y) { return divide(x, y); }},
      {"power", [](auto& x, auto& y) { return power(x, y); }},
      {"maximum", [](auto& x, auto& y) { return maximum(x, y); }},
      {"minimum", [](auto& x, auto& y) { return minimum(x, y); }},
      {"logaddexp", [](auto& x, auto& y) { return logaddexp(x, y); }},
      {"arctan2", [](auto& x, auto& y) { return arctan2(x, y); }},
      {"remainder", [](auto& x, auto& y) { return remainder(x, multiply(y, array(0.3))); }},
      {"where", [](auto& x, auto& y) { return where(greater(x, y), multiply(x, x), y); }},
      {"clip", [](auto& x, auto& y) { return clip(x, y, std::nullopt); }},
  };
  for (auto& o : ops) check_rules(o.name, [&](const std::vector<array>& in) { return o.f(in[0], in[1]); }, {a, b});
  // Comparisons have zero gradients.
  auto g = grad(Fn([](const std::vector<array>& in) { return sum(astype(less(in[0], array(0.0)), float64)); }), 0)({a});
  EXPECT_TRUE(all_close(g, std::vector<double>(12, 0.0)));
}

TEST(TransformsRules, Reductions) {
  auto x = r64({2, 3, 4}, 0.5, 1.5, 3);
  std::vector<std::pair<const char*, Fn>> ops = {
      {"sum", [](auto& in) { return sum(in[0], {0, 2}); }},
      {"prod", [](auto& in) { return prod(in[0], 1); }},
      {"prod_nonconsecutive", [](auto& in) { return prod(in[0], {0, 2}); }},
      {"max", [](auto& in) { return max(in[0], -1); }},
      {"min", [](auto& in) { return min(in[0], {0, 1}); }},
      {"mean", [](auto& in) { return mean(in[0], {0, 2}, true); }},
      {"logsumexp", [](auto& in) { return logsumexp(in[0], {1, 2}); }},
      {"var", [](auto& in) { return var(in[0], 1, false, 1); }},
      {"std", [](auto& in) { return std(in[0], {0, 2}); }},
      {"cumsum", [](auto& in) { return cumsum(in[0], 1); }},
      {"cumsum_rev_excl", [](auto& in) { return cumsum(in[0], 2, true, false); }},
      {"cumprod", [](auto& in) { return cumprod(in[0], 2); }},
      {"cumprod_excl", [](auto& in) { return cumprod(in[0], 2, true, false); }},
      {"cummax", [](auto& in) { return cummax(in[0], 2); }},
      {"cummin_rev", [](auto& in) { return cummin(in[0], 1, true); }},
      {"cummax_excl", [](auto& in) { return slice(cummax(in[0], 2, false, false), {0, 0, 1}, {2, 3, 4}); }},
      {"softmax", [](auto& in) { return softmax(in[0], -1); }},
      {"softmax_axes", [](auto& in) { return softmax(in[0], std::vector<int>{0, 2}); }},
      {"log_softmax", [](auto& in) { return log_softmax(in[0], 1); }},
      {"sort", [](auto& in) { return sort(in[0], 1); }},
      {"topk", [](auto& in) { return topk(in[0], 2, -1); }},
      {"partition", [](auto& in) { return partition(in[0], 1, -1); }},
      {"argmax_times", [](auto& in) { return multiply(astype(argmax(in[0], 1), float64), sum(in[0], 1)); }},
  };
  for (auto& [n, f] : ops) check_rules(n, f, {x});
}

TEST(TransformsRules, ShapeOps) {
  auto x = r64({2, 3, 4}, -1, 1, 4), y = r64({2, 2, 4}, -1, 1, 5);
  std::vector<std::pair<const char*, Fn>> ops = {
      {"reshape", [](auto& in) { return reshape(in[0], {6, 4}); }},
      {"transpose", [](auto& in) { return transpose(in[0], {2, 0, 1}); }},
      {"broadcast", [](auto& in) { return broadcast_to(sum(in[0], 1, true), {3, 2, 5, 4}); }},
      {"slice", [](auto& in) { return slice(in[0], {1, 2, 3}, {-3, -4, 0}, {-1, -2, -2}); }},
      {"concatenate", [](auto& in) { return concatenate({in[0], in[1], in[0]}, 1); }},
      {"pad", [](auto& in) { return pad(in[0], {{0, 1}, {2, 0}, {1, 1}}, array(3.0)); }},
      {"pad_edge", [](auto& in) { return pad(in[0], {{1, 1}, {0, 2}, {1, 0}}, array(0.0), "edge"); }},
      {"flip", [](auto& in) { return flip(in[0], {0, 2}); }},
      {"diagonal", [](auto& in) { return diagonal(in[0], 1, 2, 1); }},
      {"diag_neg", [](auto& in) { return diagonal(in[0], -1, 1, 2); }},
      {"tril", [](auto& in) { return tril(in[0], 1); }},
      {"triu", [](auto& in) { return triu(in[0], 0); }},
      {"tile", [](auto& in) { return tile(in[0], {2, 1, 2}); }},
      {"repeat", [](auto& in) { return repeat(in[0], 3, 1); }},
      {"roll", [](auto& in) { return roll(in[0], 2, 2); }},
      {"split", [](auto& in) { auto p = split(in[0], 2, 2); return multiply(p[0], p[1]); }},
      {"stack", [](auto& in) { return stack({in[0], square(in[0])}, 1); }},
      {"squeeze", [](auto& in) { return squeeze(expand_dims(in[0], 1), std::vector<int>{1}); }},
  };
  for (auto& [n, f] : ops) check_rules(n, f, {x, y});
  // Casts: the cotangent comes back in the input's dtype.
  auto g = grad(Fn([](auto& in) { return sum(multiply(astype(in[0], float64), array(2.0))); }), 0)({astype(x, float32)});
  EXPECT_EQ(g.dtype(), float32);
  EXPECT_TRUE(all_close(g, std::vector<double>(24, 2.0)));
}

TEST(TransformsRules, Indexing) {
  auto x = r64({4, 3}, -1, 1, 6), v = r64({2, 3}, -1, 1, 7);
  auto idx = array({2, 0}, {2}, int32);
  auto idx2 = array({1, 0, 2, 2, 0, 1}, {2, 3}, int32);
  std::vector<std::pair<const char*, Fn>> ops = {
      {"take", [&](auto& in) { return take(in[0], array({3, 1, 3}, {3}, int32), 0); }},
      {"take_axis1", [&](auto& in) { return take(in[0], array({2, 2, 0, 1}, {2, 2}, int32), 1); }},
      {"take_along_axis", [&](auto& in) { return take_along_axis(in[0], idx2, 0); }},
      {"put_along_axis", [&](auto& in) { return put_along_axis(in[0], array({1, 2, 0}, {1, 3}, int32), slice(in[1], {0, 0}, {1, 3}), 0); }},
      {"scatter_add_axis", [&](auto& in) { return scatter_add_axis(in[0], array({1, 1, 0}, {1, 3}, int32), slice(in[1], {0, 0}, {1, 3}), 0); }},
      {"scatter", [&](auto& in) { return scatter(in[0], idx, reshape(in[1], {2, 1, 3}), 0); }},
      {"scatter_add", [&](auto& in) { return scatter_add(in[0], array({1, 1}, {2}, int32), reshape(in[1], {2, 1, 3}), 0); }},
      {"gather", [&](auto& in) { return gather(in[0], {idx, array({1, 0}, {2}, int32)}, {0, 1}, {1, 2}); }},
      {"slice_update", [&](auto& in) { return slice_update(in[0], in[1], {3, 0}, {0, 3}, {-2, 1}); }},
      {"index", [&](auto& in) { return index(in[0], {Index(SliceIndex{1, std::nullopt, 2}), Index(array({2, 0}, {2}, int32))}); }},
      {"index_update", [&](auto& in) { return index_update(in[0], {Index(int64_t{1})}, reshape(slice(in[1], {1, 0}, {2, 3}), {3})); }},
      {"dynamic_slice", [&](auto& in) { return dynamic_slice(in[0], array({1}, {1}, int32), {0}, {2, 3}); }},
      {"dynamic_slice_update", [&](auto& in) { return dynamic_slice_update(in[0], in[1], array({2}, {1}, int32), {0}); }},
  };
  for (auto& [n, f] : ops) check_rules(n, f, {x, v});
}

TEST(TransformsRules, LinearAlgebra) {
  auto a = r64({2, 3, 4}, -1, 1, 8), b = r64({4, 2}, -1, 1, 9), c = r64({3, 2}, -1, 1, 10);
  auto m = add(r64({3, 3}, -0.3, 0.3, 11), multiply(eye(3, float64), array(2.0)));
  std::vector<std::pair<const char*, Fn>> ops = {
      {"matmul", [](auto& in) { return matmul(in[0], in[1]); }},
      {"matmul_vec", [](auto& in) { return matmul(slice(in[0], {0, 0, 0}, {1, 1, 4}), in[1]); }},
      {"addmm", [](auto& in) { return addmm(in[2], in[0], in[1], 0.5f, 2.0f); }},
      {"inv", [](auto& in) { return linalg::inv(in[3]); }},
      {"solve", [](auto& in) { return linalg::solve(in[3], in[2]); }},
      {"cholesky", [](auto& in) { return linalg::cholesky(matmul(in[3], transpose(in[3]))); }},
      {"cholesky_upper", [](auto& in) { return linalg::cholesky(matmul(in[3], transpose(in[3])), true); }},
      {"norm2", [](auto& in) { return linalg::norm(in[0], -1); }},
      {"norm_p3", [](auto& in) { return linalg::norm(in[1], 3.0, 0); }},
      {"norm_fro", [](auto& in) { return linalg::norm(in[0], "fro", std::vector<int>{1, 2}); }},
      {"norm_inf", [](auto& in) { return linalg::norm(in[2], INFINITY, std::vector<int>{0, 1}); }},
      {"einsum", [](auto& in) { return einsum("bij,jk->bik", {in[0], in[1]}); }},
  };
  for (auto& [n, f] : ops) check_rules(n, f, {a, b, c, m});
}

TEST(TransformsRules, Convolution) {
  auto x1 = r64({2, 7, 4}, -1, 1, 12), w1 = r64({4, 3, 2}, -1, 1, 13);
  check_rules("conv1d", [](auto& in) { return conv1d(in[0], in[1], 2, 1, 2, 2); }, {x1, w1});
  auto x2 = r64({1, 5, 4, 2}, -1, 1, 14), w2 = r64({3, 2, 3, 2}, -1, 1, 15);
  check_rules("conv2d", [](auto& in) { return conv2d(in[0], in[1], {1, 2}, {1, 0}); }, {x2, w2});
}

TEST(TransformsRules, FastOps) {
  // The fused kernels compute in float32: differences in float32 with a large step.
  auto x = random_array({2, 2, 3, 8}, float32, -1, 1, 16), w = random_array({8}, float32, 0.5, 1.5, 17);
  auto b = random_array({8}, float32, -1, 1, 18);
  auto k = random_array({2, 1, 4, 8}, float32, -1, 1, 19), v = random_array({2, 1, 4, 8}, float32, -1, 1, 20);
  double h = 1e-2, rtol = 3e-2, atol = 3e-3;
  check_rules("rms_norm", [](auto& in) { return fast::rms_norm(in[0], in[1], 1e-5f); }, {x, w}, h, rtol, atol);
  check_rules("layer_norm", [](auto& in) { return fast::layer_norm(in[0], in[1], in[2], 1e-5f); }, {x, w, b}, h, rtol, atol);
  check_rules("rope", [](auto& in) { return fast::rope(in[0], 6, false, 10000.0f, 1.0f, 3); }, {x}, h, rtol, atol);
  check_rules("rope_trad", [](auto& in) { return fast::rope(in[0], 8, true, 100.0f, 0.5f, 1); }, {x}, h, rtol, atol);
  check_rules("sdpa_gqa_causal", [](auto& in) {
    return fast::scaled_dot_product_attention(in[0], in[1], in[2], 0.3f, "causal"); }, {x, k, v}, h, rtol, atol);
  auto mask = random_array({3, 4}, float32, -1, 1, 21);
  check_rules("sdpa_mask", [&](auto& in) {
    return fast::scaled_dot_product_attention(in[0], in[1], in[2], 0.3f, mask); }, {x, k, v}, h, rtol, atol);
}

TEST(TransformsRules, RandomHasNoGradient) {
  auto x = r64({3}, -1, 1, 22);
  Fn f = [](auto& in) { return sum(multiply(in[0], random::uniform(in[0], add(in[0], array(1.0)), {3}, float64, random::key(1)))); };
  auto g = grad(f, 0)({x});
  auto u = random::uniform(x, add(x, array(1.0)), {3}, float64, random::key(1));
  EXPECT_TRUE(all_close(g, u.to_vector<double>()));  // the sample is a constant
  check_rules("permutation", [](auto& in) { return random::permutation(in[0], 0, random::key(3)); }, {r64({4, 2})});
}

TEST(TransformsGrad, GradOfGrad) {
  std::function<array(const array&)> f = [](const array& x) { return sum(sin(x)); };
  auto d2 = grad(std::function<array(const array&)>([&](const array& x) { return sum(grad(f)(x)); }));
  auto x = r64({5}, -2, 2, 23);
  auto ref = negative(sin(x)).to_vector<double>();
  EXPECT_TRUE(all_close(d2(x), ref, 1e-10, 1e-12));
  // Hessian-vector product of a small MLP loss against differences of its gradient.
  auto W1 = r64({4, 3}, -1, 1, 24), W2 = r64({3, 1}, -1, 1, 25), X = r64({6, 4}, -1, 1, 26);
  Fn loss = [&](auto& in) { return mean(square(matmul(tanh(matmul(X, in[0])), W2))); };
  auto g = grad(loss, 0);
  auto vdir = r64({4, 3}, -1, 1, 27);
  auto hv = grad(Fn([&](const std::vector<array>& in) { return sum(multiply(g({in[0]}), vdir)); }), 0)({W1});
  double eps = 1e-5;
  auto gp = g({add(W1, multiply(vdir, array(eps)))}), gm = g({subtract(W1, multiply(vdir, array(eps)))});
  EXPECT_TRUE(all_close(hv, divide(subtract(gp, gm), array(2 * eps)).to_vector<double>(), 1e-5, 1e-7));
}

TEST(TransformsGrad, ValueAndGradAuxAndArgnums) {
  auto x = r64({3}, -1, 1, 28), y = r64({3}, -1, 1, 29);
  VecFn f = [](const std::vector<array>& in) {
    auto p = multiply(in[0], in[1]);
    return std::vector<array>{sum(p), p};  // loss, aux
  };
  auto [vals, grads] = value_and_grad(f, std::vector<int>{1})({x, y});
  ASSERT_EQ(vals.size(), 2u);
  ASSERT_EQ(grads.size(), 1u);
  EXPECT_TRUE(all_close(vals[1], multiply(x, y).to_vector<double>()));
  EXPECT_NEAR(vals[0].item<double>(), sum(multiply(x, y)).item<double>(), 1e-12);
  EXPECT_TRUE(all_close(grads[0], x.to_vector<double>()));
  auto g2 = grad(Fn([](auto& in) { return sum(multiply(in[0], exp(in[1]))); }), std::vector<int>{1, 0})({x, y});
  EXPECT_TRUE(all_close(g2[0], multiply(x, exp(y)).to_vector<double>()));
  EXPECT_TRUE(all_close(g2[1], exp(y).to_vector<double>()));
  // Integer inputs get zero gradients; an input used twice sums its cotangents.
  auto gi = grad(Fn([](auto& in) { return sum(multiply(astype(in[1], float64), in[0])); }), std::vector<int>{0, 1})(
      {x, array({1, 2, 3}, {3}, int32)});
  EXPECT_EQ(gi[1].dtype(), int32);
  EXPECT_TRUE(all_close(gi[1], {0, 0, 0}));
  auto gt = grad(std::function<array(const array&)>([](const array& a) { return sum(multiply(a, a)); }))(x);
  EXPECT_TRUE(all_close(gt, multiply(x, array(2.0)).to_vector<double>()));
}

TEST(TransformsGrad, Errors) {
  auto x = r64({3});
  Fn f = [](auto& in) { return in[0]; };
  EXPECT_EQ(error_message([&] { grad(f, 0)({x}); }).rfind("[grad]", 0), 0u);
  EXPECT_EQ(error_message([&] { grad(f, 2)({x}); }).rfind("[grad]", 0), 0u);
  EXPECT_EQ(error_message([&] { grad(f, std::vector<int>{0, 0})({x}); }).rfind("[grad]", 0), 0u);
  EXPECT_THROW(grad(f, 0)({x}), std::invalid_argument);
  EXPECT_EQ(error_message([&] { vjp(VecFn([](auto& in) { return in; }), {x}, {r64({2})}); }).rfind("[vjp]", 0), 0u);
  EXPECT_EQ(error_message([&] { jvp(VecFn([](auto& in) { return in; }), {x}, {}); }).rfind("[jvp]", 0), 0u);
  VecFn add2 = [](auto& in) { return std::vector<array>{add(in[0], in[1])}; };
  EXPECT_EQ(error_message([&] { vmap(add2)({r64({3, 2}), r64({4, 2})}); }).rfind("[vmap]", 0), 0u);
  EXPECT_EQ(error_message([&] { vmap(add2, {0})({x, x}); }).rfind("[vmap]", 0), 0u);
  EXPECT_EQ(error_message([&] { vmap(add2, {-1, -1})({x, x}); }).rfind("[vmap]", 0), 0u);
  EXPECT_EQ(error_message([&] { vmap(add2, {3, 0})({x, x}); }).rfind("[vmap]", 0), 0u);
  EXPECT_EQ(error_message([&] { vmap(add2, {0, 0}, {2})({x, x}); }).rfind("[vmap]", 0), 0u);
  // Missing rules name the primitive.
  EXPECT_EQ(error_message([&] {
              grad(Fn([](auto& in) { return sum(quantize(astype(in[0], float32), 32, 4)[1]); }), 0)({r64({2, 32})});
            }).rfind("[AffineQuantize] vjp is not implemented", 0),
            0u);
}

// Reference for vmap: apply f to each slice along the axes and stack along out_axis.
array loop_map(const std::function<array(const std::vector<array>&)>& f, const std::vector<array>& xs,
               const std::vector<int>& in_axes, int out_axis) {
  int n = 0;
  for (size_t i = 0; i < xs.size(); ++i) if (in_axes[i] >= 0) n = xs[i].shape(in_axes[i]);
  std::vector<array> outs;
  for (int b = 0; b < n; ++b) {
    std::vector<array> in;
    for (size_t i = 0; i < xs.size(); ++i) in.push_back(in_axes[i] >= 0 ? take(xs[i], b, in_axes[i]) : xs[i]);
    outs.push_back(f(in));
  }
  return stack(outs, out_axis);
}

TEST(TransformsVmap, MatchesLoop) {
  auto a = r64({3, 4, 5}, 0.5, 1.5, 30), b = r64({4, 5}, -1, 1, 31), m = r64({5, 2}, -1, 1, 32);
  auto idx = array({2, 0, 1}, {3}, int32);
  struct Case { const char* name; Fn f; std::vector<array> xs; std::vector<int> in_axes; int out_axis; };
  std::vector<Case> cases = {
      {"unary_binary", [](auto& in) { return add(exp(in[0]), multiply(in[1], in[0])); }, {a, b}, {0, -1}, 0},
      {"axis1_out1", [](auto& in) { return subtract(sin(in[0]), in[1]); }, {a, a}, {1, 1}, 1},
      {"reductions", [](auto& in) { return add(sum(in[0], 0), max(in[0], 0)); }, {a}, {2}, 0},
      {"mean_var_lse", [](auto& in) { return add(mean(in[0], {0, 1}), add(var(in[0]), logsumexp(in[0]))); }, {a}, {1}, 0},
      {"scans_softmax", [](auto& in) { return add(cumsum(in[0], 1), softmax(in[0], 0)); }, {a}, {0}, 1},
      {"argmax_sort", [](auto& in) { return add(astype(argmax(in[0], 1, true), float64), cumprod(in[0], 0)); }, {a}, {0}, 0},
      {"shape_ops", [](auto& in) { return reshape(transpose(slice(in[0], {0, 1}, {4, 5}, {2, 1}), {1, 0}), {-1}); }, {a}, {0}, 0},
      {"broadcast_concat", [](auto& in) { return concatenate({broadcast_to(in[0], {2, 5}), in[1]}, 0); }, {b, a}, {0, 1}, 0},
      {"matmul", [](auto& in) { return matmul(in[0], in[1]); }, {a, m}, {0, -1}, 0},
      {"matmul_both", [](auto& in) { return matmul(in[0], in[1]); }, {a, r64({5, 3, 2}, -1, 1, 41)}, {0, 1}, 0},
      {"matmul_right", [](auto& in) { return matmul(in[1], in[0]); }, {m, b}, {1, -1}, 1},
      {"take", [&](auto& in) { return take(in[0], idx, 0); }, {a}, {1}, 0},
      {"take_mapped_idx", [&](auto& in) { return take(in[0], in[1], 1); }, {b, array({0, 3, 2, 1, 4, 4}, {3, 2}, int32)}, {-1, 0}, 0},
      {"take_both", [&](auto& in) { return take(in[0], in[1], 0); }, {a, array({0, 3, 2, 1, 1, 0}, {3, 2}, int32)}, {0, 0}, 0},
      {"take_along_axis", [&](auto& in) { return take_along_axis(in[0], in[1], 0); }, {a, array({0, 1, 1, 3, 2, 2, 0, 0, 1, 1}, {2, 5}, int32)}, {0, -1}, 0},
      {"diag_tril", [](auto& in) { return add(sum(diagonal(in[0])), tril(in[0])); }, {a}, {0}, 0},
      {"where", [](auto& in) { return where(greater(in[0], array(1.0)), in[0], in[1]); }, {a, b}, {0, -1}, 0},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto got = vmap([&](const std::vector<array>& in) { return std::vector<array>{c.f(in)}; }, c.in_axes, {c.out_axis})(c.xs)[0];
    auto ref = loop_map(c.f, c.xs, c.in_axes, c.out_axis);
    ASSERT_EQ(got.shape(), ref.shape());
    EXPECT_TRUE(all_close(got, ref.to_vector<double>(), 1e-10, 1e-12));
  }
}

TEST(TransformsVmap, MissingRuleNamesPrimitive) {
  fast::CustomKernelLaunch launch;
  auto f = vmap(std::function<array(const array&)>([launch](const array& x) {
    return array({3}, float64, std::make_shared<fast::CustomKernel>(to_stream(Device::cpu), launch), {x});
  }));
  EXPECT_EQ(error_message([&] { f(r64({2, 3})); }).rfind("[CustomKernel] vmap is not implemented", 0), 0u);
  // vmap maps through stop_gradient (its output depends on the mapped input).
  auto sg = [](const std::vector<array>& in) { return multiply(in[0], stop_gradient(sign(take(in[0], 0, -1)))); };
  auto y = r64({3, 4});
  auto got_sg = vmap([&](const std::vector<array>& in) { return std::vector<array>{sg(in)}; }, {0})({y})[0];
  EXPECT_TRUE(all_close(got_sg, loop_map(sg, {y}, {0}, 0).to_vector<double>(), 0, 0));
  // as_strided has a rule now: overlapping windows of each row, as the loop gives them.
  auto g = [](const std::vector<array>& in) { return as_strided(in[0], {2, 2}, {1, 1}, 1); };
  auto x = r64({4, 3});
  auto got = vmap([&](const std::vector<array>& in) { return std::vector<array>{g(in)}; }, {1})({x})[0];
  EXPECT_TRUE(all_close(got, loop_map(g, {x}, {1}, 0).to_vector<double>(), 0, 0));
}

TEST(TransformsVmap, FastOps) {
  auto x = random_array({3, 2, 4, 8}, float32, -1, 1, 33), w = random_array({8}, float32, 0.5, 1.5, 34);
  auto q = random_array({3, 1, 2, 4, 8}, float32, -1, 1, 35), kv = random_array({1, 1, 5, 8}, float32, -1, 1, 36);
  std::vector<std::pair<const char*, std::pair<Fn, std::vector<int>>>> cases = {
      {"rms_norm", {[&](auto& in) { return fast::rms_norm(in[0], w, 1e-5f); }, {0}}},
      {"layer_norm", {[&](auto& in) { return fast::layer_norm(in[0], w, std::nullopt, 1e-5f); }, {2}}},
      {"rope", {[&](auto& in) { return fast::rope(in[0], 8, false, 10000.0f, 1.0f, 2); }, {1}}},
  };
  for (auto& [name, c] : cases) {
    SCOPED_TRACE(name);
    auto got = vmap([&](const std::vector<array>& in) { return std::vector<array>{c.first(in)}; }, c.second)({x})[0];
    EXPECT_TRUE(all_close(got, loop_map(c.first, {x}, c.second, 0).to_vector<double>(), 1e-5, 1e-6));
  }
  Fn attn = [&](auto& in) { return fast::scaled_dot_product_attention(in[0], kv, kv, 0.5f, "causal"); };
  auto got = vmap([&](const std::vector<array>& in) { return std::vector<array>{attn(in)}; }, {0})({q})[0];
  EXPECT_TRUE(all_close(got, loop_map(attn, {q}, {0}, 0).to_vector<double>(), 1e-5, 1e-6));
}

TEST(TransformsVmap, PerExampleGradientsAndGradOfVmap) {
  auto W = r64({4, 2}, -1, 1, 37), X = r64({5, 4}, -1, 1, 38);
  Fn loss = [](auto& in) { return sum(square(tanh(matmul(in[1], in[0])))); };  // in: W, x (4,)
  auto g = grad(loss, 0);
  auto per_ex = vmap([&](const std::vector<array>& in) { return std::vector<array>{g({in[0], in[1]})}; }, {-1, 0})({W, X})[0];
  ASSERT_EQ(per_ex.shape(), (Shape{5, 4, 2}));
  for (int i = 0; i < 5; ++i) {
    auto ref = g({W, take(X, i, 0)});
    EXPECT_TRUE(all_close(take(per_ex, i, 0), ref.to_vector<double>(), 1e-10, 1e-12));
  }
  // grad of a vmapped loss equals the sum of the per-example gradients.
  Fn batched = [&](const std::vector<array>& in) {
    return sum(vmap([&](const std::vector<array>& a) { return std::vector<array>{loss({a[0], a[1]})}; }, {-1, 0})({in[0], X})[0]);
  };
  auto gb = grad(batched, 0)({W});
  EXPECT_TRUE(all_close(gb, sum(per_ex, 0).to_vector<double>(), 1e-10, 1e-12));
}

TEST(TransformsGrad, StopGradientCheckpointCustom) {
  auto x = r64({4}, -1, 1, 39);
  auto g = grad(Fn([](auto& in) { return sum(multiply(in[0], stop_gradient(in[0]))); }), 0)({x});
  EXPECT_TRUE(all_close(g, x.to_vector<double>()));
  EXPECT_TRUE(all_close(stop_gradient(x), x.to_vector<double>()));
  // checkpoint: same values and gradients.
  VecFn block = [](const std::vector<array>& in) { return std::vector<array>{tanh(multiply(exp(in[0]), in[1]))}; };
  auto y = r64({4}, -1, 1, 40);
  Fn plain = [&](auto& in) { return sum(square(block(in)[0])); };
  auto ck = checkpoint(block);
  Fn chk = [&](auto& in) { return sum(square(ck(in)[0])); };
  auto g1 = grad(plain, std::vector<int>{0, 1})({x, y});
  auto g2 = grad(chk, std::vector<int>{0, 1})({x, y});
  EXPECT_TRUE(all_close(g2[0], g1[0].to_vector<double>(), 1e-12, 1e-14));
  EXPECT_TRUE(all_close(g2[1], g1[1].to_vector<double>(), 1e-12, 1e-14));
  EXPECT_NEAR(chk({x, y}).item<double>(), plain({x, y}).item<double>(), 1e-12);
  // custom_function: the user vjp (here 3 * cotangent, not the true derivative) is used.
  int calls = 0;
  auto cf = custom_function(
      [](const std::vector<array>& in) { return std::vector<array>{sin(in[0])}; },
      [&calls](const std::vector<array>&, const std::vector<array>& cot, const std::vector<array>&) {
        ++calls;
        return std::vector<array>{multiply(cot[0], array(3.0))};
      },
      [](const std::vector<array>&, const std::vector<array>& t, const std::vector<int>&) {
        return std::vector<array>{multiply(t[0], array(5.0))};
      });
  auto gc = grad(Fn([&](auto& in) { return sum(cf(in)[0]); }), 0)({x});
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(all_close(gc, std::vector<double>(4, 3.0)));
  EXPECT_TRUE(all_close(cf({x})[0], sin(x).to_vector<double>()));
  auto [o, t] = jvp(cf, {x}, {ones_like(x)});
  EXPECT_TRUE(all_close(t[0], std::vector<double>(4, 5.0)));
  // Without user rules, transforms fall back to the function itself (vmap included).
  auto plain_cf = custom_function([](const std::vector<array>& in) { return std::vector<array>{square(in[0])}; });
  auto gp = grad(Fn([&](auto& in) { return sum(plain_cf(in)[0]); }), 0)({x});
  EXPECT_TRUE(all_close(gp, multiply(x, array(2.0)).to_vector<double>()));
  auto vm = vmap(plain_cf)({r64({2, 3})});
  EXPECT_EQ(vm[0].shape(), (Shape{2, 3}));
}

// checkpoint keeps only each block's input for the backward pass and recomputes the rest when the
// backward pass reaches the block (its recomputation waits for the cotangent), so a chain of
// checkpointed blocks peaks well below the same chain without checkpoints.
TEST(TransformsCheckpoint, ChainPeaksBelowTheUncheckpointedChain) {
  const int K = 8, N = 1 << 17;  // 512 KiB per float32 array
  // 8 elementwise steps (their backward keeps several arrays) and a softmax, whose vjp reads its
  // (recomputed) output before the cotangent: without ordering, the scheduler would recompute every
  // block as soon as the backward pass starts and keep all their intermediates at once.
  VecFn block = [](const std::vector<array>& x) {
    array h = multiply(x[0], array(0.5f));
    for (int i = 0; i < 4; ++i) h = sin(exp(h));
    return std::vector<array>{softmax(h, -1)};
  };
  auto ck = checkpoint(block);
  auto x = random_array({64, N / 64}, float32, -1, 1, 9);
  eval(x);
  auto peak_of = [&](const VecFn& b) {
    auto loss = [&](const array& a) {
      array h = a;
      for (int k = 0; k < K; ++k) h = b({h})[0];
      return sum(h);
    };
    auto base = get_active_memory();
    reset_peak_memory();
    auto g = grad(std::function<array(const array&)>(loss))(x);
    eval(g);
    return static_cast<double>(get_peak_memory() - base);
  };
  double plain = peak_of(block), checkpointed = peak_of(ck);
  double per_array = N * 4.0;
  EXPECT_GT(plain, 4.0 * K * per_array) << "the uncheckpointed chain keeps several arrays per block";
  EXPECT_LT(checkpointed, 0.6 * plain) << "checkpointed " << checkpointed / per_array << " arrays, plain "
                                       << plain / per_array;
}

}  // namespace
}  // namespace tessera
