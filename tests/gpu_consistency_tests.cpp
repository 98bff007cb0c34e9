// Backend consistency (tessera_gpu_tests): every op of tessera/ops/*.h run on the GPU and on the CPU
// stream on the same random inputs (contiguous, transposed, strided-slice and broadcast views, odd
// sizes), compared per dtype: float32 1e-5, float16/bfloat16 1e-2 relative against the float64 CPU
// result for smooth ops, exact for integers/bools and discrete ops; NaN never passes unless the case
// feeds NaN on purpose. Also grad and vmap of a small function, and a check that the table covers
// every op declared in tessera/ops/*.h.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>

#include "tessera/backend/cuda/blaslt.h"
#include "tessera/backend/gpu_fallback.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

using Fn = std::function<array(const std::vector<array>&, StreamOrDevice)>;
const Device kCpu = Device::cpu;

// How a case's GPU result is judged.
enum class Cmp {
  ref64,       // against the CPU result on float64 copies of the inputs (smooth float ops)
  same,        // against the CPU result in the same dtype (discrete ops, integers, data movement)
  sorted_rows  // rows along the last axis compared as sorted multisets (topk, partitions)
};

struct Case {
  std::string name;  // "op" or "op/variant": the part before '/' is the op of tessera/ops/*.h
  std::vector<Dtype> dtypes;
  std::vector<Shape> shapes;  // one per input
  double lo, hi;
  Cmp cmp;
  Fn f;
  bool specials{false};  // inputs hold NaN / +-inf (NaN results must then match NaN)
};

const std::vector<Dtype> kFloat = {float32, float16, bfloat16};
const std::vector<Dtype> kInt = {int32, int64, uint32};
const std::vector<Dtype> kReal = {float32, float16, bfloat16, int32, int64, uint32};
const std::vector<Dtype> kAll = {float32, float16, bfloat16, int32, int64, uint32, bool_};
const std::vector<Dtype> kF32 = {float32};
const std::vector<Dtype> kF64 = {float64};
const std::vector<Dtype> kC64 = {complex64};
const std::vector<Dtype> kSmallInt = {int8, uint8, int16, uint16};
const std::vector<Dtype> kSignedW = {int8, int16, int64};     // every signed width beyond int32
const std::vector<Dtype> kUnsignedW = {uint8, uint16, uint32, uint64};
const Shape kS = {37, 129};

enum Layout { contiguous_l, transposed_l, strided_l, broadcast_l };
const char* layout_name(int l) {
  static const char* n[] = {"contiguous", "transposed", "strided", "broadcast"};
  return n[l];
}

// An evaluated CPU-made input of `shape` in the given layout.
array make_input(const Shape& shape, Dtype d, double lo, double hi, unsigned seed, int layout, bool specials) {
  Shape src = shape;
  if (layout == transposed_l) std::reverse(src.begin(), src.end());
  if (layout == strided_l) for (auto& s : src) s *= 2;
  if (layout == broadcast_l && !src.empty()) src[0] = 1;
  auto v = random_values(shape_size(src), lo, hi, seed);
  if (d == bool_) for (auto& x : v) x = x > (lo + hi) / 2;
  if (specials && is_floating_point(d)) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (i % 7 == 3) v[i] = NAN;
      else if (i % 11 == 5) v[i] = INFINITY;
      else if (i % 13 == 6) v[i] = -INFINITY;
    }
  }
  array x(0);
  if (d == complex64) {  // imaginary parts from a second stream of values
    auto im = random_values(v.size(), lo, hi, seed + 7919);
    std::vector<complex64_t> cv(v.size());
    for (size_t i = 0; i < v.size(); ++i) cv[i] = complex64_t(static_cast<float>(v[i]), static_cast<float>(im[i]));
    x = array(cv, src, complex64);
  } else {
    x = astype(array(v, src, float64), d, kCpu);
  }
  if (layout == transposed_l) x = transpose(x, kCpu);
  if (layout == strided_l) x = slice(x, Shape(src.size(), 0), src, Shape(src.size(), 2), kCpu);
  if (layout == broadcast_l) x = broadcast_to(x, shape, kCpu);
  eval(x);
  return x;
}

// Host values of any array as double (read through a CPU cast); complex64: the real parts, then the
// imaginary parts.
std::vector<double> values(const array& a) {
  if (a.dtype() == complex64) {
    auto re = astype(real(a, kCpu), float64, kCpu).to_vector<double>();
    auto im = astype(imag(a, kCpu), float64, kCpu).to_vector<double>();
    re.insert(re.end(), im.begin(), im.end());
    return re;
  }
  return astype(a, float64, kCpu).to_vector<double>();
}

double tolerance(Dtype d) {
  if (d == float32 || d == complex64) return 1e-5;
  if (d == float16 || d == bfloat16) return 1e-2;
  if (d == float64) return 1e-10;
  return 0.0;
}

// Empty string when g matches r (see the file comment), else the first mismatch.
std::string compare(const array& g, const array& r, Dtype d, Cmp cmp, bool nan_ok) {
  if (g.shape() != r.shape()) return "shape " + shape_str(g.shape()) + " vs " + shape_str(r.shape());
  auto gv = values(g), rv = values(r);
  if (cmp == Cmp::sorted_rows && g.ndim() > 0) {
    size_t n = g.shape(-1);
    for (size_t b = 0; n && b < gv.size(); b += n) {
      std::sort(gv.begin() + b, gv.begin() + b + n);
      std::sort(rv.begin() + b, rv.begin() + b + n);
    }
  }
  double scale = 1.0;
  for (double x : rv) if (std::isfinite(x)) scale = std::max(scale, std::abs(x));
  double tol = tolerance(d);
  for (size_t i = 0; i < gv.size(); ++i) {
    double x = gv[i], y = rv[i];
    bool ok;
    if (std::isnan(x) || std::isnan(y)) ok = nan_ok && std::isnan(x) && std::isnan(y);
    else if (std::isinf(x) || std::isinf(y)) ok = x == y;
    else ok = std::abs(x - y) <= tol * std::abs(y) + tol * scale;
    if (!ok) {
      std::ostringstream os;
      os << "element " << i << ": gpu " << x << " vs reference " << y;
      return os.str();
    }
  }
  return "";
}

