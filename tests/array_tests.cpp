// Tests of the array object: construction, dtypes, views, evaluation, graph teardown, memory.
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

TEST(Array, ScalarsAndLists) {
  array a(3.5f);
  EXPECT_EQ(a.ndim(), 0);
  EXPECT_EQ(a.size(), 1u);
  EXPECT_EQ(a.dtype(), float32);
  EXPECT_FLOAT_EQ(a.item<float>(), 3.5f);
  array b({1, 2, 3});
  EXPECT_EQ(b.dtype(), int32);
  EXPECT_EQ(b.shape(), Shape({3}));
  array c({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}, {2, 3});
  EXPECT_EQ(c.shape(0), 2);
  EXPECT_EQ(c.shape(-1), 3);
  EXPECT_EQ(c.to_vector<int>(), std::vector<int>({1, 2, 3, 4, 5, 6}));
  EXPECT_THROW(array({1.0f, 2.0f}, {3}), std::invalid_argument);
  EXPECT_THROW(c.shape(2), std::out_of_range);
  EXPECT_THROW(c.item<float>(), std::invalid_argument);
}

TEST(Array, DtypeConversionsRoundTrip) {
  for (int i = 0; i < num_dtypes; ++i) {
    Dtype d = dtype_from_index(i);
    array a({0.0, 1.0, 2.0, 3.0}, {4});
    auto b = astype(a, d);
    EXPECT_EQ(b.dtype(), d);
    auto v = b.to_vector<double>();
    if (d == bool_) {
      EXPECT_EQ(v, std::vector<double>({0, 1, 1, 1}));
    } else {
      EXPECT_EQ(v, std::vector<double>({0, 1, 2, 3})) << dtype_name(d);
    }
  }
}

TEST(Array, HalfTypes) {
  EXPECT_EQ(float(float16_t(1.0f)), 1.0f);
  EXPECT_EQ(float16_t(65504.0f).bits, 0x7bff);
  EXPECT_EQ(float16_t(1e6f).bits, 0x7c00);  // overflow -> inf
  EXPECT_EQ(float(float16_t(5.960464477539063e-08f)), 5.960464477539063e-08f);  // smallest subnormal
  EXPECT_TRUE(std::isnan(float(float16_t(NAN))));
  EXPECT_EQ(float(bfloat16_t(1.0f)), 1.0f);
  EXPECT_EQ(bfloat16_t(1.00390625f).bits, 0x3f80);  // ties to even
  EXPECT_TRUE(std::isnan(float(bfloat16_t(NAN))));
}

TEST(Array, LazyUntilEval) {
  array a({1.0f, 2.0f});
  auto b = exp(a);
  EXPECT_FALSE(b.is_available());
  EXPECT_TRUE(b.has_primitive());
  eval(b);
  EXPECT_TRUE(b.is_available());
  EXPECT_FALSE(b.has_primitive());  // detached after evaluation
  EXPECT_TRUE(all_close(b, {std::exp(1.0), std::exp(2.0)}));
}

TEST(Array, AsyncEval) {
  auto a = arange(0.0, 1000.0, 1.0);
  auto b = a * a + a;
  async_eval({b});
  auto v = b.to_vector<double>();
  EXPECT_EQ(v[999], 999.0 * 999.0 + 999.0);
}

TEST(Array, DeepGraphDoesNotOverflowStack) {
  array x(0.0f);
  array one(1.0f);
  for (int i = 0; i < 1000000; ++i) x = x + one;
  EXPECT_FLOAT_EQ(x.item<float>(), 1000000.0f);
  // And dropping an unevaluated deep graph must not recurse either.
  array y(0.0f);
  for (int i = 0; i < 1000000; ++i) y = y + one;
}

