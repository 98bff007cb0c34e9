// Tests of the elementwise op family against float64 references computed with plain loops.
#include <cstring>
#include <functional>
#include <limits>

#include "tessera/backend/common/utils.h"
#include "tessera/backend/cpu/simd_math.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Relative tolerance per dtype (16-bit floats are compared after their own rounding of inputs).
double rtol_for(Dtype d) {
  if (d == float16) return 2e-3;
  if (d == bfloat16) return 1.6e-2;
  if (d == float32) return 4e-6;
  return 1e-12;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// A bool array from a list (array's initializer_list constructor cannot take bools: vector<bool>).
array barr(std::initializer_list<int> v) { return astype(array(v), bool_); }

// Expected values as the output dtype can hold them (e.g. float16 overflows to inf above 65504).
std::vector<double> round_to(std::vector<double> v, Dtype d) {
  if (d == float16) {
    for (auto& x : v) x = float(float16_t(float(x)));
  } else if (d == bfloat16) {
    for (auto& x : v) x = float(bfloat16_t(float(x)));
  }
  return v;
}

using UnaryOp = std::function<array(const array&)>;
using Ref1 = std::function<double(double)>;

// Checks op(x) against ref over the values the array really holds (after rounding to its dtype).
::testing::AssertionResult check_unary(const UnaryOp& op, const Ref1& ref, array x, Dtype out_dtype, double rtol,
                                       double atol) {
  auto y = op(x);
  if (y.dtype() != out_dtype) return ::testing::AssertionFailure() << "dtype " << y.dtype() << " != " << out_dtype;
  if (y.shape() != x.shape()) return ::testing::AssertionFailure() << "shape mismatch";
  auto xv = x.to_vector<double>();
  std::vector<double> want(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) want[i] = ref(xv[i]);
  return all_close(y, round_to(want, out_dtype), rtol, atol);
}

struct FloatUnary {
  const char* name;
  UnaryOp op;
  Ref1 ref;
  double lo, hi;
};

std::vector<FloatUnary> float_unaries() {
  return {
      {"exp", [](const array& a) { return exp(a); }, [](double x) { return std::exp(x); }, -20, 20},
      {"expm1", [](const array& a) { return expm1(a); }, [](double x) { return std::expm1(x); }, -5, 5},
      {"log", [](const array& a) { return log(a); }, [](double x) { return std::log(x); }, 0.01, 100},
      {"log1p", [](const array& a) { return log1p(a); }, [](double x) { return std::log1p(x); }, -0.9, 10},
      {"log2", [](const array& a) { return log2(a); }, [](double x) { return std::log2(x); }, 0.01, 100},
      {"log10", [](const array& a) { return log10(a); }, [](double x) { return std::log10(x); }, 0.01, 100},
      {"sqrt", [](const array& a) { return sqrt(a); }, [](double x) { return std::sqrt(x); }, 0, 100},
      {"rsqrt", [](const array& a) { return rsqrt(a); }, [](double x) { return 1 / std::sqrt(x); }, 0.01, 100},
      {"reciprocal", [](const array& a) { return reciprocal(a); }, [](double x) { return 1 / x; }, 0.1, 10},
      {"sin", [](const array& a) { return sin(a); }, [](double x) { return std::sin(x); }, -3, 3},
      {"cos", [](const array& a) { return cos(a); }, [](double x) { return std::cos(x); }, -3, 3},
      {"tan", [](const array& a) { return tan(a); }, [](double x) { return std::tan(x); }, -1.2, 1.2},
      {"arcsin", [](const array& a) { return arcsin(a); }, [](double x) { return std::asin(x); }, -0.99, 0.99},
      {"arccos", [](const array& a) { return arccos(a); }, [](double x) { return std::acos(x); }, -0.99, 0.99},
      {"arctan", [](const array& a) { return arctan(a); }, [](double x) { return std::atan(x); }, -10, 10},
      {"sinh", [](const array& a) { return sinh(a); }, [](double x) { return std::sinh(x); }, -5, 5},
      {"cosh", [](const array& a) { return cosh(a); }, [](double x) { return std::cosh(x); }, -5, 5},
      {"tanh", [](const array& a) { return tanh(a); }, [](double x) { return std::tanh(x); }, -6, 6},
      {"arcsinh", [](const array& a) { return arcsinh(a); }, [](double x) { return std::asinh(x); }, -10, 10},
      {"arccosh", [](const array& a) { return arccosh(a); }, [](double x) { return std::acosh(x); }, 1.01, 10},
      {"arctanh", [](const array& a) { return arctanh(a); }, [](double x) { return std::atanh(x); }, -0.9, 0.9},
      {"sigmoid", [](const array& a) { return sigmoid(a); }, [](double x) { return 1 / (1 + std::exp(-x)); }, -20, 20},
      {"erf", [](const array& a) { return erf(a); }, [](double x) { return std::erf(x); }, -3, 3},
  };
}

// Independent broadcast of two row-major value lists (NumPy rules) with a float64 reference.
std::vector<double> broadcast_ref(const std::vector<double>& a, const Shape& as, const std::vector<double>& b,
                                  const Shape& bs, const Shape& os, const std::function<double(double, double)>& f) {
  size_t n = 1;
  for (auto d : os) n *= d;
  std::vector<double> out(n);
  int nd = static_cast<int>(os.size());
  for (size_t i = 0; i < n; ++i) {
    size_t rem = i, ia = 0, ib = 0, ma = 1, mb = 1;
    for (int d = nd - 1; d >= 0; --d) {
      size_t idx = rem % os[d];
      rem /= os[d];
      int da = d - (nd - static_cast<int>(as.size())), db = d - (nd - static_cast<int>(bs.size()));
      if (da >= 0) {
        ia += (as[da] == 1 ? 0 : idx) * ma;
        ma *= as[da];
      }
      if (db >= 0) {
        ib += (bs[db] == 1 ? 0 : idx) * mb;
        mb *= bs[db];
      }
    }
    out[i] = f(a[ia], b[ib]);
  }
  return out;
}

using BinaryOp = std::function<array(const array&, const array&)>;
using Ref2 = std::function<double(double, double)>;

::testing::AssertionResult check_binary(const BinaryOp& op, const Ref2& ref, const array& a, const array& b,
                                        const Shape& out_shape, Dtype out_dtype, double rtol, double atol) {
  auto y = op(a, b);
  if (y.dtype() != out_dtype) return ::testing::AssertionFailure() << "dtype " << y.dtype() << " != " << out_dtype;
  if (y.shape() != out_shape) return ::testing::AssertionFailure() << "shape " << shape_str(y.shape());
  auto av = array(a).to_vector<double>();
  auto bv = array(b).to_vector<double>();
  return all_close(y, round_to(broadcast_ref(av, a.shape(), bv, b.shape(), out_shape, ref), out_dtype), rtol, atol);
}

double py_mod(double x, double y) {
  double r = std::fmod(x, y);
  if (r != 0 && ((r < 0) != (y < 0))) r += y;
  return r;
}

}  // namespace