// Host index arrays (made on the CPU, values fixed by the formula).
array host_ints(const Shape& shape, const std::function<int(int)>& f, Dtype d = int32) {
  std::vector<int32_t> v(shape_size(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = f(static_cast<int>(i));
  return astype(array(v, shape), d, kCpu);
}

// Symmetric positive definite (n, n) from x (n, m) on stream s.
array spd(const array& x, StreamOrDevice s) {
  int n = x.shape(0);
  auto a = matmul(x, transpose(x, s), s);
  return add(a, multiply(eye(n, x.dtype(), s), array(static_cast<float>(n)), s), s);
}

#define F(...) [](const std::vector<array>& in, StreamOrDevice s) -> array { __VA_ARGS__ }
#define U(...) F(auto& x = in[0]; return __VA_ARGS__;)
#define B(...) F(auto& x = in[0]; auto& y = in[1]; return __VA_ARGS__;)

std::vector<Case> cases() {
  std::vector<Case> c;
  auto add1 = [&](std::string n, std::vector<Dtype> d, double lo, double hi, Cmp m, Fn f) {
    c.push_back({std::move(n), std::move(d), {kS}, lo, hi, m, std::move(f)});
  };
  auto add2 = [&](std::string n, std::vector<Dtype> d, double lo, double hi, Cmp m, Fn f) {
    c.push_back({std::move(n), std::move(d), {kS, kS}, lo, hi, m, std::move(f)});
  };
  auto addn = [&](std::string n, std::vector<Dtype> d, std::vector<Shape> sh, double lo, double hi, Cmp m, Fn f) {
    c.push_back({std::move(n), std::move(d), std::move(sh), lo, hi, m, std::move(f)});
  };
  const Cmp R = Cmp::ref64, S = Cmp::same;
  // Unary, smooth.
  add1("exp", kFloat, -2, 2, R, U(exp(x, s)));
  add1("expm1", kFloat, -2, 2, R, U(expm1(x, s)));
  add1("log", kFloat, 0.1, 3, R, U(log(x, s)));
  add1("log1p", kFloat, 0.1, 3, R, U(log1p(x, s)));
  add1("log2", kFloat, 0.1, 3, R, U(log2(x, s)));
  add1("log10", kFloat, 0.1, 3, R, U(log10(x, s)));
  add1("sqrt", kFloat, 0.1, 3, R, U(sqrt(x, s)));
  add1("rsqrt", kFloat, 0.1, 3, R, U(rsqrt(x, s)));
  add1("reciprocal", kFloat, 0.5, 3, R, U(reciprocal(x, s)));
  add1("sin", kFloat, -2, 2, R, U(sin(x, s)));
  add1("cos", kFloat, -2, 2, R, U(cos(x, s)));
  add1("tan", kFloat, -1, 1, R, U(tan(x, s)));
  add1("tanh", kFloat, -2, 2, R, U(tanh(x, s)));
  add1("sigmoid", kFloat, -4, 4, R, U(sigmoid(x, s)));
  add1("erf", kFloat, -2, 2, R, U(erf(x, s)));
  add1("erfinv", kFloat, -0.9, 0.9, R, U(erfinv(x, s)));
  add1("sinh", kFloat, -2, 2, R, U(sinh(x, s)));
  add1("cosh", kFloat, -2, 2, R, U(cosh(x, s)));
  add1("arcsin", kFloat, -0.9, 0.9, R, U(arcsin(x, s)));
  add1("arccos", kFloat, -0.9, 0.9, R, U(arccos(x, s)));
  add1("arctan", kFloat, -3, 3, R, U(arctan(x, s)));
  add1("arcsinh", kFloat, -3, 3, R, U(arcsinh(x, s)));
  add1("arccosh", kFloat, 1.1, 3, R, U(arccosh(x, s)));
  add1("arctanh", kFloat, -0.9, 0.9, R, U(arctanh(x, s)));
  // Unary, exact.
  add1("abs", kReal, -50, 50, S, U(abs(x, s)));
  add1("negative", {float32, float16, bfloat16, int32, int64}, -50, 50, S, U(negative(x, s)));
  add1("square", kReal, -50, 50, S, U(square(x, s)));
  add1("sign", kReal, -50, 50, S, U(sign(x, s)));
  add1("floor", kFloat, -50, 50, S, U(floor(x, s)));
  add1("ceil", kFloat, -50, 50, S, U(ceil(x, s)));
  add1("round", kFloat, -50, 50, S, U(round(x, 0, s)));
  add1("round/decimals", kFloat, -50, 50, S, U(round(x, 2, s)));
  for (auto [n, fn] : std::vector<std::pair<std::string, Fn>>{{"isnan", U(isnan(x, s))},
                                                              {"isinf", U(isinf(x, s))},
                                                              {"isposinf", U(isposinf(x, s))},
                                                              {"isneginf", U(isneginf(x, s))},
                                                              {"isfinite", U(isfinite(x, s))}}) {
    add1(n, kFloat, -5, 5, S, fn);
    c.back().specials = true;
  }
  add1("logical_not", kAll, -1, 1, S, U(logical_not(x, s)));
  add1("bitwise_invert", {int32, int64, uint32, bool_}, 0, 1000, S, U(bitwise_invert(x, s)));
  add1("real", {float32, float16, bfloat16, complex64}, -1, 1, S, U(real(x, s)));
  add1("imag", {float32, float16, bfloat16, complex64}, -1, 1, S, U(imag(x, s)));
  add1("conjugate", {float32, float16, bfloat16, complex64}, -1, 1, S, U(conjugate(x, s)));
  // complex64 (interleaved pairs, any strides; odd sizes).
  addn("abs/complex", kC64, {{7, 33}}, -3, 3, S, U(abs(x, s)));
  addn("negative/complex", kC64, {{7, 33}}, -3, 3, S, U(negative(x, s)));
  addn("square/complex", kC64, {{7, 33}}, -3, 3, S, U(square(x, s)));
  add2("add/complex", kC64, -3, 3, S, B(add(x, y, s)));
  add2("subtract/complex", kC64, -3, 3, S, B(subtract(x, y, s)));
  add2("multiply/complex", kC64, -3, 3, S, B(multiply(x, y, s)));
  add2("divide/complex", kC64, 0.5, 3, S, B(divide(x, y, s)));
  add2("equal/complex", kC64, -3, 3, S, B(concatenate({equal(x, y, s), equal(x, x, s)}, 1, s)));
  add2("not_equal/complex", kC64, -3, 3, S, B(concatenate({not_equal(x, y, s), not_equal(x, x, s)}, 1, s)));
  add1("clip", kReal, -20, 20, S, U(clip(x, array(-5), array(7), s)));
  add1("where", kReal, -20, 20, S, U(where(greater(x, array(0), s), x, square(x, s), s)));
  // Binary.
  add2("add", kReal, -20, 20, R, B(add(x, y, s)));
  add2("subtract", kReal, -20, 20, R, B(subtract(x, y, s)));
  add2("multiply", kReal, -20, 20, R, B(multiply(x, y, s)));
  add2("divide", kFloat, 0.5, 3, R, B(divide(x, y, s)));
  add2("power", kFloat, 0.5, 2, R, B(power(x, y, s)));
  add2("power/int", kInt, 0, 5, S, B(power(x, y, s)));
  add2("logaddexp", kFloat, -5, 5, R, B(logaddexp(x, y, s)));
  add2("arctan2", kFloat, -3, 3, R, B(arctan2(x, y, s)));
  add2("maximum", kReal, -20, 20, S, B(maximum(x, y, s)));
  add2("minimum", kReal, -20, 20, S, B(minimum(x, y, s)));
  add2("floor_divide", kReal, -9, 9, S, B(floor_divide(x, y, s)));
  add2("remainder", kReal, -9, 9, S, B(remainder(x, y, s)));
  add2("equal", kAll, -3, 3, S, B(equal(x, y, s)));
  add2("not_equal", kAll, -3, 3, S, B(not_equal(x, y, s)));
  add2("less", kReal, -3, 3, S, B(less(x, y, s)));
  add2("less_equal", kReal, -3, 3, S, B(less_equal(x, y, s)));
  add2("greater", kReal, -3, 3, S, B(greater(x, y, s)));
  add2("greater_equal", kReal, -3, 3, S, B(greater_equal(x, y, s)));
  add2("logical_and", kAll, -1, 1, S, B(logical_and(x, y, s)));
  add2("logical_or", kAll, -1, 1, S, B(logical_or(x, y, s)));
  add2("bitwise_and", {int32, int64, uint32, bool_}, 0, 1000, S, B(bitwise_and(x, y, s)));
  add2("bitwise_or", {int32, int64, uint32, bool_}, 0, 1000, S, B(bitwise_or(x, y, s)));
  add2("bitwise_xor", {int32, int64, uint32, bool_}, 0, 1000, S, B(bitwise_xor(x, y, s)));
  add2("left_shift", kInt, 0, 40, S, B(left_shift(x, y, s)));
  add2("right_shift", {int32, int64}, -40, 40, S, B(right_shift(x, abs(y, s), s)));
  add2("maximum/nan", kFloat, -5, 5, S, B(maximum(x, y, s)));
  c.back().specials = true;
  // Every integer width and bool (these ran on the CPU before): signed widths on [-9, 9], unsigned on
  // [0, 9] (exact, wrap-around as on the CPU); products on {1, 2} over the 37-long axis 0.
  for (auto [g, ints, lo, hi] : std::vector<std::tuple<std::string, std::vector<Dtype>, double, double>>{
           {"/signed", kSignedW, -9, 9}, {"/unsigned", kUnsignedW, 0, 9}}) {
    add1("abs" + g, ints, lo, hi, S, U(abs(x, s)));
    add1("negative" + g, ints, lo, hi, S, U(negative(x, s)));
    add1("square" + g, ints, lo, hi, S, U(square(x, s)));
    add1("sign" + g, ints, lo, hi, S, U(sign(x, s)));
    for (auto [n, fn] : std::vector<std::pair<std::string, Fn>>{
             {"add", B(add(x, y, s))},           {"subtract", B(subtract(x, y, s))},
             {"multiply", B(multiply(x, y, s))}, {"maximum", B(maximum(x, y, s))},
             {"minimum", B(minimum(x, y, s))},   {"power", B(power(x, y, s))},
             {"equal", B(equal(x, y, s))},       {"not_equal", B(not_equal(x, y, s))},
             {"less", B(less(x, y, s))},         {"less_equal", B(less_equal(x, y, s))},
             {"greater", B(greater(x, y, s))},   {"greater_equal", B(greater_equal(x, y, s))},
             {"floor_divide", B(floor_divide(x, y, s))}, {"remainder", B(remainder(x, y, s))},
             {"add/row", B(add(x, slice(y, {0, 0}, {1, y.shape(1)}, s), s))}}) {
      add2(n + g, ints, lo, hi, S, fn);
    }
    for (int ax : {0, 1}) {
      std::string a = "/axis" + std::to_string(ax) + g;
      add1("sum" + a, ints, lo, hi, S, [ax](auto& in, StreamOrDevice s) { return sum(in[0], ax, false, s); });
      add1("max" + a, ints, lo, hi, S, [ax](auto& in, StreamOrDevice s) { return max(in[0], ax, false, s); });
      add1("min" + a, ints, lo, hi, S, [ax](auto& in, StreamOrDevice s) { return min(in[0], ax, false, s); });
      add1("argmax" + a, ints, lo, hi, S, [ax](auto& in, StreamOrDevice s) { return argmax(in[0], ax, false, s); });
      add1("argmin" + a, ints, lo, hi, S, [ax](auto& in, StreamOrDevice s) { return argmin(in[0], ax, false, s); });
      add1("all" + a, ints, lo, hi, S, [ax](auto& in, StreamOrDevice s) { return all(in[0], ax, false, s); });
      add1("any" + a, ints, 0, 1.2, S, [ax](auto& in, StreamOrDevice s) { return any(in[0], ax, false, s); });
      add1("cumsum" + a, ints, lo, hi, S, [ax](auto& in, StreamOrDevice s) { return cumsum(in[0], ax, false, true, s); });
      add1("cummax" + a, ints, lo, hi, S, [ax](auto& in, StreamOrDevice s) { return cummax(in[0], ax, true, true, s); });
      add1("cummin" + a, ints, lo, hi, S, [ax](auto& in, StreamOrDevice s) { return cummin(in[0], ax, false, false, s); });
    }
    add1("prod/axis0" + g, ints, 1, 2.99, S, U(prod(x, 0, false, s)));
    add1("sum/all" + g, ints, lo, hi, S, U(sum(x, s)));
    addn("cumprod" + g, ints, {{5, 12}}, 1, 2.99, S, U(cumprod(x, 1, false, true, s)));
    add1("sort" + g, ints, lo, hi, S, U(sort(x, 1, s)));
    add1("argsort" + g, ints, lo, hi, S, U(argsort(x, 0, s)));
    for (Dtype to : {bool_, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32,
                     float64, complex64}) {
      add1("astype" + g + "_to_" + dtype_name(to), ints, lo, hi, S,
           [to](auto& in, StreamOrDevice s) { return astype(in[0], to, s); });
    }
  }
  // bool: arithmetic (or/and), reductions, arg reductions, cummax/cummin.
  const std::vector<Dtype> kBool = {bool_};
  add2("add/bool", kBool, -1, 1, S, B(add(x, y, s)));
  add2("multiply/bool", kBool, -1, 1, S, B(multiply(x, y, s)));
  add2("maximum/bool", kBool, -1, 1, S, B(maximum(x, y, s)));
  add2("minimum/bool", kBool, -1, 1, S, B(minimum(x, y, s)));
  add2("power/bool", kBool, -1, 1, S, B(power(x, y, s)));
  add1("square/bool", kBool, -1, 1, S, U(square(x, s)));
  for (int ax : {0, 1}) {
    std::string a = "/axis" + std::to_string(ax) + "/bool";
    add1("sum" + a, kBool, -1, 1, S, [ax](auto& in, StreamOrDevice s) { return sum(in[0], ax, false, s); });
    add1("prod" + a, kBool, -0.2, 1, S, [ax](auto& in, StreamOrDevice s) { return prod(in[0], ax, false, s); });
    add1("max" + a, kBool, -1, 1, S, [ax](auto& in, StreamOrDevice s) { return max(in[0], ax, false, s); });
    add1("min" + a, kBool, -1, 1, S, [ax](auto& in, StreamOrDevice s) { return min(in[0], ax, false, s); });
    add1("argmax" + a, kBool, -1, 1, S, [ax](auto& in, StreamOrDevice s) { return argmax(in[0], ax, false, s); });
    add1("argmin" + a, kBool, -1, 1, S, [ax](auto& in, StreamOrDevice s) { return argmin(in[0], ax, false, s); });
    add1("cummax" + a, kBool, -3, 1, S, [ax](auto& in, StreamOrDevice s) { return cummax(in[0], ax, false, true, s); });
    add1("cummin" + a, kBool, -1, 3, S, [ax](auto& in, StreamOrDevice s) { return cummin(in[0], ax, true, false, s); });
  }
  // Large int64/uint64 values (beyond float's 24 and double's 53 bits) keep every bit.
  addn("argmax/int64_wide", {int64, uint64}, {{5, 40}}, 0, 3, S, F(auto& x = in[0];
       auto big = multiply(x, array(int64_t(1) << 40, x.dtype()), s);
       return argmax(add(big, reshape(astype(arange(200, s), x.dtype(), s), {5, 40}, s), s), 1, false, s);));
  // complex64 power and conversions.
  add2("power/complex", kC64, 0.5, 1.5, S, B(power(x, y, s)));
  for (Dtype to : {bool_, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, bfloat16, float32,
                   float64}) {
    add1("astype/complex_to_" + dtype_name(to), kC64, 0, 100, S,
         [to](auto& in, StreamOrDevice s) { return astype(in[0], to, s); });
    add1("astype/" + dtype_name(to) + "_to_complex", {to}, 0, 100, S, U(astype(x, complex64, s)));
  }
  // float64 softmax (double kernel).
  for (int ax : {0, 1}) {
    add1("softmax/axis" + std::to_string(ax) + "/f64", kF64, -5, 5, R,
         [ax](auto& in, StreamOrDevice s) { return softmax(in[0], ax, false, s); });
    add1("log_softmax/axis" + std::to_string(ax) + "/f64", kF64, -5, 5, R,
         [ax](auto& in, StreamOrDevice s) { return log_softmax(in[0], ax, false, s); });
  }
  // float64 elementwise (double kernels, judged at 1e-10 against the CPU).
  for (auto [n, lo, hi, fn] : std::vector<std::tuple<std::string, double, double, Fn>>{
           {"exp", -2, 2, U(exp(x, s))},           {"expm1", -2, 2, U(expm1(x, s))},
           {"log", 0.1, 3, U(log(x, s))},          {"log1p", 0.1, 3, U(log1p(x, s))},
           {"log2", 0.1, 3, U(log2(x, s))},        {"log10", 0.1, 3, U(log10(x, s))},
           {"sqrt", 0.1, 3, U(sqrt(x, s))},        {"rsqrt", 0.1, 3, U(rsqrt(x, s))},
           {"reciprocal", 0.5, 3, U(reciprocal(x, s))}, {"sin", -2, 2, U(sin(x, s))},
           {"cos", -2, 2, U(cos(x, s))},           {"tan", -1, 1, U(tan(x, s))},
           {"tanh", -2, 2, U(tanh(x, s))},         {"sigmoid", -4, 4, U(sigmoid(x, s))},
           {"erf", -2, 2, U(erf(x, s))},           {"sinh", -2, 2, U(sinh(x, s))},
           {"cosh", -2, 2, U(cosh(x, s))},         {"arctan", -3, 3, U(arctan(x, s))}}) {
    add1(n + "/f64", kF64, lo, hi, R, fn);
  }
  for (auto [n, fn] : std::vector<std::pair<std::string, Fn>>{{"abs", U(abs(x, s))},
                                                              {"negative", U(negative(x, s))},
                                                              {"square", U(square(x, s))},
                                                              {"sign", U(sign(x, s))},
                                                              {"floor", U(floor(x, s))},
                                                              {"ceil", U(ceil(x, s))}}) {
    add1(n + "/f64", kF64, -50, 50, S, fn);
  }
  add2("add/f64", kF64, -20, 20, R, B(add(x, y, s)));
  add2("subtract/f64", kF64, -20, 20, R, B(subtract(x, y, s)));
  add2("multiply/f64", kF64, -20, 20, R, B(multiply(x, y, s)));
  add2("divide/f64", kF64, 0.5, 3, R, B(divide(x, y, s)));
  add2("power/f64", kF64, 0.5, 2, R, B(power(x, y, s)));
  add2("maximum/f64", kF64, -20, 20, S, B(maximum(x, y, s)));
  add2("minimum/f64", kF64, -20, 20, S, B(minimum(x, y, s)));
  add2("maximum/f64_nan", kF64, -5, 5, S, B(maximum(x, y, s)));
  c.back().specials = true;
  add2("equal/f64", kF64, -3, 3, S, B(concatenate({equal(x, y, s), equal(x, x, s)}, 1, s)));
  add2("not_equal/f64", kF64, -3, 3, S, B(not_equal(x, y, s)));
  add2("less/f64", kF64, -3, 3, S, B(less(x, y, s)));
  add2("less_equal/f64", kF64, -3, 3, S, B(less_equal(x, y, s)));
  add2("greater/f64", kF64, -3, 3, S, B(greater(x, y, s)));
  add2("greater_equal/f64", kF64, -3, 3, S, B(greater_equal(x, y, s)));
  add1("where/f64", kF64, -20, 20, S, U(where(greater(x, array(0.0, float64), s), x, square(x, s), s)));
  add2("add/f64_row", kF64, -20, 20, R, B(add(x, slice(y, {0, 0}, {1, y.shape(1)}, s), s)));  // (M, N) + (1, N)
  for (Dtype to : kAll) {
    add1("astype/f64_to_" + dtype_name(to), kF64, 0, 100, S,
         [to](auto& in, StreamOrDevice s) { return astype(in[0], to, s); });
  }
  // Reductions.
  for (int ax : {0, 1}) {
    std::string a = "/axis" + std::to_string(ax);
    add1("sum" + a, kReal, -5, 5, R, [ax](auto& in, StreamOrDevice s) { return sum(in[0], ax, false, s); });
    add1("prod" + a, kFloat, 0.97, 1.03, R, [ax](auto& in, StreamOrDevice s) { return prod(in[0], ax, false, s); });
    add1("max" + a, kReal, -5, 5, S, [ax](auto& in, StreamOrDevice s) { return max(in[0], ax, false, s); });
    add1("min" + a, kReal, -5, 5, S, [ax](auto& in, StreamOrDevice s) { return min(in[0], ax, false, s); });
    add1("mean" + a, kReal, -5, 5, R, [ax](auto& in, StreamOrDevice s) { return mean(in[0], ax, false, s); });
    add1("argmax" + a, kReal, -5, 5, S, [ax](auto& in, StreamOrDevice s) { return argmax(in[0], ax, false, s); });
    add1("argmin" + a, kReal, -5, 5, S, [ax](auto& in, StreamOrDevice s) { return argmin(in[0], ax, false, s); });
    add1("logsumexp" + a, kFloat, -5, 5, R, [ax](auto& in, StreamOrDevice s) { return logsumexp(in[0], ax, false, s); });
    add1("var" + a, kFloat, -5, 5, R, [ax](auto& in, StreamOrDevice s) { return var(in[0], ax, false, 1, s); });
    add1("std" + a, kFloat, -5, 5, R, [ax](auto& in, StreamOrDevice s) { return tessera::std(in[0], ax, false, 0, s); });
    add1("softmax" + a, kFloat, -5, 5, R, [ax](auto& in, StreamOrDevice s) { return softmax(in[0], ax, false, s); });
    add1("log_softmax" + a, kFloat, -5, 5, R,
         [ax](auto& in, StreamOrDevice s) { return log_softmax(in[0], ax, false, s); });
    add1("all" + a, kAll, -1, 3, S, [ax](auto& in, StreamOrDevice s) { return all(in[0], ax, false, s); });
    add1("any" + a, kAll, -3, 1, S, [ax](auto& in, StreamOrDevice s) { return any(in[0], ax, false, s); });
  }
  add1("sum/all", kReal, -5, 5, R, U(sum(x, s)));
  add1("max/nan", kFloat, -5, 5, S, U(max(x, 1, false, s)));
  c.back().specials = true;
  // Scans: both axes, reverse and exclusive, and long rows (several tiles).
  const std::vector<Shape> scan_shapes = {kS};
  for (int ax : {0, 1}) {
    for (int mode = 0; mode < 4; ++mode) {
      bool rev = mode & 1, inc = !(mode & 2);
      std::string v = "/axis" + std::to_string(ax) + (rev ? "/reverse" : "") + (inc ? "" : "/exclusive");
      add1("cumsum" + v, kReal, -5, 5, R, [=](auto& in, StreamOrDevice s) { return cumsum(in[0], ax, rev, inc, s); });
      add1("cumprod" + v, kFloat, 0.97, 1.03, R,
           [=](auto& in, StreamOrDevice s) { return cumprod(in[0], ax, rev, inc, s); });
      add1("cummax" + v, kReal, -50, 50, S, [=](auto& in, StreamOrDevice s) { return cummax(in[0], ax, rev, inc, s); });
      add1("cummin" + v, kReal, -50, 50, S, [=](auto& in, StreamOrDevice s) { return cummin(in[0], ax, rev, inc, s); });
    }
  }
  addn("cumsum/long", kFloat, {{3, 5000}}, -1, 1, R, U(cumsum(x, 1, false, true, s)));
  addn("cummax/nan", kFloat, {{3, 700}}, -1, 1, S, U(cummax(x, 1, false, true, s)));
  c.back().specials = true;
  addn("cumprod/int", {int32, int64}, {{5, 12}}, 1, 3, S, U(cumprod(x, 1, false, true, s)));
  // float64 and complex64 reductions and scans.
  for (int ax : {0, 1}) {
    std::string a = "/axis" + std::to_string(ax);
    for (auto [n, fn] : std::vector<std::pair<std::string, Fn>>{
             {"sum", [ax](auto& in, StreamOrDevice s) { return sum(in[0], ax, false, s); }},
             {"mean", [ax](auto& in, StreamOrDevice s) { return mean(in[0], ax, false, s); }},
             {"max", [ax](auto& in, StreamOrDevice s) { return max(in[0], ax, false, s); }},
             {"min", [ax](auto& in, StreamOrDevice s) { return min(in[0], ax, false, s); }},
             {"argmax", [ax](auto& in, StreamOrDevice s) { return argmax(in[0], ax, false, s); }}}) {
      add1(n + a + "/f64", kF64, -5, 5, R, fn);
    }
    add1("prod" + a + "/f64", kF64, 0.97, 1.03, R, [ax](auto& in, StreamOrDevice s) { return prod(in[0], ax, false, s); });
    add1("sum" + a + "/complex", kC64, -3, 3, S, [ax](auto& in, StreamOrDevice s) { return sum(in[0], ax, false, s); });
    add1("mean" + a + "/complex", kC64, -3, 3, S, [ax](auto& in, StreamOrDevice s) { return mean(in[0], ax, false, s); });
    addn("prod" + a + "/complex", kC64, {{7, 9}}, 0.9, 1.1, S,
         [ax](auto& in, StreamOrDevice s) { return prod(in[0], ax, false, s); });
    for (int mode = 0; mode < 4; ++mode) {
      bool rev = mode & 1, inc = !(mode & 2);
      std::string v = a + (rev ? "/reverse" : "") + (inc ? "" : "/exclusive");
      add1("cumsum" + v + "/complex", kC64, -3, 3, S,
           [=](auto& in, StreamOrDevice s) { return cumsum(in[0], ax, rev, inc, s); });
      addn("cumprod" + v + "/complex", kC64, {{7, 9}}, 0.9, 1.1, S,
           [=](auto& in, StreamOrDevice s) { return cumprod(in[0], ax, rev, inc, s); });
    }
  }
  add1("sum/all/complex", kC64, -3, 3, S, U(sum(x, s)));
  addn("cumsum/long/complex", kC64, {{3, 5000}}, -1, 1, S, U(cumsum(x, 1, false, true, s)));
  // Sorting: short rows (bitonic), long rows (segmented radix sort), ties (stability), NaN.
  for (auto sh : std::vector<Shape>{kS, {3, 5000}, {2, 2100}}) {
    std::string v = "/" + shape_str(sh);
    addn("sort" + v, kAll, {sh}, -100, 100, S, U(sort(x, 1, s)));
    addn("sort/axis0" + v, kReal, {sh}, -100, 100, S, U(sort(x, 0, s)));
    addn("argsort" + v, kAll, {sh}, -10, 10, S, U(argsort(x, 1, s)));  // integer ties: stable order
    addn("argsort/axis0" + v, kReal, {sh}, -10, 10, S, U(argsort(x, 0, s)));
    int k = sh[1] / 3;
    addn("partition" + v, kReal, {sh}, -100, 100, Cmp::sorted_rows, [k](auto& in, StreamOrDevice s) {
      auto p = partition(in[0], k, 1, s);
      // Everything left of k is <= p[k] <= everything right of it (0 when the property holds).
      auto pk = slice(p, {0, k}, {p.shape(0), k + 1}, s);
      auto lo = slice(p, {0, 0}, {p.shape(0), k}, s), hi = slice(p, {0, k}, {p.shape(0), p.shape(1)}, s);
      auto bad = logical_or(any(greater(lo, pk, s), 1, true, s), any(less(hi, pk, s), 1, true, s), s);
      return concatenate({astype(p, float32, s), astype(bad, float32, s)}, 1, s);
    });
    addn("argpartition" + v, kReal, {sh}, -100, 100, Cmp::sorted_rows,
         [k](auto& in, StreamOrDevice s) { return take_along_axis(in[0], argpartition(in[0], k, 1, s), 1, s); });
    addn("topk" + v, kReal, {sh}, -100, 100, Cmp::sorted_rows, [k](auto& in, StreamOrDevice s) { return topk(in[0], k, 1, s); });
  }
  addn("sort/nan", kFloat, {{4, 300}}, -5, 5, S, U(sort(x, 1, s)));
  c.back().specials = true;
  addn("argsort/nan", kFloat, {{4, 5000}}, -5, 5, S, U(argsort(x, 1, s)));
  c.back().specials = true;
  // Indexing.
  add1("take", kAll, -9, 9, S, U(take(x, host_ints({5, 7}, [](int i) { return (i * 31) % 129 - 64; }), 1, s)));
  add1("take/flat", kAll, -9, 9, S, U(take(x, host_ints({50}, [](int i) { return (i * 97) % 4773; }, int64), s)));
  add1("take_along_axis", kAll, -9, 9, S,
       U(take_along_axis(x, host_ints({37, 10}, [](int i) { return (i * 53) % 129 - 60; }), 1, s)));
  add1("take_along_axis/axis0", kAll, -9, 9, S,
       U(take_along_axis(x, host_ints({6, 129}, [](int i) { return (i * 7) % 37; }, uint32), 0, s)));
  // put_along_axis with unique positions per row (the winner of duplicates is unspecified).
  auto row_idx = host_ints({37, 10}, [](int i) { return ((i % 10) * 17 + i / 10) % 129; });
  add1("put_along_axis", kAll, -9, 9, S,
       [row_idx](auto& in, StreamOrDevice s) { return put_along_axis(in[0], row_idx, slice(in[0], {0, 0}, {37, 10}, s), 1, s); });
  add1("scatter_add_axis", kReal, -9, 9, R, [](auto& in, StreamOrDevice s) {
    auto idx = host_ints({37, 40}, [](int i) { return (i * 13) % 29; });  // duplicates accumulate
    return scatter_add_axis(in[0], idx, slice(in[0], {0, 0}, {37, 40}, s), 1, s);
  });
  add1("gather", kAll, -9, 9, S, U(gather(x, host_ints({4, 3}, [](int i) { return (i * 11) % 37; }), 0, {1, 129}, s)));
  auto rows = host_ints({5}, [](int i) { return (i * 7 + 3) % 37; });  // unique
  auto dup_rows = host_ints({9}, [](int i) { return (i * 5) % 4; });     // duplicates
  auto upd = [](const array& x, int n, StreamOrDevice s) {
    return reshape(slice(x, {0, 0}, {n, 129}, s), {n, 1, 129}, s);
  };
  add1("scatter", kAll, -9, 9, S, [=](auto& in, StreamOrDevice s) { return scatter(in[0], rows, upd(in[0], 5, s), 0, s); });
  add1("scatter_add", kReal, -9, 9, R,
       [=](auto& in, StreamOrDevice s) { return scatter_add(in[0], dup_rows, upd(in[0], 9, s), 0, s); });
  add1("scatter_prod", kFloat, 0.9, 1.1, R,
       [=](auto& in, StreamOrDevice s) { return scatter_prod(in[0], dup_rows, upd(in[0], 9, s), 0, s); });
  add1("scatter_max", kReal, -9, 9, S,
       [=](auto& in, StreamOrDevice s) { return scatter_max(in[0], dup_rows, upd(in[0], 9, s), 0, s); });
  add1("scatter_min", kReal, -9, 9, S,
       [=](auto& in, StreamOrDevice s) { return scatter_min(in[0], dup_rows, upd(in[0], 9, s), 0, s); });
  add1("scatter/two_axes", kReal, -9, 9, S, [](auto& in, StreamOrDevice s) {
    auto i0 = host_ints({6}, [](int i) { return i * 5; }), i1 = host_ints({6}, [](int i) { return -4 - i * 20; });
    auto u = reshape(slice(in[0], {0, 0}, {6, 3}, s), {6, 1, 3}, s);
    return scatter(in[0], {i0, i1}, u, {0, 1}, s);
  });
  // 8/16-bit integers and bools (8-bit reductions: a CAS on the enclosing 32-bit word).
  add1("scatter_add/small_int", kSmallInt, 0, 9, S,
       [=](auto& in, StreamOrDevice s) { return scatter_add(in[0], dup_rows, upd(in[0], 9, s), 0, s); });
  add1("scatter_prod/small_int", kSmallInt, 0, 4, S,
       [=](auto& in, StreamOrDevice s) { return scatter_prod(in[0], dup_rows, upd(in[0], 9, s), 0, s); });
  for (auto [n, fn] : std::vector<std::pair<std::string, Fn>>{
           {"scatter_max/small_int", [=](auto& in, StreamOrDevice s) { return scatter_max(in[0], dup_rows, upd(in[0], 9, s), 0, s); }},
           {"scatter_min/small_int", [=](auto& in, StreamOrDevice s) { return scatter_min(in[0], dup_rows, upd(in[0], 9, s), 0, s); }}}) {
    std::vector<Dtype> d = kSmallInt;
    d.push_back(bool_);
    add1(n, d, 0, 9, S, fn);
  }
  add1("scatter_add_axis/small_int", kSmallInt, 0, 9, S, [](auto& in, StreamOrDevice s) {
    auto idx = host_ints({37, 40}, [](int i) { return (i * 13) % 29; });
    return scatter_add_axis(in[0], idx, slice(in[0], {0, 0}, {37, 40}, s), 1, s);
  });
  add1("slice_update", kAll, -9, 9, S,
       U(slice_update(x, slice(x, {0, 0}, {5, 20}, s), {3, 90}, {13, 129}, {2, 2}, s)));
  add1("dynamic_slice", kAll, -9, 9, S, U(dynamic_slice(x, host_ints({2}, [](int i) { return 3 + 50 * i; }), {0, 1}, {4, 9}, s)));
  // Start indices made on the GPU (device-only: read inside the kernel), wrapped and clamped ones,
  // small integer start dtypes, 3-D arrays and non-contiguous updates.
  add1("dynamic_slice/device_start", kAll, -9, 9, S,
       U(dynamic_slice(x, add(host_ints({2}, [](int i) { return i ? -100 : 500; }), array(1), s), {0, 1}, {5, 11}, s)));
  add1("dynamic_slice/int8_start", kAll, -9, 9, S,
       U(dynamic_slice(x, host_ints({1}, [](int) { return -7; }, int8), {1}, {37, 3}, s)));
  addn("dynamic_slice/3d", kAll, {{5, 17, 33}}, -9, 9, S,
       U(dynamic_slice(x, host_ints({2}, [](int i) { return i ? 1 : 20; }, int64), {2, 0}, {2, 17, 13}, s)));
  add1("dynamic_slice_update/device_start", kAll, -9, 9, S,
       U(dynamic_slice_update(x, transpose(slice(x, {0, 0}, {6, 5}, s), s),
                              add(host_ints({2}, [](int i) { return i ? 127 : -3; }), array(0), s), {0, 1}, s)));
  addn("dynamic_slice_update/3d", kAll, {{5, 17, 33}}, -9, 9, S,
       U(dynamic_slice_update(x, slice(x, {0, 0, 0}, {5, 4, 7}, s), host_ints({2}, [](int i) { return 9 - 3 * i; }, uint8),
                              {1, 2}, s)));
  add1("dynamic_slice_update", kAll, -9, 9, S,
       U(dynamic_slice_update(x, slice(x, {0, 0}, {4, 9}, s), host_ints({2}, [](int i) { return 30 - 40 * i; }), {0, 1}, s)));
  add1("index", kAll, -9, 9, S, U(index(x, {SliceIndex{1, 30, 3}, host_ints({4}, [](int i) { return i * 30 - 7; })}, s)));
  add1("index_update", kAll, -9, 9, S, U(index_update(x, {SliceIndex{1, 30, 3}, int64_t(5)}, array(1, x.dtype()), s)));
  // Manipulation.
  add2("concatenate", kAll, -9, 9, S, B(concatenate({x, y}, 1, s)));
  add2("stack", kAll, -9, 9, S, B(stack({x, y}, 1, s)));
  add1("split", kAll, -9, 9, S, F(auto p = split(in[0], Shape{10, 100}, 1, s); return concatenate({p[2], p[0]}, 1, s);));
  add1("tile", kAll, -9, 9, S, U(tile(x, {2, 3}, s)));
  add1("repeat", kAll, -9, 9, S, U(repeat(x, 3, 1, s)));
  add1("pad", kAll, -9, 9, S, U(pad(x, {{1, 2}, {3, 0}}, array(1, x.dtype()), "constant", s)));
  add1("pad/edge", kAll, -9, 9, S, U(pad(x, {{2, 1}, {0, 4}}, array(0, x.dtype()), "edge", s)));
  add1("roll", kAll, -9, 9, S, U(roll(x, Shape{5, -40}, {0, 1}, s)));
  add1("diag", kAll, -9, 9, S, U(diag(x, 3, s)));
  add1("diagonal", kAll, -9, 9, S, U(diagonal(x, -2, 1, 0, s)));
  add1("tril", kAll, -9, 9, S, U(tril(x, 5, s)));
  add1("triu", kAll, -9, 9, S, U(triu(x, -3, s)));
  add1("flip", kAll, -9, 9, S, U(flip(x, {1}, s)));
  // Creation (the input's dtype picks the output's).
  add1("arange", kReal, 0, 1, S, U(arange(0, 120, 3, x.dtype(), s)));
  add1("arange/float", kFloat, 0, 1, R, U(arange(-1.5, 4.0, 0.01, x.dtype(), s)));
  add1("linspace", kFloat, 0, 1, R, U(linspace(-3.0, 5.0, 101, x.dtype(), s)));
  add1("eye", kAll, 0, 1, S, U(eye(7, 9, 2, x.dtype(), s)));
  add1("identity", kAll, 0, 1, S, U(identity(6, x.dtype(), s)));
  add1("tri", kAll, 0, 1, S, U(tri(7, 5, -1, x.dtype(), s)));
  add1("zeros", kAll, 0, 1, S, U(zeros({3, 70}, x.dtype(), s)));
  add1("ones", kAll, 0, 1, S, U(ones({3, 70}, x.dtype(), s)));
  add1("full", kAll, 0, 1, S, U(full({3, 70}, array(1, x.dtype()), x.dtype(), s)));
  add1("zeros_like", kAll, -9, 9, S, U(zeros_like(x, s)));
  add1("ones_like", kAll, -9, 9, S, U(ones_like(x, s)));
  add1("full_like", kAll, -9, 9, S, U(full_like(x, array(1, x.dtype()), s)));
  // Shape and type.
  for (Dtype to : kAll) {
    add1("astype/" + dtype_name(to), kAll, 0, 100, S, [to](auto& in, StreamOrDevice s) { return astype(in[0], to, s); });
  }
  add1("astype/float64", kAll, 0, 100, S, U(astype(x, float64, s)));
  add1("copy", kAll, -9, 9, S, U(copy(x, s)));
  add1("contiguous", kAll, -9, 9, S, U(contiguous(x, s)));
  add1("reshape", kAll, -9, 9, S, U(reshape(x, {129, 37}, s)));
  add1("flatten", kAll, -9, 9, S, U(flatten(x, 0, -1, s)));
  add1("squeeze", kAll, -9, 9, S, U(squeeze(expand_dims(x, 1, s), s)));
  add1("expand_dims", kAll, -9, 9, S, U(expand_dims(x, {0, 2}, s)));
  add1("broadcast_to", kAll, -9, 9, S, U(broadcast_to(x, {2, 37, 129}, s)));
  add2("broadcast_arrays", kAll, -9, 9, S, B(concatenate(broadcast_arrays({x, slice(y, {0, 0}, {1, 129}, s)}, s), 1, s)));
  add1("transpose", kAll, -9, 9, S, U(transpose(x, s)));
  add1("swapaxes", kAll, -9, 9, S, U(swapaxes(x, 0, 1, s)));
  add1("moveaxis", kAll, -9, 9, S, U(moveaxis(expand_dims(x, 2, s), 0, 2, s)));
  add1("slice", kAll, -9, 9, S, U(slice(x, {36, 1}, {0, 128}, {-5, 7}, s)));
  add1("as_strided", kAll, -9, 9, S, U(as_strided(contiguous(x, s), {10, 20}, {129, 2}, 3, s)));
  // Linear algebra.
  addn("matmul", kFloat, {{37, 64}, {64, 29}}, -1, 1, R, B(matmul(x, y, s)));
  addn("addmm", kFloat, {{37, 29}, {37, 64}, {64, 29}}, -1, 1, R,
       F(return addmm(in[0], in[1], in[2], 0.5f, 2.0f, s);));
  addn("addmm/row_bias", kFloat, {{29}, {37, 64}, {64, 29}}, -1, 1, R,
       F(return addmm(in[0], in[1], in[2], 1.0f, 1.0f, s);));
  addn("addmm/batched", kFloat, {{3, 1, 29}, {3, 17, 64}, {64, 29}}, -1, 1, R,
       F(return addmm(in[0], in[1], in[2], -1.5f, 0.25f, s);));
  addn("addmm/beta0", kFloat, {{37, 29}, {37, 64}, {64, 29}}, -1, 1, R,
       F(return addmm(in[0], in[1], in[2], 2.0f, 0.0f, s);));
  addn("matmul/f64", {float64}, {{37, 64}, {64, 29}}, -1, 1, R, B(matmul(x, y, s)));
  addn("matmul/f64_batched", {float64}, {{3, 9, 33}, {3, 33, 5}}, -1, 1, R, B(matmul(x, y, s)));
  addn("addmm/f64", {float64}, {{37, 29}, {37, 64}, {64, 29}}, -1, 1, R,
       F(return addmm(in[0], in[1], in[2], 0.5f, 2.0f, s);));
  addn("matmul/complex", kC64, {{37, 64}, {64, 29}}, -1, 1, S, B(matmul(x, y, s)));
  addn("matmul/complex_batched", kC64, {{2, 9, 33}, {2, 33, 5}}, -1, 1, S, B(matmul(x, y, s)));
  addn("addmm/complex", kC64, {{37, 29}, {37, 64}, {64, 29}}, -1, 1, S,
       F(return addmm(in[0], in[1], in[2], 0.5f, 2.0f, s);));
  addn("outer", kFloat, {{37}, {29}}, -1, 1, R, B(outer(x, y, s)));
  addn("inner", kFloat, {{5, 64}, {7, 64}}, -1, 1, R, B(inner(x, y, s)));
  addn("tensordot", kFloat, {{6, 5, 8}, {5, 8, 3}}, -1, 1, R, B(tensordot(x, y, 2, s)));
  addn("einsum", kFloat, {{6, 5, 8}, {8, 5}}, -1, 1, R, B(einsum("ijk,kj->ik", {x, y}, s)));
  add1("norm", kFloat, -1, 1, R, U(linalg::norm(x, std::nullopt, false, s)));
  add1("norm/ord1_axis", kFloat, -1, 1, R, U(linalg::norm(x, 1.0, 1, false, s)));
  addn("inv", kF32, {{9, 5}}, -1, 1, R, U(linalg::inv(spd(x, s), s)));
  addn("solve", kF32, {{9, 5}, {9, 3}}, -1, 1, R, B(linalg::solve(spd(x, s), y, s)));
  addn("cholesky", kF32, {{9, 5}}, -1, 1, R, U(linalg::cholesky(spd(x, s), false, s)));
  addn("qr", kF32, {{9, 6}}, -1, 1, R, F(auto [q, r] = linalg::qr(in[0], s); return matmul(q, r, s);));
  addn("svd", kF32, {{9, 6}}, -1, 1, R, U(linalg::svd(x, false, s)[0]));
  addn("eigh", kF32, {{9, 5}}, -1, 1, R, F(auto [w, v] = linalg::eigh(spd(in[0], s), "L", s);
                                            return matmul(multiply(v, w, s), transpose(v, s), s);));
  addn("eigvalsh", kF32, {{9, 5}}, -1, 1, R, U(linalg::eigvalsh(spd(x, s), "U", s)));
  // Convolutions (channels last).
  addn("conv1d", kFloat, {{2, 19, 6}, {5, 3, 6}}, -1, 1, R, B(conv1d(x, y, 2, 1, 1, 1, s)));
  addn("conv2d", kFloat, {{2, 9, 11, 4}, {6, 3, 3, 2}}, -1, 1, R, B(conv2d(x, y, {1, 2}, {1, 0}, {1, 1}, 2, s)));
  addn("conv3d", kFloat, {{1, 5, 6, 7, 3}, {4, 2, 3, 2, 3}}, -1, 1, R, B(conv3d(x, y, {1, 1, 1}, {0, 1, 0}, {1, 1, 1}, 1, s)));
  // Quantization: the packed weight is made once on the CPU, then every op runs on both backends.
  addn("quantize", kFloat, {{8, 128}}, -1, 1, S, U(quantize(x, 64, 4, s)[1]));
  addn("dequantize", kFloat, {{8, 128}}, -1, 1, S, F(auto q = quantize(in[0], 64, 4, kCpu); eval(q);
                                                    return dequantize(q[0], q[1], q[2], 64, 4, s);));
  addn("quantized_matmul", kFloat, {{5, 128}, {16, 128}}, -1, 1, Cmp::same,
       F(auto q = quantize(in[1], 64, 4, kCpu); eval(q); return quantized_matmul(in[0], q[0], q[1], q[2], true, 64, 4, s);));
  // GGUF Q8_0 blocks: an fp16 scale (0.5: bytes 00 38) then 32 int8 values.
  auto q8_blocks = [](int n, int k) {
    int bpr = k / 32 * 34;
    std::vector<uint8_t> b(static_cast<size_t>(n) * bpr);
    for (size_t i = 0; i < b.size(); ++i) {
      size_t o = i % 34;
      b[i] = o == 0 ? 0x00 : o == 1 ? 0x38 : static_cast<uint8_t>((i * 37 + 11) % 256);
    }
    return array(b, {n, bpr}, uint8);
  };
  addn("gguf_dequantize", kF32, {{1}}, -1, 1, S, [q8_blocks](auto&, StreamOrDevice s) {
    return gguf_dequantize(q8_blocks(4, 64), GGUFType::Q8_0, {4, 64}, s);
  });
  addn("gguf_quantized_matmul", kFloat, {{6, 64}}, -1, 1, Cmp::same, [q8_blocks](auto& in, StreamOrDevice s) {
    return gguf_quantized_matmul(in[0], q8_blocks(10, 64), GGUFType::Q8_0, 64, s);
  });
  return c;
}

#undef F
#undef U
#undef B

class GpuConsistency : public tessera::testing::GpuTest {};

}  // namespace

TEST_F(GpuConsistency, EveryOpMatchesTheCpu) {
  std::map<std::string, int> per_dtype;
  std::set<std::string> ops;
  int checks = 0, failures = 0;
  reset_gpu_fallback_counts();
  unsigned seed = 1;
  for (auto& cs : cases()) {
    for (Dtype d : cs.dtypes) {
      for (int layout = 0; layout < 4; ++layout) {
        ++seed;
        std::string where = cs.name + " " + dtype_name(d) + " " + layout_name(layout);
        try {
          std::vector<array> in;
          for (size_t k = 0; k < cs.shapes.size(); ++k) {
            in.push_back(make_input(cs.shapes[k], d, cs.lo, cs.hi, seed * 7 + k, layout, cs.specials));
          }
          array g = cs.f(in, Device::gpu);
          eval(g);
          array r(0);
          if (cs.cmp == Cmp::ref64 && is_floating_point(d)) {
            std::vector<array> in64;
            for (auto& x : in) in64.push_back(astype(x, float64, kCpu));
            r = cs.f(in64, kCpu);
          } else {
            r = cs.f(in, kCpu);
          }
          eval(r);
          // Outputs that keep a 16-bit float dtype are judged at its tolerance, others at theirs.
          Dtype judge = (g.dtype() == float16 || g.dtype() == bfloat16 || g.dtype() == float32) ? g.dtype() : r.dtype();
          if (!is_floating_point(g.dtype())) judge = g.dtype();
          auto msg = compare(g, r, judge, cs.cmp, cs.specials);
          ++checks;
          if (!msg.empty()) {
            ++failures;
            ADD_FAILURE() << where << ": " << msg;
          }
        } catch (const std::exception& e) {
          ++failures;
          ADD_FAILURE() << where << " threw: " << e.what();
        }
      }
      ++per_dtype[dtype_name(d)];
    }
    ops.insert(cs.name.substr(0, cs.name.find('/')));
  }
  std::string summary;
  for (auto& [d, n] : per_dtype) summary += " " + d + "=" + std::to_string(n);
  std::printf("[gpu consistency] %zu ops, %d checks (4 layouts each), %d failed; cases per dtype:%s\n", ops.size(),
              checks, failures, summary.c_str());
  // What still ran on the CPU for the GPU stream (both backends' inputs are made on the CPU, so
  // this counts GPU-stream evaluations only): LAPACK by design, conv, and the dtypes the docs list.
  std::string fb;
  for (auto& [n, k] : gpu_fallback_counts()) fb += " " + n + "=" + std::to_string(k);
  std::printf("[gpu consistency] CPU fallbacks on the GPU stream:%s\n", fb.empty() ? " none" : fb.c_str());
  for (const char* n : {"DynamicSlice", "DynamicSliceUpdate", "RandomMap", "Permutation", "AddMM", "Real", "Imag",
                        "Conjugate", "Abs", "Negative", "Square", "Sign", "Add", "Subtract", "Multiply", "Divide",
                        "Maximum", "Minimum", "Power", "Equal", "NotEqual", "Less", "LessEqual", "Greater",
                        "GreaterEqual", "FloorDivide", "Remainder", "Reduce", "ArgReduce", "Scan", "Softmax",
                        "AsType", "Sort", "ArgSort", "Partition", "ArgPartition"}) {
    EXPECT_EQ(gpu_fallback_count(n), 0u) << n << " fell back to the CPU in the consistency table";
  }
  EXPECT_EQ(failures, 0);
}

// Every op declared in tessera/ops/*.h has at least one case above.
TEST_F(GpuConsistency, TableCoversEveryOp) {
  std::set<std::string> covered;
  for (auto& cs : cases()) covered.insert(cs.name.substr(0, cs.name.find('/')));
  std::regex decl(R"(^(?:array|std::vector<array>|std::pair<array, array>) ([a-z_0-9]+)\()");
  std::regex macro(R"(^TESSERA_(?:REDUCE|SCAN)_DECL\(([a-z_0-9]+)\))");
  std::regex tmpl(R"(^array ([a-z_0-9]+)\(Shape)");
  int declared = 0;
  for (const char* f : {"conv", "creation", "elementwise", "indexing", "linalg", "manipulation", "quantized",
                        "reduce", "shape", "sort"}) {
    std::ifstream in(std::string(TESSERA_SOURCE_DIR) + "/tessera/ops/" + f + ".h");
    ASSERT_TRUE(in) << f;
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
      if (std::regex_search(line, m, decl) || std::regex_search(line, m, macro) || std::regex_search(line, m, tmpl)) {
        ++declared;
        EXPECT_TRUE(covered.count(m[1].str())) << "op " << m[1] << " (tessera/ops/" << f << ".h) has no consistency case";
      }
    }
  }
  EXPECT_GT(declared, 150);
}

