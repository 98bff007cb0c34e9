// Tests of compile: compiled results equal uncompiled ones, the trace cache, shapeless mode,
// simplification (CSE), fusion, transforms through compiled functions, and the global switch.
#include <cmath>
#include <cstdlib>

#include "test_utils.h"

using namespace tessera;
using tessera::testing::random_array;

namespace {

::testing::AssertionResult same(array a, array b, double tol = 1e-5) {
  if (a.shape() != b.shape()) return ::testing::AssertionFailure() << "shape " << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  if (a.dtype() != b.dtype()) return ::testing::AssertionFailure() << "dtype differs";
  return tessera::testing::all_close(a, b.to_vector<double>(), tol, tol);
}

array gelu(const array& x) { return multiply(multiply(x, array(0.5f)), add(array(1.0f), erf(divide(x, array(std::sqrt(2.0f)))))); }

void expect_same(const VecFn& f, const std::vector<array>& in, double tol = 1e-5) {
  auto c = compile(f);
  auto want = f(in);
  auto got = c(in);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(same(got[i], want[i], tol)) << "output " << i;
}

}  // namespace

TEST(Compile, ElementwiseChains) {
  auto x = random_array({37, 61}, float32, -3, 3, 1);
  expect_same([](const std::vector<array>& a) { return std::vector<array>{gelu(a[0])}; }, {x});
  expect_same([](const std::vector<array>& a) {
    auto y = tanh(multiply(a[0], add(a[0], array(0.1f))));
    return std::vector<array>{sigmoid(subtract(exp(negative(square(y))), sqrt(abs(a[0]))))};
  }, {x});
  // A 16K+ array so several threads and blocks (and a partial last block) run.
  auto big = random_array({100003}, float32, -2, 2, 2);
  expect_same([](const std::vector<array>& a) { return std::vector<array>{gelu(a[0])}; }, {big});
}

TEST(Compile, Broadcasting) {
  auto x = random_array({5, 1, 7}, float32, -1, 1, 3);
  auto y = random_array({4, 7}, float32, -1, 1, 4);
  auto t = transpose(random_array({7, 4}, float32, -1, 1, 5));  // a strided input
  expect_same([](const std::vector<array>& a) {
    return std::vector<array>{maximum(multiply(add(a[0], a[1]), exp(a[2])), array(0.2f))};
  }, {x, y, t});
}

TEST(Compile, ReductionsAndMatmulAreNotFused) {
  auto x = random_array({8, 16}, float32, -1, 1, 6);
  auto w = random_array({16, 4}, float32, -1, 1, 7);
  VecFn f = [](const std::vector<array>& a) {
    auto h = gelu(matmul(exp(a[0]), a[1]));
    auto s = sum(multiply(h, h), std::vector<int>{1}, true);
    return std::vector<array>{divide(h, add(s, array(1.0f)))};
  };
  expect_same(f, {x, w}, 1e-4);
  // Fusion is a CPU-stream transformation (GPU fusion comes with the CUDA backend): trace on the CPU.
  Device previous = default_device();
  set_default_device(Device::cpu);
  auto c = compile(f);
  c({x, w})[0].eval();
  auto info = c.info();
  set_default_device(previous);
  EXPECT_GE(info.fused_groups, 1u);
  EXPECT_LT(info.tape_nodes, info.simplified_nodes);
}

TEST(Compile, MultipleOutputsAndIntermediates) {
  auto x = random_array({33}, float32, -1, 1, 8);
  // y is both an output and an operand of z: it must not be folded away.
  expect_same([](const std::vector<array>& a) {
    auto y = exp(multiply(a[0], array(2.0f)));
    auto z = log1p(square(y));
    return std::vector<array>{y, z, a[0]};
  }, {x});
}

TEST(Compile, IntegerAndMixedDtypes) {
  auto i = astype(random_array({20}, float32, -10, 10, 9), int32);
  auto x = random_array({20}, float32, -1, 1, 10);
  expect_same([](const std::vector<array>& a) {
    return std::vector<array>{add(multiply(a[0], a[0]), array(3)), multiply(astype(a[0], float32), exp(a[1]))};
  }, {i, x});
}

TEST(Compile, CommonSubexpressionsAreMerged) {
  VecFn f = [](const std::vector<array>& a) {
    auto p = exp(multiply(a[0], array(2.0f)));
    auto q = exp(multiply(a[0], array(2.0f)));  // the same computation again
    return std::vector<array>{add(p, q)};
  };
  auto x = random_array({10}, float32, -1, 1, 11);
  auto c = compile(f);
  EXPECT_TRUE(same(c({x})[0], f({x})[0]));
  auto info = c.info();
  // Traced: broadcast? no (scalar constants are broadcast views), mul, exp twice each, add.
  EXPECT_LT(info.simplified_nodes, info.traced_nodes);
  // After CSE and scalar-constant merging: one Broadcast, one Multiply, one Exp, one Add.
  EXPECT_EQ(info.simplified_nodes, 4u);
  EXPECT_EQ(info.traced_nodes, 7u);
}