TEST(Elementwise, FloatUnaryOpsAllDtypesAndLayouts) {
  for (auto& u : float_unaries()) {
    SCOPED_TRACE(u.name);
    for (Dtype d : {float32, float64, float16, bfloat16}) {
      SCOPED_TRACE(dtype_name(d));
      double rtol = rtol_for(d) * (d == float16 || d == bfloat16 ? 2 : 1);
      auto x = random_array({4, 6}, d, u.lo, u.hi, 7);
      EXPECT_TRUE(check_unary(u.op, u.ref, x, d, rtol, 1e-6));
      // Transposed and strided (negative step) views.
      EXPECT_TRUE(check_unary(u.op, u.ref, transpose(x), d, rtol, 1e-6));
      EXPECT_TRUE(check_unary(u.op, u.ref, slice(x, {3, 5}, {-5, -7}, {-2, -2}), d, rtol, 1e-6));
    }
    // Integers promote to float32.
    auto xi = astype(random_array({7}, float64, std::ceil(u.lo), std::floor(u.hi), 3), int32);
    if (std::string(u.name) == "arctanh" || std::string(u.name) == "arcsin" || std::string(u.name) == "arccos") {
      xi = array({0, 0, 0});
    }
    if (std::string(u.name) == "arccosh") xi = array({2, 3, 4});
    EXPECT_TRUE(check_unary(u.op, u.ref, xi, float32, 4e-6, 1e-6));
    // A large array takes the parallel path.
    auto big = random_array({70000}, float32, u.lo, u.hi, 11);
    EXPECT_TRUE(check_unary(u.op, u.ref, big, float32, 4e-6, 1e-6));
    // Empty arrays.
    EXPECT_EQ(u.op(zeros({0, 3})).shape(), Shape({0, 3}));
  }
}

TEST(Elementwise, ErfInv) {
  for (Dtype d : {float32, float64, float16, bfloat16}) {
    auto x = random_array({50}, d, -0.999, 0.999, 5);
    auto y = erfinv(x);
    EXPECT_EQ(y.dtype(), d);
    // erf(erfinv(x)) == x, checked in float64.
    auto xv = x.to_vector<double>();
    auto yv = y.to_vector<double>();
    for (size_t i = 0; i < xv.size(); ++i) {
      EXPECT_NEAR(std::erf(yv[i]), xv[i], d == float64 ? 1e-14 : (d == float32 ? 2e-7 : 4e-3)) << dtype_name(d);
    }
  }
  auto e = erfinv(array({1.0f, -1.0f, 0.0f, 2.0f})).to_vector<float>();
  EXPECT_EQ(e[0], INFINITY);
  EXPECT_EQ(e[1], -INFINITY);
  EXPECT_EQ(e[2], 0.0f);
  EXPECT_TRUE(std::isnan(e[3]));
}