// grad and vmap of a small function: GPU against CPU.
TEST_F(GpuConsistency, GradAndVmapMatchTheCpu) {
  auto fn = [](const array& x) {
    return sum(add(multiply(tanh(x), x), exp(negative(square(x)))));
  };
  auto row_fn = [](const array& r) { return logsumexp(multiply(sin(r), r)); };
  auto x = make_input({17, 33}, float32, -2, 2, 99, transposed_l, false);
  set_default_device(Device::gpu);
  auto g_gpu = grad(std::function<array(const array&)>(fn))(x);
  auto v_gpu = vmap(std::function<array(const array&)>(row_fn))(x);
  eval(g_gpu, v_gpu);
  set_default_device(Device::cpu);
  auto g_cpu = grad(std::function<array(const array&)>(fn))(x);
  auto v_cpu = vmap(std::function<array(const array&)>(row_fn))(x);
  eval(g_cpu, v_cpu);
  set_default_device(Device::gpu);
  EXPECT_EQ(compare(g_gpu, g_cpu, float32, Cmp::same, false), "");
  EXPECT_EQ(compare(v_gpu, v_cpu, float32, Cmp::same, false), "");
  EXPECT_EQ(v_gpu.shape(), Shape{17});
}

// Random numbers from one key: Threefry bits (every width, odd sizes) are bit-identical on both
// backends, and so are the distributions and samples built from them.
TEST_F(GpuConsistency, RandomMatchesTheCpu) {
  auto key = random::key(1234);
  auto logits = make_input({40, 1000}, float32, -3, 3, 5, contiguous_l, false);
  auto logits_t = make_input({300, 6}, float32, -1, 1, 6, transposed_l, false);
  std::vector<std::pair<std::string, std::function<array(StreamOrDevice)>>> fns = {
      {"bits/u32", [&](StreamOrDevice s) { return random::bits({1001}, 4, key, s); }},
      {"bits/u16", [&](StreamOrDevice s) { return random::bits({3, 333}, 2, key, s); }},
      {"bits/u8", [&](StreamOrDevice s) { return random::bits({7, 13}, 1, key, s); }},
      {"bits/split", [&](StreamOrDevice s) { return random::bits({64}, 4, random::split(key, s).second, s); }},
      {"uniform", [&](StreamOrDevice s) { return random::uniform({5, 77}, float32, key, s); }},
      {"normal/bf16", [&](StreamOrDevice s) { return random::normal({5, 77}, bfloat16, key, s); }},
      {"categorical", [&](StreamOrDevice s) { return random::categorical(logits, -1, key, s); }},
      {"categorical/axis0", [&](StreamOrDevice s) { return random::categorical(logits_t, 0, key, s); }},
      {"categorical/samples", [&](StreamOrDevice s) { return random::categorical(logits, -1, 3, key, s); }},
      {"permutation", [&](StreamOrDevice s) { return random::permutation(500, key, s); }},
      {"permutation/rows_f32", [&](StreamOrDevice s) { return random::permutation(logits_t, 0, key, s); }},
      {"permutation/axis1_bf16", [&](StreamOrDevice s) { return random::permutation(astype(logits, bfloat16, s), 1, key, s); }},
      {"permutation/bool_odd", [&](StreamOrDevice s) { return random::permutation(greater(logits_t, array(0.0f), s), 1, key, s); }},
      {"randint/int32", [&](StreamOrDevice s) { return random::randint(-50, 50, {1001}, int32, key, s); }},
      {"randint/uint8", [&](StreamOrDevice s) { return random::randint(3, 250, {7, 33}, uint8, key, s); }},
      {"randint/int64_params", [&](StreamOrDevice s) {
         return random::randint(array({-5.0, 0.0, 7.0}, {3, 1}), array({5.0, 1000.0, 9.0}, {3, 1}), {3, 77}, int64, key, s);
       }},
      {"bernoulli", [&](StreamOrDevice s) { return random::bernoulli(array({0.1f, 0.5f, 0.93f}, {3, 1}), {3, 501}, key, s); }},
  };
  for (auto& [name, f] : fns) {
    auto g = f(Device::gpu);
    auto c = f(kCpu);
    eval(g, c);
    EXPECT_EQ(g.dtype(), c.dtype()) << name;
    EXPECT_EQ(compare(g, c, is_floating_point(g.dtype()) ? g.dtype() : int32, Cmp::same, false), "") << name;
    if (!is_floating_point(g.dtype())) {
      EXPECT_EQ(values(g), values(c)) << name;  // bit-exact
    }
  }
}