TEST(Compile, RandomNodesAreNotMerged) {
  VecFn f = [](const std::vector<array>& a) {
    return std::vector<array>{subtract(random::uniform(a[0].shape()), random::uniform(a[0].shape()))};
  };
  auto c = compile(f);
  auto r = c({zeros({1000})})[0];
  EXPECT_GT(max(abs(r)).item<float>(), 0.0f);
}

TEST(Compile, TracesOncePerSignature) {
  int calls = 0;
  auto c = compile([&calls](const std::vector<array>& a) {
    ++calls;
    return std::vector<array>{gelu(a[0])};
  });
  auto x1 = random_array({4, 5}, float32, -1, 1, 12);
  auto x2 = random_array({4, 5}, float32, -1, 1, 13);
  EXPECT_TRUE(same(c({x1})[0], gelu(x1)));
  EXPECT_TRUE(same(c({x2})[0], gelu(x2)));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(c.info().traces, 1);
  auto x3 = random_array({6}, float32, -1, 1, 14);
  EXPECT_TRUE(same(c({x3})[0], gelu(x3)));  // new shape: retrace
  EXPECT_EQ(calls, 2);
  auto x4 = astype(x3, float64);  // new dtype: retrace
  EXPECT_TRUE(same(c({x4})[0], gelu(x4)));
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(c.info().cache_entries, 3u);
  c({x1})[0].eval();
  EXPECT_EQ(calls, 3);
}

TEST(Compile, Shapeless) {
  int calls = 0;
  auto c = compile([&calls](const std::vector<array>& a) {
    ++calls;
    return std::vector<array>{add(gelu(a[0]), multiply(a[1], array(2.0f)))};
  }, true);
  auto ref = [](const array& x, const array& y) { return add(gelu(x), multiply(y, array(2.0f))); };
  auto x = random_array({3, 4}, float32, -1, 1, 15), y = random_array({3, 4}, float32, -1, 1, 16);
  EXPECT_TRUE(same(c({x, y})[0], ref(x, y)));
  auto x2 = random_array({5, 9}, float32, -1, 1, 17), y2 = random_array({1, 9}, float32, -1, 1, 18);
  EXPECT_TRUE(same(c({x2, y2})[0], ref(x2, y2)));
  EXPECT_EQ(calls, 1);
  auto x3 = random_array({5}, float32, -1, 1, 19);  // a new rank retraces
  EXPECT_TRUE(same(c({x3, x3})[0], ref(x3, x3)));
  EXPECT_EQ(calls, 2);
  // A reshape to a fixed shape cannot follow new shapes: a clear error (the first trace works).
  auto m = compile([](const std::vector<array>& a) { return std::vector<array>{reshape(a[0], {-1})}; }, true);
  EXPECT_TRUE(same(m({random_array({3, 3}, float32, -1, 1, 20)})[0], reshape(random_array({3, 3}, float32, -1, 1, 20), {-1})));
  auto e = tessera::testing::error_message([&] { eval(m({random_array({2, 5}, float32, -1, 1, 21)})); });
  EXPECT_NE(e.find("[compile] Reshape from (3, 3) to (9,) cannot be shapeless"), std::string::npos) << e;
}