// The vectorized float32 exp/log/tanh/sigmoid/erf against float64 std:: over a sweep of all
// float32 bit patterns (every 997th), plus the special values.
TEST(Elementwise, FastFloat32MathSweep) {
  struct F {
    const char* name;
    float (*fast)(float);
    double (*ref)(double);
    double max_ulp;
  };
  F fns[] = {
      {"exp", simd::exp, [](double x) { return std::exp(x); }, 2},
      {"log", simd::log, [](double x) { return std::log(x); }, 2},
      {"tanh", simd::tanh, [](double x) { return std::tanh(x); }, 3},
      {"sigmoid", simd::sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, 4},
      {"erf", simd::erf, [](double x) { return std::erf(x); }, 10},
  };
  auto ulp_err = [](float got, double want) {
    if (std::isnan(want)) return std::isnan(got) ? 0.0 : 1e30;
    float w = static_cast<float>(want);
    if (std::isinf(w)) return got == w ? 0.0 : 1e30;
    if (std::isnan(got)) return 1e30;
    double u = std::abs(w) < 1.1754944e-38f ? 1.401298464e-45 : std::abs(double(std::nextafter(w, INFINITY)) - w);
    return std::abs(double(got) - want) / u;
  };
  std::vector<float> specials = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 88.72f, 88.73f, 89.0f, 1e30f, -1e30f,
                                 -87.3f, -103.0f, -103.97f, -104.0f, -200.0f, 1e-30f, 1.4e-45f, 1e-40f, -1e-40f,
                                 3.4e38f, -3.4e38f, 0.625f, -0.625f, 4.0f, -4.0f};
  // The sweep values, also run through the ops (the library's vectorized build of the same code).
  std::vector<float> xs;
  for (uint64_t u = 0; u <= 0xffffffffull; u += 997) {
    float x;
    uint32_t b = static_cast<uint32_t>(u);
    std::memcpy(&x, &b, 4);
    xs.push_back(x);
  }
  xs.insert(xs.end(), specials.begin(), specials.end());
  array xa(xs, {static_cast<ShapeElem>(xs.size())});
  std::vector<std::function<array(const array&)>> ops = {
      [](const array& a) { return exp(a); }, [](const array& a) { return log(a); },
      [](const array& a) { return tanh(a); }, [](const array& a) { return sigmoid(a); },
      [](const array& a) { return erf(a); }};
  for (size_t k = 0; k < ops.size(); ++k) {
    auto got = ops[k](xa).to_vector<float>();
    double worst = 0;
    float worst_x = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      double e = ulp_err(got[i], fns[k].ref(double(xs[i])));
      if (e > worst) worst = e, worst_x = xs[i];
    }
    EXPECT_LE(worst, fns[k].max_ulp) << "op " << fns[k].name << " worst at x = " << worst_x;
  }
  for (auto& f : fns) {
    double worst = 0;
    float worst_x = 0;
    auto visit = [&](float x) {
      double e = ulp_err(f.fast(x), f.ref(double(x)));
      if (e > worst) worst = e, worst_x = x;
    };
    for (uint64_t u = 0; u <= 0xffffffffull; u += 997) {
      float x;
      uint32_t b = static_cast<uint32_t>(u);
      std::memcpy(&x, &b, 4);
      visit(x);
    }
    for (float x : specials) visit(x);
    EXPECT_LE(worst, f.max_ulp) << f.name << " worst at x = " << worst_x;
  }
  // The ops use them for float32 and keep the special values.
  array x(std::vector<float>{INFINITY, -INFINITY, NAN, 100.0f, -120.0f, 0.0f}, {6});
  auto ev = exp(x).to_vector<float>();
  EXPECT_EQ(ev[0], INFINITY);
  EXPECT_EQ(ev[1], 0.0f);
  EXPECT_TRUE(std::isnan(ev[2]));
  EXPECT_EQ(ev[3], INFINITY);
  EXPECT_EQ(ev[4], 0.0f);
  EXPECT_EQ(ev[5], 1.0f);
  auto lv = log(array(std::vector<float>{0.0f, -1.0f, INFINITY, NAN, 1.0f}, {5})).to_vector<float>();
  EXPECT_EQ(lv[0], -INFINITY);
  EXPECT_TRUE(std::isnan(lv[1]));
  EXPECT_EQ(lv[2], INFINITY);
  EXPECT_TRUE(std::isnan(lv[3]));
  EXPECT_EQ(lv[4], 0.0f);
  auto tv = tanh(x).to_vector<float>();
  EXPECT_EQ(tv[0], 1.0f);
  EXPECT_EQ(tv[1], -1.0f);
  EXPECT_TRUE(std::isnan(tv[2]));
  auto sv = sigmoid(x).to_vector<float>();
  EXPECT_EQ(sv[0], 1.0f);
  EXPECT_EQ(sv[1], 0.0f);
  EXPECT_TRUE(std::isnan(sv[2]));
  auto rv = erf(x).to_vector<float>();
  EXPECT_EQ(rv[0], 1.0f);
  EXPECT_EQ(rv[1], -1.0f);
  EXPECT_TRUE(std::isnan(rv[2]));
}

TEST(Elementwise, ArithmeticUnary) {
  std::vector<double> v = {-3.5, -1, -0.25, 0, 0.5, 2, 7.75};
  for (Dtype d : {float32, float64, float16, bfloat16, int8, int32, int64}) {
    SCOPED_TRACE(dtype_name(d));
    auto x = astype(array(v, {7}, float64), d);
    double rt = rtol_for(d);
    EXPECT_TRUE(check_unary([](const array& a) { return abs(a); }, [](double t) { return std::abs(t); }, x, d, rt, 0));
    EXPECT_TRUE(check_unary([](const array& a) { return negative(a); }, [](double t) { return -t; }, x, d, rt, 0));
    EXPECT_TRUE(check_unary([](const array& a) { return -a; }, [](double t) { return -t; }, x, d, rt, 0));
    EXPECT_TRUE(check_unary([](const array& a) { return square(a); }, [](double t) { return t * t; }, x, d, rt, 0));
    EXPECT_TRUE(check_unary([](const array& a) { return sign(a); }, [](double t) { return double((t > 0) - (t < 0)); },
                            x, d, 0, 0));
  }
  // Unsigned and bool.
  auto u = array({0, 3, 200}, {3}, uint8);
  EXPECT_EQ(abs(u).dtype(), uint8);
  EXPECT_EQ(abs(u).to_vector<int>(), std::vector<int>({0, 3, 200}));
  EXPECT_EQ(sign(u).to_vector<int>(), std::vector<int>({0, 1, 1}));
  EXPECT_EQ(negative(u).to_vector<int>(), std::vector<int>({0, 253, 56}));  // wraps
  EXPECT_EQ(square(barr({1, 0})).to_vector<bool>(), std::vector<bool>({true, false}));
  // Float sign keeps NaN; int8 abs of -128 wraps like NumPy.
  EXPECT_TRUE(std::isnan(sign(array(NAN)).item<float>()));
  EXPECT_EQ(abs(array({-128}, {1}, int8)).item<int>(), -128);
  // Transposed input.
  auto m = transpose(reshape(astype(arange(-6, 6), float32), {3, 4}));
  EXPECT_TRUE(check_unary([](const array& a) { return abs(a); }, [](double t) { return std::abs(t); }, m, float32, 0, 0));
}