// Float distributions: uniform is bit-identical (only IEEE + - * and fma, spelled the same on both
// backends); the log/erf-based ones (normal, truncated normal, gumbel) use the device's log/erf,
// so a last-bit difference is allowed (float32 2 ulp); the exact fraction is printed.
TEST_F(GpuConsistency, RandomFloatMapsMatchTheCpu) {
  auto key = random::key(77);
  auto lo = array({-2.0f, 0.0f, 10.0f, -1e-3f, 3.0f}, {5, 1});
  auto hi = array({2.0f, 1.0f, 11.0f, 1e-3f, 3.5f}, {5, 1});
  struct Dist {
    std::string name;
    bool exact;
    std::function<array(Dtype, StreamOrDevice)> f;
  };
  std::vector<Dist> dists = {
      {"uniform", true, [&](Dtype d, StreamOrDevice s) { return random::uniform({1001}, d, key, s); }},
      {"uniform/bounds", true, [&](Dtype d, StreamOrDevice s) { return random::uniform(lo, hi, {5, 77}, d, key, s); }},
      {"normal", false, [&](Dtype d, StreamOrDevice s) { return random::normal({1001}, d, key, s); }},
      {"normal/loc_scale", false, [&](Dtype d, StreamOrDevice s) { return random::normal({3, 333}, d, 0.5f, 2.0f, key, s); }},
      {"truncated_normal", false,
       [&](Dtype d, StreamOrDevice s) { return random::truncated_normal(lo, hi, {5, 77}, d, key, s); }},
      {"gumbel", false, [&](Dtype d, StreamOrDevice s) { return random::gumbel({7, 129}, d, key, s); }},
  };
  for (auto& dist : dists) {
    for (Dtype d : {float32, float16, bfloat16, float64}) {
      auto g = dist.f(d, Device::gpu);
      auto c = dist.f(d, kCpu);
      eval(g, c);
      std::string where = dist.name + " " + dtype_name(d);
      ASSERT_EQ(g.dtype(), d) << where;
      auto gv = values(g), cv = values(c);
      ASSERT_EQ(gv.size(), cv.size()) << where;
      size_t same = 0;
      for (size_t i = 0; i < gv.size(); ++i) {
        same += gv[i] == cv[i];
        // 2 float32 ulp, or one ulp of the 16-bit type when the float rounding flipped.
        double tol = (d == float16 ? 1e-3 : d == bfloat16 ? 8e-3 : 2.4e-7) * std::max(1.0, std::abs(cv[i]));
        ASSERT_FALSE(std::isnan(gv[i])) << where << " element " << i;
        if (dist.exact) ASSERT_EQ(gv[i], cv[i]) << where << " element " << i;
        else ASSERT_LE(std::abs(gv[i] - cv[i]), tol) << where << " element " << i << ": " << gv[i] << " vs " << cv[i];
      }
      std::printf("[gpu random] %-18s %-8s %zu/%zu bit-identical\n", dist.name.c_str(), dtype_name(d).c_str(), same,
                  gv.size());
    }
  }
}