// Shapeless compile beyond elementwise graphs: reductions (keepdims or not), arg-reductions, scans,
// softmax/logsumexp/var, transposes, and matmul with broadcast batch dims and a broadcast bias, on three
// input shapes of one rank, against the uncompiled function; one trace.
TEST(Compile, ShapelessReductionsAndMatmul) {
  int calls = 0;
  auto f = [&calls](const std::vector<array>& a) {
    ++calls;
    const array &x = a[0], &w = a[1], &b = a[2];
    auto h = add(matmul(x, w), b);                          // (B, M, K) @ (K, N) + (N)
    auto s = softmax(h, -1);
    auto red = add(sum(h, 1), max(h, std::vector<int>{1}));  // (B, N)
    auto mn = mean(square(x), -1, true);                     // (B, M, 1)
    return std::vector<array>{s, red, mn, logsumexp(h, -1), var(h, -1), cumsum(h, 2), argmax(h, -1),
                              transpose(h, {2, 0, 1}), matmul(swapaxes(x, -1, -2), x), expand_dims(min(h, -1), 0)};
  };
  auto c = compile(f, true);
  std::vector<Shape> xs{{2, 3, 4}, {1, 5, 7}, {3, 1, 2}};
  std::vector<int> ns{5, 2, 6};
  for (size_t i = 0; i < xs.size(); ++i) {
    SCOPED_TRACE(shape_str(xs[i]));
    std::vector<array> in{random_array(xs[i], float32, -1, 1, 30 + i), random_array({xs[i][2], ns[i]}, float32, -1, 1, 40 + i),
                          random_array({ns[i]}, float32, -1, 1, 50 + i)};
    auto want = f(in);
    auto got = c(in);
    ASSERT_EQ(got.size(), want.size());
    for (size_t k = 0; k < got.size(); ++k) EXPECT_TRUE(same(got[k], want[k], 1e-5)) << "output " << k;
  }
  EXPECT_EQ(calls, 1 + 3);  // one trace, plus the three reference calls
  // A slice of fixed bounds has no shape inference: a clear error naming the primitive.
  auto sl = compile([](const std::vector<array>& a) { return std::vector<array>{slice(a[0], {0}, {2})}; }, true);
  eval(sl({random_array({4}, float32, -1, 1, 60)}));
  auto e = tessera::testing::error_message([&] { eval(sl({random_array({6}, float32, -1, 1, 61)})); });
  EXPECT_NE(e.find("[Slice] cannot infer output shapes (shapeless compile)"), std::string::npos) << e;
}

TEST(Compile, GradOfCompiledAndCompileOfGrad) {
  auto f = [](const std::vector<array>& a) { return std::vector<array>{gelu(a[0])}; };
  auto loss = [](const std::vector<array>& a) { return sum(gelu(a[0])); };
  auto x = random_array({50}, float32, -2, 2, 21);
  auto want = grad(loss)({x})[0];
  auto cf = compile(f);
  // grad through a compiled function (its Compiled node expands for the vjp).
  auto got = grad([&cf](const std::vector<array>& a) { return sum(cf({multiply(a[0], array(1.0f))})[0]); })({x})[0];
  EXPECT_TRUE(same(got, want, 1e-5));
  // jvp and vmap through it.
  auto t = random_array({50}, float32, -1, 1, 22);
  auto [o1, t1] = jvp(f, {x}, {t});
  auto [o2, t2] = jvp([&cf](const std::vector<array>& a) { return cf({exp(a[0])}); }, {log(add(x, array(3.0f)))}, {t});
  (void)o1; (void)o2; (void)t1;
  auto t2ref = multiply(jvp(f, {add(x, array(3.0f))}, {ones_like(x)}).second[0], multiply(t, add(x, array(3.0f))));
  EXPECT_TRUE(same(t2[0], t2ref, 1e-4));
  auto xb = random_array({3, 50}, float32, -2, 2, 23);
  auto vm = vmap([&cf](const std::vector<array>& a) { return cf({multiply(a[0], array(1.0f))}); })({xb})[0];
  EXPECT_TRUE(same(vm, gelu(xb)));
  // compile of grad.
  auto cg = compile(grad(loss));
  EXPECT_TRUE(same(cg({x})[0], want, 1e-5));
  EXPECT_TRUE(same(cg({multiply(x, array(2.0f))})[0], grad(loss)({multiply(x, array(2.0f))})[0], 1e-5));
}

TEST(Compile, CapturedConstantsAndPassThrough) {
  auto w = random_array({6}, float32, -1, 1, 24);
  auto c = compile([w](const std::vector<array>& a) { return std::vector<array>{add(exp(a[0]), w), a[1]}; });
  auto x = random_array({6}, float32, -1, 1, 25);
  auto out = c({x, x});
  EXPECT_TRUE(same(out[0], add(exp(x), w)));
  EXPECT_TRUE(same(out[1], x));
}

TEST(Compile, DisableAndEnable) {
  int calls = 0;
  auto c = compile([&calls](const std::vector<array>& a) {
    ++calls;
    return std::vector<array>{exp(a[0])};
  });
  auto x = random_array({3}, float32, -1, 1, 26);
  disable_compile();
  EXPECT_FALSE(compile_enabled());
  c({x});
  c({x});
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(c.info().traces, 0);
  enable_compile();
  c({x});
  c({x});
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(c.info().traces, 1);
}

TEST(Compile, Errors) {
  EXPECT_THROW(compile(VecFn{}), std::invalid_argument);
  auto c = compile([](const std::vector<array>& a) { return std::vector<array>{add(a[0], a[1])}; });
  EXPECT_THROW(c({zeros({3}), zeros({4})}), std::invalid_argument);
}