TEST(Elementwise, Rounding) {
  std::vector<double> v = {-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6, 3.7, -0.2};
  for (Dtype d : {float32, float64, float16, bfloat16}) {
    auto x = astype(array(v, {10}, float64), d);
    EXPECT_TRUE(check_unary([](const array& a) { return floor(a); }, [](double t) { return std::floor(t); }, x, d, 0, 0));
    EXPECT_TRUE(check_unary([](const array& a) { return ceil(a); }, [](double t) { return std::ceil(t); }, x, d, 0, 0));
    EXPECT_TRUE(
        check_unary([](const array& a) { return round(a); }, [](double t) { return std::nearbyint(t); }, x, d, 0, 0));
  }
  // Half to even, explicitly.
  EXPECT_EQ(round(array({-2.5f, -1.5f, 0.5f, 1.5f, 2.5f})).to_vector<float>(),
            std::vector<float>({-2.0f, -2.0f, 0.0f, 2.0f, 2.0f}));
  // Decimals.
  EXPECT_TRUE(all_close(round(array({1.2345, -2.71828, 0.125}), 2), {1.23, -2.72, 0.12}, 0, 1e-12));
  EXPECT_TRUE(all_close(round(array({1234.0f, 1250.0f, -1351.0f}), -2), {1200, 1200, -1400}, 0, 1e-3));
  // Integers: identity (and round to tens with negative decimals).
  auto xi = array({-3, 7, 15});
  EXPECT_EQ(floor(xi).dtype(), int32);
  EXPECT_EQ(ceil(xi).to_vector<int>(), std::vector<int>({-3, 7, 15}));
  EXPECT_EQ(round(xi).to_vector<int>(), std::vector<int>({-3, 7, 15}));
  EXPECT_EQ(round(xi, -1).to_vector<int>(), std::vector<int>({0, 10, 20}));
  EXPECT_EQ(round(xi, -1).dtype(), int32);
}

TEST(Elementwise, Classification) {
  std::vector<double> v = {0, -1.5, kInf, -kInf, kNaN, 1e300};
  for (Dtype d : {float32, float64, float16, bfloat16}) {
    auto x = astype(array(v, {6}, float64), d);
    auto xv = x.to_vector<double>();  // 1e300 overflows to inf in the smaller types
    auto check = [&](array y, std::function<bool(double)> f) {
      EXPECT_EQ(y.dtype(), bool_);
      auto yv = y.to_vector<bool>();
      for (size_t i = 0; i < xv.size(); ++i) EXPECT_EQ(yv[i], f(xv[i])) << dtype_name(d) << " " << xv[i];
    };
    check(isnan(x), [](double t) { return std::isnan(t); });
    check(isinf(x), [](double t) { return std::isinf(t); });
    check(isposinf(x), [](double t) { return t == kInf; });
    check(isneginf(x), [](double t) { return t == -kInf; });
    check(isfinite(x), [](double t) { return std::isfinite(t); });
  }
  auto xi = array({1, 2});
  EXPECT_EQ(isnan(xi).to_vector<bool>(), std::vector<bool>({false, false}));
  EXPECT_EQ(isinf(xi).dtype(), bool_);
  EXPECT_EQ(isfinite(xi).to_vector<bool>(), std::vector<bool>({true, true}));
  // Strided input.
  auto s = slice(array(v, {6}, float64), {0}, {6}, {2});  // 0, inf, nan
  EXPECT_EQ(isfinite(s).to_vector<bool>(), std::vector<bool>({true, false, false}));
}

TEST(Elementwise, LogicalAndBitwiseNot) {
  auto x = array({0.0f, 2.0f, -1.0f, NAN});
  EXPECT_EQ(logical_not(x).dtype(), bool_);
  EXPECT_EQ(logical_not(x).to_vector<bool>(), std::vector<bool>({true, false, false, false}));
  EXPECT_EQ((!barr({1, 0})).to_vector<bool>(), std::vector<bool>({false, true}));
  EXPECT_EQ(bitwise_invert(array({0, 5, -1})).to_vector<int>(), std::vector<int>({-1, -6, 0}));
  EXPECT_EQ((~array({0, 255}, {2}, uint8)).to_vector<int>(), std::vector<int>({255, 0}));
  EXPECT_EQ((~barr({1, 0})).to_vector<bool>(), std::vector<bool>({false, true}));
  EXPECT_EQ(bitwise_invert(transpose(reshape(array({1, 2, 3, 4, 5, 6}, {6}, int16), {2, 3}))).to_vector<int>(),
            std::vector<int>({-2, -5, -3, -6, -4, -7}));
  EXPECT_TRUE(starts_with(error_message([] { bitwise_invert(array(1.0f)); }), "[bitwise_invert]"));
}