// The primitives that used to run on the CPU for a GPU stream now have kernels: none of them
// reaches Primitive::eval_gpu's fallback (counted per primitive name).
TEST_F(GpuConsistency, FormerFallbacksRunOnTheGpu) {
  auto check = [](const std::string& group, const std::vector<std::string>& names) {
    for (auto& n : names) EXPECT_EQ(gpu_fallback_count(n), 0u) << group << ": " << n << " fell back to the CPU";
  };
  auto c1 = make_input({9, 31}, complex64, -2, 2, 11, transposed_l, false);
  auto c2 = make_input({9, 31}, complex64, 0.5, 2, 12, strided_l, false);
  auto cm = make_input({31, 6}, complex64, -1, 1, 13, contiguous_l, false);
  auto f = make_input({9, 31}, float32, -2, 2, 14, contiguous_l, false);
  auto fm = make_input({31, 6}, float32, -1, 1, 15, transposed_l, false);
  auto fb = make_input({6}, float32, -1, 1, 16, contiguous_l, false);
  auto i8 = make_input({9, 31}, int8, 0, 9, 17, contiguous_l, false);
  auto u8 = make_input({9, 31}, uint8, 0, 9, 18, contiguous_l, false);
  auto bl = make_input({9, 31}, bool_, 0, 1, 19, contiguous_l, false);
  auto start = host_ints({2}, [](int i) { return i ? 40 : -2; });
  auto idx = host_ints({5}, [](int i) { return (i * 3) % 4; });
  eval(c1, c2, cm, f, fm, fb, i8, u8, bl, start, idx);

  reset_gpu_fallback_counts();
  std::vector<array> outs = {real(c1), imag(c1), conjugate(c1), abs(c1), negative(c1), square(c1), add(c1, c2),
                             subtract(c1, c2), multiply(c1, c2), divide(c1, c2), equal(c1, c2), not_equal(c1, c2),
                             matmul(c1, cm)};
  eval(outs);
  check("complex64", {"Real", "Imag", "Conjugate", "Abs", "Negative", "Square", "Add", "Subtract", "Multiply",
                      "Divide", "Equal", "NotEqual", "Matmul"});

  reset_gpu_fallback_counts();
  auto dev_start = add(start, array(1));  // device-only
  eval(dev_start);
  outs = {dynamic_slice(f, dev_start, {0, 1}, {4, 7}), dynamic_slice(c1, start, {0, 1}, {3, 3}),
          dynamic_slice_update(f, slice(f, {0, 0}, {2, 5}), dev_start, {0, 1})};
  eval(outs);
  check("dynamic slice", {"DynamicSlice", "DynamicSliceUpdate"});

  reset_gpu_fallback_counts();
  auto key = random::key(5);
  outs = {random::uniform({101}, float32, key), random::normal({101}, bfloat16, key),
          random::truncated_normal(array(-1.0f), array(2.0f), {33}, float16, key), random::gumbel({17}, float32, key),
          random::bernoulli(0.3f, {55}, key), random::randint(0, 10, {55}, int32, key), random::permutation(77, key),
          random::permutation(f, 1, key)};
  eval(outs);
  check("random", {"RandomMap", "Permutation"});

  reset_gpu_fallback_counts();
  auto f64 = astype(f, float64), fm64 = astype(fm, float64);
  eval(f64, fm64);
  reset_gpu_fallback_counts();
  outs = {addmm(fb, f, fm), addmm(astype(fb, float16), astype(f, float16), astype(fm, float16), 0.5f, 2.0f),
          addmm(astype(fb, bfloat16), astype(f, bfloat16), astype(fm, bfloat16)), matmul(f64, fm64),
          addmm(matmul(f64, fm64), f64, fm64), addmm(matmul(c1, cm), c1, cm)};
  eval(outs);
  check("matmul", {"Matmul", "AddMM"});

  reset_gpu_fallback_counts();
  outs = {scatter_add(i8, idx, reshape(slice(i8, {0, 0}, {5, 31}), {5, 1, 31}), 0),
          scatter_max(u8, idx, reshape(slice(u8, {0, 0}, {5, 31}), {5, 1, 31}), 0),
          scatter_min(bl, idx, reshape(slice(bl, {0, 0}, {5, 31}), {5, 1, 31}), 0),
          scatter_add_axis(i8, host_ints({9, 4}, [](int i) { return i % 3; }), slice(i8, {0, 0}, {9, 4}), 1)};
  eval(outs);
  check("small-int scatter", {"Scatter", "ScatterAxis"});
  std::string left;
  for (auto& [n, k] : gpu_fallback_counts()) left += " " + n + "=" + std::to_string(k);
  std::printf("[gpu fallback] after the small-int scatter group:%s\n", left.empty() ? " none" : left.c_str());

  // Every integer width and bool: elementwise arithmetic/comparisons, reductions (all/any too), arg
  // reductions, scans, conversions to and from every dtype (complex64 included).
  auto base = make_input({9, 31}, float64, -9, 9, 20, transposed_l, false);
  auto ones_twos = make_input({9, 31}, float64, 1, 2.99, 21, contiguous_l, false);
  std::vector<array> typed;
  for (Dtype d : {int8, uint8, int16, uint16, uint32, int64, uint64, bool_}) {
    bool unsig = d == uint8 || d == uint16 || d == uint32 || d == uint64;
    typed.push_back(astype(unsig ? abs(base, kCpu) : base, d, kCpu));
    typed.push_back(astype(ones_twos, d, kCpu));
  }
  eval(typed);
  reset_gpu_fallback_counts();
  outs.clear();
  for (size_t k = 0; k < typed.size(); k += 2) {
    auto& x = typed[k];
    auto& y = typed[k + 1];
    bool is_bool = x.dtype() == bool_;
    outs.insert(outs.end(), {square(x), add(x, y), multiply(x, y), maximum(x, y), minimum(x, y), power(y, y),
                             equal(x, y), less(x, y), greater_equal(x, y), sum(x, 0), prod(y, 1), max(x, 1),
                             min(x, 0), argmax(x, 1), argmin(x, 0), all(x, 1), any(x, 0), cummax(x, 1),
                             cummin(x, 0, true), astype(x, complex64), astype(x, float16), astype(x, int8),
                             astype(x, uint64)});
    if (!is_bool) {
      outs.insert(outs.end(), {abs(x), negative(x), sign(x), subtract(x, y), floor_divide(x, y), remainder(x, y),
                               cumsum(x, 1), cumprod(y, 1, false, false)});
    }
  }
  eval(outs);
  check("integer widths and bool", {"Abs", "Negative", "Square", "Sign", "Add", "Subtract", "Multiply", "Maximum",
                                    "Minimum", "Power", "Equal", "Less", "GreaterEqual", "FloorDivide",
                                    "Remainder", "Reduce", "ArgReduce", "Scan", "AsType"});

  reset_gpu_fallback_counts();
  outs = {power(c1, c2), astype(c1, float32), astype(c1, bool_), astype(c1, int64), astype(c1, float64),
          astype(f, complex64), astype(typed[0], complex64), softmax(f64, 1), log_softmax(f64, 0)};
  eval(outs);
  check("complex64 power and conversions, float64 softmax", {"Power", "AsType", "Softmax"});
}