TEST(Array, ViewsShareData) {
  auto a = reshape(arange(0, 12), {3, 4});
  auto t = transpose(a);
  eval(t);
  EXPECT_EQ(t.shape(), Shape({4, 3}));
  EXPECT_EQ(t.strides(), Strides({1, 4}));
  EXPECT_EQ(t.to_vector<int>()[1], 4);
  auto s = slice(a, {0, 1}, {3, 4}, {2, 2});
  EXPECT_EQ(s.shape(), Shape({2, 2}));
  EXPECT_EQ(s.to_vector<int>(), std::vector<int>({1, 3, 9, 11}));
  auto r = slice(a, {2, 3}, {-4, -5}, {-1, -1});  // reversed
  EXPECT_EQ(r.to_vector<int>(), std::vector<int>({11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  auto bc = broadcast_to(array({1, 2}), {3, 2});
  EXPECT_EQ(bc.to_vector<int>(), std::vector<int>({1, 2, 1, 2, 1, 2}));
  // Reshape of a transposed view copies where it must.
  auto rt = reshape(t, {12});
  EXPECT_EQ(rt.to_vector<int>(), std::vector<int>({0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  EXPECT_THROW(reshape(a, {5, -1}), std::invalid_argument);
  EXPECT_THROW(transpose(a, {0, 0}), std::invalid_argument);
  EXPECT_THROW(broadcast_to(a, {2, 4}), std::invalid_argument);
}

TEST(Array, ErrorsNameTheOp) {
  EXPECT_EQ(error_message([] { reshape(arange(0, 6), {4}); }).rfind("[reshape]", 0), 0u);
  EXPECT_EQ(error_message([] { add(zeros({2, 3}), zeros({3, 2})); }).rfind("[add]", 0), 0u);
  EXPECT_EQ(error_message([] { transpose(zeros({2}), {1}); }).rfind("[transpose]", 0), 0u);
}

TEST(Array, ErrorPropagatesThroughGraph) {
  size_t old = set_memory_limit(1 << 20);
  auto big = zeros({1 << 20}, float32);  // 4 MB > limit
  auto c = big + array(1.0f);
  EXPECT_THROW(eval(c), OutOfMemory);
  set_memory_limit(old);
}

TEST(Memory, CountersAndCache) {
  clear_cache();
  size_t before = get_active_memory();
  {
    auto a = zeros({1 << 18}, float32);
    eval(a);
    EXPECT_GE(get_active_memory(), before + (1 << 20));
    EXPECT_GE(get_peak_memory(), get_active_memory());
  }
  EXPECT_EQ(get_active_memory(), before);
  EXPECT_GE(get_cache_memory(), size_t(1) << 20);
  clear_cache();
  EXPECT_EQ(get_cache_memory(), 0u);
}

TEST(Memory, IntermediatesFreedDuringEval) {
  clear_cache();
  reset_peak_memory();
  size_t base = get_active_memory();
  // A chain of 20 elementwise ops over a 4 MB array: peak must stay near a few buffers, not 20.
  auto x = ones({1 << 20}, float32);
  eval(x);
  auto y = x;
  for (int i = 0; i < 20; ++i) y = exp(-y);
  eval(y);
  EXPECT_LT(get_peak_memory() - base, size_t(6) * (4 << 20));
}

TEST(Streams, IndependentStreamsAndDependencies) {
  auto s1 = new_stream(Device::cpu);
  auto s2 = new_stream(Device::cpu);
  auto a = add(arange(0.0, 100.0, 1.0), array(1.0f), s1);
  auto b = multiply(a, array(2.0f), s2);  // crosses streams
  auto c = add(a, b, s1);
  EXPECT_FLOAT_EQ(c.to_vector<float>()[10], 11.0f + 22.0f);
  synchronize();
}

TEST(Device, DefaultIsCpuWithoutGpu) {
  if (!is_available(Device::gpu)) {
    EXPECT_EQ(default_device(), Device(Device::cpu));
    EXPECT_THROW(set_default_device(Device::gpu), std::invalid_argument);
  }
}

TEST(Array, BoolLists) {
  array a({true, false, true});
  EXPECT_EQ(a.dtype(), bool_);
  EXPECT_EQ(a.to_vector<int>(), std::vector<int>({1, 0, 1}));
  array b({true, false, false, true}, {2, 2});
  EXPECT_EQ(b.to_vector<int>(), std::vector<int>({1, 0, 0, 1}));
}