TEST(Elementwise, ComplexParts) {
  array z(std::vector<complex64_t>{{1, 2}, {-3, 0.5f}, {0, -4}}, {3});
  EXPECT_TRUE(all_close(real(z), {1, -3, 0}));
  EXPECT_TRUE(all_close(imag(z), {2, 0.5, -4}));
  EXPECT_EQ(real(z).dtype(), float32);
  EXPECT_TRUE(all_close(imag(conjugate(z)), {-2, -0.5, 4}));
  EXPECT_TRUE(all_close(abs(z), {std::sqrt(5.0), std::sqrt(9.25), 4}));
  EXPECT_EQ(abs(z).dtype(), float32);
  EXPECT_TRUE(all_close(imag(multiply(z, z)), {4, -3, 0}));
  EXPECT_TRUE(all_close(real(negative(z)), {-1, 3, 0}));
  EXPECT_EQ(equal(z, z).to_vector<bool>(), std::vector<bool>({true, true, true}));
  auto r = array({1.0f, 2.0f});
  EXPECT_TRUE(all_close(imag(r), {0, 0}));
  EXPECT_TRUE(all_close(conjugate(r), {1, 2}));
  EXPECT_TRUE(starts_with(error_message([&] { sin(z); }), "[sin]"));
  EXPECT_TRUE(starts_with(error_message([&] { less(z, z); }), "[less]"));
  EXPECT_TRUE(starts_with(error_message([&] { maximum(z, z); }), "[maximum]"));
}

TEST(Elementwise, BinaryArithmeticDtypesAndBroadcasts) {
  struct B {
    const char* name;
    BinaryOp op;
    Ref2 ref;
    bool int_ok;
  };
  std::vector<B> ops = {
      {"add", [](const array& a, const array& b) { return a + b; }, [](double x, double y) { return x + y; }, true},
      {"subtract", [](const array& a, const array& b) { return a - b; }, [](double x, double y) { return x - y; }, true},
      {"multiply", [](const array& a, const array& b) { return a * b; }, [](double x, double y) { return x * y; }, true},
      {"maximum", [](const array& a, const array& b) { return maximum(a, b); },
       [](double x, double y) { return std::max(x, y); }, true},
      {"minimum", [](const array& a, const array& b) { return minimum(a, b); },
       [](double x, double y) { return std::min(x, y); }, true},
      {"floor_divide", [](const array& a, const array& b) { return floor_divide(a, b); },
       [](double x, double y) { return std::floor(x / y); }, true},
      {"remainder", [](const array& a, const array& b) { return a % b; }, py_mod, true},
  };
  std::vector<std::pair<Shape, Shape>> shapes = {{{3, 4}, {3, 4}}, {{}, {5}}, {{5}, {}}, {{3, 1}, {1, 4}},
                                                 {{2, 3, 4}, {4}}, {{4, 1}, {2, 1, 5}}};
  for (auto& o : ops) {
    SCOPED_TRACE(o.name);
    for (Dtype d : {float32, float64, float16, bfloat16, int32, int8, int64, uint8}) {
      SCOPED_TRACE(dtype_name(d));
      for (auto& [sa, sb] : shapes) {
        // Integers in [1, 9] (no zero divisors, no overflow); floats with fractions.
        bool integral = is_integral(d);
        auto a = astype(integral ? floor(random_array(sa, float64, -9, 10, 1)) : random_array(sa, float64, -5, 5, 1), d);
        auto b = astype(integral ? floor(random_array(sb, float64, 1, 10, 2)) : random_array(sb, float64, 0.5, 5, 2), d);
        if (d == uint8) a = astype(floor(random_array(sa, float64, 10, 20, 1)), d);  // a - b stays >= 0
        Shape os = broadcast_shapes(sa, sb);
        double rt = rtol_for(d) * 2;
        double at = d == float16 || d == bfloat16 ? 0.06 : 1e-5;  // floor/mod of rounded quotients
        EXPECT_TRUE(check_binary(o.op, o.ref, a, b, os, d, rt, at)) << shape_str(sa) << " x " << shape_str(sb);
      }
    }
    // Non-contiguous inputs: a transposed and b reversed-sliced.
    auto a = transpose(random_array({4, 3}, float32, -5, 5, 3));
    auto b = slice(random_array({3, 8}, float32, 0.5, 5, 4), {0, 7}, {3, -9}, {1, -2});
    EXPECT_TRUE(check_binary(o.op, o.ref, a, b, {3, 4}, float32, 1e-5, 1e-5));
    // Large arrays (parallel path) with a broadcast row.
    auto big = random_array({300, 200}, float32, -5, 5, 5);
    auto row = random_array({200}, float32, 0.5, 5, 6);
    EXPECT_TRUE(check_binary(o.op, o.ref, big, row, {300, 200}, float32, 1e-5, 1e-5));
    EXPECT_TRUE(check_binary(o.op, o.ref, transpose(big), array(1.5f), {200, 300}, float32, 1e-5, 1e-5));
  }
}

TEST(Elementwise, DivideAndPower) {
  auto a = random_array({3, 4}, float32, -5, 5, 1);
  auto b = random_array({4}, float32, 0.5, 3, 2);
  EXPECT_TRUE(check_binary([](const array& x, const array& y) { return x / y; },
                           [](double x, double y) { return x / y; }, a, b, {3, 4}, float32, 1e-6, 0));
  // int / int is float32; float16 keeps float16.
  EXPECT_EQ(divide(array({1, 2}), array({2, 4})).dtype(), float32);
  EXPECT_TRUE(all_close(divide(array({1, 3}), array(2)), {0.5, 1.5}));
  EXPECT_EQ(divide(astype(a, float16), astype(b, float16)).dtype(), float16);
  // power on floats (positive base), ints (exact, wraps), negative int exponents.
  auto pa = random_array({2, 5}, float64, 0.1, 3, 3);
  auto pb = random_array({2, 1}, float64, -2, 3, 4);
  for (Dtype d : {float32, float64, float16, bfloat16}) {
    EXPECT_TRUE(check_binary([](const array& x, const array& y) { return power(x, y); },
                             [](double x, double y) { return std::pow(x, y); }, astype(pa, d), astype(pb, d), {2, 5}, d,
                             rtol_for(d) * 4, 1e-6));
  }
  EXPECT_EQ(power(array({2, -3, 5, 0}), array({10, 3, 0, 0})).to_vector<int>(), std::vector<int>({1024, -27, 1, 1}));
  EXPECT_EQ(power(array({2, 1, -1, -1}), array({-1, -5, -3, -2})).to_vector<int>(), std::vector<int>({0, 1, -1, 1}));
  EXPECT_EQ(power(array({3}, {1}, uint8), array({5}, {1}, uint8)).to_vector<int>(), std::vector<int>({243}));
  EXPECT_EQ(power(array({2}, {1}, int64), array({40}, {1}, int64)).item<int64_t>(), int64_t(1) << 40);
  EXPECT_EQ(power(array({3}, {1}, int32), array({2.0f})).dtype(), float32);
}