// The counter counts CPU runs that moved data only: views of a device-only array (broadcast, slice,
// transpose, reshape, expand_dims, diagonal) are not counted; a LAPACK op (inv) is, once.
TEST_F(GpuConsistency, FallbackCounterCountsOnlyDataMovement) {
  auto x = add(make_input({6, 6}, float32, -1, 1, 31, contiguous_l, false), array(0.5f));
  eval(x);  // device-only result
  reset_gpu_fallback_counts();
  std::vector<array> views = {broadcast_to(reshape(x, {1, 6, 6}), {3, 6, 6}), slice(x, {1, 0}, {5, 6}, {2, 3}),
                              transpose(x), reshape(x, {36}), expand_dims(x, 0), diagonal(x)};
  eval(views);
  std::string seen;
  for (auto& [n, k] : gpu_fallback_counts()) seen += " " + n + "=" + std::to_string(k);
  EXPECT_TRUE(gpu_fallback_counts().empty()) << "views counted as fallbacks:" << seen;
  auto sq = matmul(x, transpose(x));
  auto a = add(sq, multiply(eye(6, float32), array(6.0f)));
  eval(a);
  reset_gpu_fallback_counts();
  auto ai = linalg::inv(a);
  eval(ai);
  EXPECT_EQ(gpu_fallback_count("Inverse"), 1u);
  // The views' values are the CPU's.
  for (auto& v : views) {
    auto vc = copy(v, kCpu);
    eval(vc);
    EXPECT_EQ(values(v), values(vc));
  }
}

// addmm with a bias row (beta 1) runs as one cuBLASLt GEMM with the bias epilogue (f32, f16, bf16),
// matching a float64 CPU reference; other addmm forms keep the copy-then-accumulate path.
TEST_F(GpuConsistency, AddMMBiasRowUsesTheEpilogue) {
  const int M = 64, K = 96, N = 80;
  auto a = make_input({M, K}, float32, -1, 1, 21, contiguous_l, false);
  auto b = make_input({K, N}, float32, -1, 1, 22, contiguous_l, false);
  auto bias = make_input({N}, float32, -1, 1, 23, contiguous_l, false);
  for (Dtype d : {float32, float16, bfloat16}) {
    auto ad = astype(a, d, kCpu), bd = astype(b, d, kCpu), biasd = astype(bias, d, kCpu);
    // Reference from the rounded inputs in float64 on the CPU.
    auto prod64 = matmul(astype(ad, float64, kCpu), astype(bd, float64, kCpu), kCpu);
    auto bias64 = astype(biasd, float64, kCpu);
    auto ref = add(prod64, bias64, kCpu);
    auto ref_scaled = add(multiply(prod64, array(-0.5), kCpu), bias64, kCpu);
    eval(ad, bd, biasd, ref, ref_scaled);
    size_t before = cuda::bias_epilogue_count();
    auto g = addmm(biasd, ad, bd, 1.0f, 1.0f, Device::gpu);
    auto g_scaled = addmm(biasd, ad, bd, -0.5f, 1.0f, Device::gpu);
    auto g_beta = addmm(biasd, ad, bd, 1.0f, 2.0f, Device::gpu);  // beta != 1: copy path
    eval(g, g_scaled, g_beta);
    size_t ran = cuda::bias_epilogue_count() - before;
    double tol = d == float32 ? 1e-4 : d == float16 ? 1e-2 : 3e-2;
    auto refv = ref.to_vector<double>(), refs = ref_scaled.to_vector<double>();
    auto bv = bias64.to_vector<double>();
    std::vector<double> refb(refv.size());
    for (size_t i = 0; i < refv.size(); ++i) refb[i] = refv[i] + bv[i % N];
    EXPECT_TRUE(all_close(g, refv, tol, tol)) << dtype_name(d);
    EXPECT_TRUE(all_close(g_scaled, refs, tol, tol)) << dtype_name(d);
    EXPECT_TRUE(all_close(g_beta, refb, tol, tol)) << dtype_name(d);
    EXPECT_EQ(ran, 2u) << dtype_name(d) << ": bias epilogue GEMMs";
    std::printf("[addmm bias] %s (%d, %d) @ (%d, %d) + bias row: %zu of 3 addmm ran the Lt bias epilogue\n",
                dtype_name(d).c_str(), M, K, K, N, ran);
  }
}