TEST(Elementwise, IntegerDivisionSemantics) {
  auto a = array({7, -7, 7, -7, 5, 0, 3});
  auto b = array({2, 2, -2, -2, 0, 3, -1});
  EXPECT_EQ(floor_divide(a, b).to_vector<int>(), std::vector<int>({3, -4, -4, 3, 0, 0, -3}));
  EXPECT_EQ((a % b).to_vector<int>(), std::vector<int>({1, 1, -1, -1, 0, 0, 0}));
  // INT_MIN // -1 wraps instead of trapping.
  auto m = array({std::numeric_limits<int32_t>::min()}, {1}, int32);
  EXPECT_EQ(floor_divide(m, array({-1})).item<int>(), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(remainder(m, array({-1})).item<int>(), 0);
  // Float remainder takes the sign of the divisor; zero divisor gives NaN.
  auto r = remainder(array({5.5f, -5.5f, 5.5f, -4.0f, 1.0f}), array({2.0f, 2.0f, -2.0f, 2.0f, 0.0f})).to_vector<float>();
  EXPECT_FLOAT_EQ(r[0], 1.5f);
  EXPECT_FLOAT_EQ(r[1], 0.5f);
  EXPECT_FLOAT_EQ(r[2], -0.5f);
  EXPECT_EQ(r[3], 0.0f);
  EXPECT_TRUE(std::isnan(r[4]));
  // Unsigned.
  EXPECT_EQ(floor_divide(array({200}, {1}, uint8), array({7}, {1}, uint8)).to_vector<int>(), std::vector<int>({28}));
  EXPECT_EQ(remainder(array({200}, {1}, uint8), array({7}, {1}, uint8)).to_vector<int>(), std::vector<int>({4}));
}

TEST(Elementwise, MaxMinNaNAndFloatSpecials) {
  auto a = array({1.0f, NAN, 3.0f, -INFINITY});
  auto b = array({NAN, 2.0f, 1.0f, 0.0f});
  auto mx = maximum(a, b).to_vector<float>();
  auto mn = minimum(a, b).to_vector<float>();
  EXPECT_TRUE(std::isnan(mx[0]) && std::isnan(mx[1]) && std::isnan(mn[0]) && std::isnan(mn[1]));
  EXPECT_EQ(mx[2], 3.0f);
  EXPECT_EQ(mn[3], -INFINITY);
  EXPECT_EQ(maximum(astype(a, bfloat16), astype(b, bfloat16)).dtype(), bfloat16);
  EXPECT_TRUE(std::isnan(maximum(astype(a, float16), astype(b, float16)).to_vector<float>()[1]));
}

TEST(Elementwise, LogAddExpAndArcTan2) {
  auto a = random_array({3, 1}, float64, -30, 30, 1);
  auto b = random_array({1, 5}, float64, -30, 30, 2);
  auto lae = [](double x, double y) {
    double m = std::max(x, y);
    return m + std::log(std::exp(x - m) + std::exp(y - m));
  };
  for (Dtype d : {float32, float64, float16, bfloat16}) {
    EXPECT_TRUE(check_binary([](const array& x, const array& y) { return logaddexp(x, y); }, lae, astype(a, d),
                             astype(b, d), {3, 5}, d, rtol_for(d) * 2, 1e-6));
    EXPECT_TRUE(check_binary([](const array& x, const array& y) { return arctan2(x, y); },
                             [](double x, double y) { return std::atan2(x, y); }, astype(a, d), astype(b, d), {3, 5}, d,
                             rtol_for(d) * 2, 1e-6));
  }
  auto v = logaddexp(array({-INFINITY, INFINITY, 0.0f, NAN, -INFINITY}), array({-INFINITY, INFINITY, -INFINITY, 0.0f, 2.0f}))
               .to_vector<float>();
  EXPECT_EQ(v[0], -INFINITY);
  EXPECT_EQ(v[1], INFINITY);
  EXPECT_EQ(v[2], 0.0f);
  EXPECT_TRUE(std::isnan(v[3]));
  EXPECT_FLOAT_EQ(v[4], 2.0f);
  EXPECT_EQ(logaddexp(array({1}), array({2})).dtype(), float32);
  EXPECT_TRUE(all_close(arctan2(array({1, -1}), array({0, 0})), {M_PI / 2, -M_PI / 2}));
}

TEST(Elementwise, Comparisons) {
  struct C {
    const char* name;
    BinaryOp op;
    std::function<bool(double, double)> ref;
  };
  std::vector<C> cs = {
      {"equal", [](const array& a, const array& b) { return a == b; }, [](double x, double y) { return x == y; }},
      {"not_equal", [](const array& a, const array& b) { return a != b; }, [](double x, double y) { return x != y; }},
      {"less", [](const array& a, const array& b) { return a < b; }, [](double x, double y) { return x < y; }},
      {"less_equal", [](const array& a, const array& b) { return a <= b; }, [](double x, double y) { return x <= y; }},
      {"greater", [](const array& a, const array& b) { return a > b; }, [](double x, double y) { return x > y; }},
      {"greater_equal", [](const array& a, const array& b) { return a >= b; },
       [](double x, double y) { return x >= y; }},
  };
  for (auto& c : cs) {
    SCOPED_TRACE(c.name);
    for (Dtype d : {float32, float16, bfloat16, float64, int32, uint8, int8, bool_}) {
      auto a = astype(floor(random_array({3, 1}, float64, 0, 4, 1)), d);
      auto b = astype(floor(random_array({1, 4}, float64, 0, 4, 2)), d);
      EXPECT_TRUE(check_binary(c.op, [&](double x, double y) { return double(c.ref(x, y)); }, a, b, {3, 4}, bool_, 0, 0))
          << dtype_name(d);
    }
    // Mixed dtypes compare after promotion; NaN compares unequal; transposed input.
    auto a = transpose(array({0.5f, 1.0f, NAN, 2.0f, -1.0f, 3.0f}, {2, 3}));
    auto b = array({1, 2});
    auto want = broadcast_ref(a.to_vector<double>(), {3, 2}, {1, 2}, {2}, {3, 2},
                              [&](double x, double y) { return double(c.ref(x, y)); });
    EXPECT_TRUE(all_close(c.op(a, b), want, 0, 0));
  }
  // uint8 vs int8: compared as int16, not wrapped.
  EXPECT_EQ(less(array({200}, {1}, uint8), array({-1}, {1}, int8)).item<bool>(), false);
}

TEST(Elementwise, LogicalAndBitwiseBinary) {
  auto a = barr({1, 1, 0, 0});
  auto b = barr({1, 0, 1, 0});
  EXPECT_EQ((a && b).to_vector<bool>(), std::vector<bool>({true, false, false, false}));
  EXPECT_EQ((a || b).to_vector<bool>(), std::vector<bool>({true, true, true, false}));
  EXPECT_EQ(logical_and(array({0.0f, 2.0f}), array({3, 3})).to_vector<bool>(), std::vector<bool>({false, true}));
  EXPECT_EQ(logical_or(array({0.0f, 0.0f}), array({0, 1})).dtype(), bool_);
  EXPECT_EQ((a & b).dtype(), bool_);
  EXPECT_EQ((a ^ b).to_vector<bool>(), std::vector<bool>({false, true, true, false}));
  for (Dtype d : {int8, int16, int32, int64, uint8, uint16, uint32, uint64}) {
    auto x = astype(array({12, 10, 7, 0}), d);
    auto y = astype(array({10, 6, 1, 5}), d);
    EXPECT_EQ((x & y).to_vector<int>(), std::vector<int>({8, 2, 1, 0})) << dtype_name(d);
    EXPECT_EQ((x | y).to_vector<int>(), std::vector<int>({14, 14, 7, 5})) << dtype_name(d);
    EXPECT_EQ((x ^ y).to_vector<int>(), std::vector<int>({6, 12, 6, 5})) << dtype_name(d);
    EXPECT_EQ((x << astype(array({1, 2, 3, 0}), d)).to_vector<int>(), std::vector<int>({24, 40, 56, 0}));
    EXPECT_EQ((x >> astype(array({1, 2, 3, 0}), d)).to_vector<int>(), std::vector<int>({6, 2, 0, 0}));
    EXPECT_EQ((x & y).dtype(), d);
  }
  // Broadcast (3,1) x (1,4) against an independent reference.
  auto p = reshape(array({1, 2, 3}), {3, 1});
  auto q = reshape(array({1, 3, 5, 7}), {1, 4});
  auto got = (p & q).to_vector<int>();
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) EXPECT_EQ(got[i * 4 + j], (i + 1) & (2 * j + 1));
  }
  // Shift edge cases: arithmetic right shift, out-of-range amounts give 0 / -1.
  EXPECT_EQ(right_shift(array({-8, -8, 8}), array({1, 40, -1})).to_vector<int>(), std::vector<int>({-4, -1, 0}));
  EXPECT_EQ(left_shift(array({1, 1}), array({31, 32})).to_vector<int>(),
            std::vector<int>({std::numeric_limits<int32_t>::min(), 0}));
  EXPECT_EQ(left_shift(array({200}, {1}, uint8), array({1}, {1}, uint8)).to_vector<int>(), std::vector<int>({144}));
  EXPECT_EQ(left_shift(barr({1}), barr({1})).dtype(), int8);
  // Mixed signedness promotes.
  EXPECT_EQ((array({1}, {1}, uint8) | array({1}, {1}, int8)).dtype(), int16);
  for (auto f : std::vector<std::pair<std::string, std::function<void()>>>{
           {"[bitwise_and]", [] { bitwise_and(array({1.0f}), array({1})); }},
           {"[bitwise_or]", [] { bitwise_or(array({1}), array({1.0})); }},
           {"[bitwise_xor]", [] { array({1.0f}) ^ array({1.0f}); }},
           {"[left_shift]", [] { left_shift(array({1.0f}), array({1})); }},
           {"[right_shift]", [] { right_shift(array({1}), array({1.0f})); }}}) {
    EXPECT_TRUE(starts_with(error_message(f.second), f.first)) << error_message(f.second);
  }
}

TEST(Elementwise, TypePromotion) {
  EXPECT_EQ(add(array({1}), astype(array({1.0f}), float16)).dtype(), float16);            // int32 + float16
  EXPECT_EQ(add(array({1}, {1}, uint8), array({1}, {1}, int8)).dtype(), int16);             // uint8 + int8
  EXPECT_EQ(add(barr({1}), barr({0})).dtype(), bool_);                            // bool + bool
  EXPECT_EQ(add(barr({1, 1, 0}), barr({1, 0, 0})).to_vector<bool>(),
            std::vector<bool>({true, true, false}));
  EXPECT_EQ(multiply(barr({1}), array({2.5f})).dtype(), float32);
  EXPECT_EQ(add(astype(array({1.0f}), float16), astype(array({1.0f}), bfloat16)).dtype(), float32);
  EXPECT_EQ(add(array({1}, {1}, uint32), array({1}, {1}, int32)).dtype(), int64);
  EXPECT_EQ(add(array({1.0}), array({1.0f})).dtype(), float64);
  EXPECT_EQ(subtract(array({1}, {1}, uint8), array({2}, {1}, int8)).item<int>(), -1);
  EXPECT_EQ(exp(barr({1})).dtype(), float32);
  EXPECT_EQ(sqrt(array({4}, {1}, int64)).dtype(), float32);
  EXPECT_EQ(floor_divide(barr({1}), barr({1})).dtype(), int8);
  EXPECT_EQ(equal(array({1}), array({1.0f})).dtype(), bool_);
  // Values through promotion: int32 + float16.
  EXPECT_TRUE(all_close(add(array({1, 2}), astype(array({0.5f, 0.25f}), float16)), {1.5, 2.25}));
}