// Timings of the new kernel families (printed for RESULTS.md; the results are checked above).
TEST_F(GpuConsistency, KernelTimings) {
  auto x = make_input({1024, 4096}, float32, -1, 1, 7, contiguous_l, false);
  auto xl = make_input({8, 1 << 17}, float32, -1, 1, 8, contiguous_l, false);
  std::vector<std::pair<std::string, std::function<array()>>> fns = {
      {"sort (1024, 4096) f32 [bitonic]", [&] { return sort(x, 1); }},
      {"argsort (8, 131072) f32 [cub]", [&] { return argsort(xl, 1); }},
      {"cumsum (1024, 4096) f32 axis 1", [&] { return cumsum(x, 1); }},
      {"cumsum (1024, 4096) f32 axis 0", [&] { return cumsum(x, 0); }},
      {"topk 64 (1024, 4096) f32", [&] { return topk(x, 64, 1); }},
      {"logsumexp (1024, 4096) f32", [&] { return logsumexp(x, 1); }},
      {"random bits 64 MiB", [&] { return random::bits({1 << 24}, 4, random::key(1)); }},
  };
  for (auto& [name, f] : fns) {
    eval(f());  // warm-up
    synchronize();
    auto t0 = std::chrono::steady_clock::now();
    const int reps = 5;
    for (int i = 0; i < reps; ++i) eval(f());
    synchronize();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
    std::printf("[gpu timing] %-36s %8.3f ms\n", name.c_str(), ms);
  }
  auto g = sort(xl, 1);
  auto c = sort(xl, 1, kCpu);
  EXPECT_EQ(compare(g, c, float32, Cmp::same, false), "");
}