TEST(Elementwise, WhereAndClip) {
  auto cond = reshape(barr({1, 0, 1}), {3, 1});
  auto x = reshape(astype(arange(0, 4), float32), {1, 4});
  auto y = array(-1, int32);
  auto w = where(cond, x, y);
  EXPECT_EQ(w.shape(), Shape({3, 4}));
  EXPECT_EQ(w.dtype(), float32);
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>({0, 1, 2, 3, -1, -1, -1, -1, 0, 1, 2, 3}));
  // Non-bool condition, transposed inputs, every element size.
  for (Dtype d : {bool_, int8, float16, int32, float32, float64, int64, complex64}) {
    auto c = transpose(reshape(array({1, 0, 0, 2, 3, 0}), {2, 3}));  // (3,2): 1 2 / 0 3 / 0 0
    auto a = astype(reshape(array({1, 2, 3, 4, 5, 6}), {3, 2}), d);
    auto b = astype(array({0, 0}), d);
    auto got = where(c, a, b).to_vector<double>();
    std::vector<double> want = {1, 2, 0, 4, 0, 0};
    if (d == bool_) want = {1, 1, 0, 1, 0, 0};
    EXPECT_EQ(got, want) << dtype_name(d);
  }
  auto big = random_array({50000}, float32, -1, 1, 3);
  auto bv = big.to_vector<float>();
  auto got = where(big > array(0.0f), big, array(0.0f)).to_vector<float>();
  for (size_t i = 0; i < bv.size(); ++i) ASSERT_EQ(got[i], bv[i] > 0 ? bv[i] : 0.0f);
  EXPECT_TRUE(starts_with(error_message([] { where(zeros({2}), zeros({3}), zeros({1})); }), "[where]"));

  auto v = array({-3.0f, -0.5f, 0.2f, 4.0f});
  EXPECT_EQ(clip(v, array(-1.0f), array(1.0f)).to_vector<float>(), std::vector<float>({-1, -0.5f, 0.2f, 1}));
  EXPECT_EQ(clip(v, std::nullopt, array(0.0f)).to_vector<float>(), std::vector<float>({-3, -0.5f, 0, 0}));
  EXPECT_EQ(clip(v, array({0.0f, 0.0f, 0.5f, 0.0f}), std::nullopt).to_vector<float>(),
            std::vector<float>({0, 0, 0.5f, 4}));
  EXPECT_EQ(clip(array({-5, 5, 20}), array(0), array(10)).to_vector<int>(), std::vector<int>({0, 5, 10}));
  EXPECT_TRUE(starts_with(error_message([&] { clip(v, std::nullopt, std::nullopt); }), "[clip]"));
}

TEST(Elementwise, Errors) {
  std::vector<std::pair<std::string, std::function<void()>>> cases = {
      {"[add]", [] { add(zeros({2, 3}), zeros({3, 2})); }},
      {"[multiply]", [] { zeros({4}) * zeros({3}); }},
      {"[less]", [] { zeros({2}) < zeros({3}); }},
      {"[subtract]", [] { subtract(barr({1}), barr({0})); }},
      {"[negative]", [] { negative(barr({1})); }},
      {"[sqrt]", [] { sqrt(astype(zeros({2}), complex64)); }},
      {"[floor]", [] { floor(astype(zeros({2}), complex64)); }},
      {"[remainder]", [] { remainder(astype(zeros({2}), complex64), zeros({2})); }},
      {"[logaddexp]", [] { logaddexp(zeros({2}), zeros({5})); }},
  };
  for (auto& [prefix, f] : cases) {
    EXPECT_TRUE(starts_with(error_message(f), prefix)) << prefix << " got: " << error_message(f);
  }
}

TEST(Elementwise, LazyGraphAndInPlaceDonation) {
  // A chain on one buffer: results stay right when intermediates donate their buffers.
  auto x = random_array({1000}, float32, 0.5, 2, 9);
  auto xv = x.to_vector<double>();
  auto y = sqrt(log(exp(x) * x) + array(1.0f));
  std::vector<double> want(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) want[i] = std::sqrt(std::log(std::exp(xv[i]) * xv[i]) + 1);
  EXPECT_TRUE(all_close(y, want, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(x, xv, 0, 0));  // the input is untouched
}
