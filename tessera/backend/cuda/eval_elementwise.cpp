// eval_gpu of elementwise primitives: unary math, binary arithmetic/comparisons (broadcast by
// strides, host scalars passed by value), complex64 parts/arithmetic (kernels_complex.h) and select;
// other ops and dtypes use the CPU fallback.
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_complex.h"
#include "tessera/primitives/elementwise.h"

namespace tessera {

using namespace cuda;

namespace {

// complex64 input: the complex kernel `cop` (any strides), or the CPU when the op has none (-1).
void run_complex_unary(Primitive& p, int cop, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  Strided s;
  if (cop < 0 || !make_strided(out.shape(), {&inputs[0].strides()}, s)) return p.Primitive::eval_gpu(inputs, outputs);
  void* o = alloc_out(out);
  complex_unary(cop, inputs[0].device_data(), o, s, out.size(), current_stream());
}

void run_unary(Primitive& p, int op, const std::vector<array>& inputs, std::vector<array>& outputs, int cop = -1) {
  auto& out = outputs[0];
  if (inputs[0].dtype() == complex64) return run_complex_unary(p, cop, inputs, outputs);
  if (inputs[0].dtype() != out.dtype() || !unary_supported(op, dt(out.dtype())) || inputs[0].ndim() > kMaxDims) {
    return p.Primitive::eval_gpu(inputs, outputs);
  }
  // A column slice of a wider matrix (such as one half of a stacked gate/up product) is read in
  // place rather than copied first.
  Strided s;
  const auto& in = inputs[0];
  if (!in.flags().row_contiguous && make_strided(out.shape(), {&in.strides()}, s) && s.ndim == 2 &&
      s.strides[0][1] == 1 && s.strides[0][0] >= s.shape[1]) {
    void* o = alloc_out(out);
    unary_rows(op, dt(out.dtype()), in.device_data(), o, s.shape[1], s.strides[0][0], out.size(), current_stream());
    return;
  }
  array x = contiguous_gpu(in, out.dtype());
  void* o = alloc_out(out);
  unary(op, dt(out.dtype()), x.device_data(), o, out.size(), current_stream());
}

void run_binary(Primitive& p, int op, const std::vector<array>& inputs, std::vector<array>& outputs, int cop = -1) {
  auto& a = inputs[0];
  auto& b = inputs[1];
  auto& out = outputs[0];
  Strided s;
  if (a.dtype() == complex64 && b.dtype() == complex64 && cop >= 0) {
    if (!make_strided(out.shape(), {&a.strides(), &b.strides()}, s)) return p.Primitive::eval_gpu(inputs, outputs);
    void* o = alloc_out(out);
    complex_binary(cop, a.device_data(), b.device_data(), o, s, out.size(), current_stream());
    return;
  }
  if (a.dtype() != b.dtype() || !binary_supported(op, dt(a.dtype())) ||
      !make_strided(out.shape(), {&a.strides(), &b.strides()}, s)) {
    return p.Primitive::eval_gpu(inputs, outputs);
  }
  double av = 0, bv = 0;
  bool as = host_scalar(a, &av), bs = host_scalar(b, &bv);
  void* o = alloc_out(out);
  binary(op, dt(a.dtype()), as ? nullptr : a.device_data(), av, bs ? nullptr : b.device_data(), bv, o, s,
         out.size(), current_stream());
}

}  // namespace

#define TESSERA_GPU_UNARY(NAME, OP)                                                        \
  void NAME::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {    \
    run_unary(*this, OP, inputs, outputs);                                                \
  }
#define TESSERA_GPU_BINARY(NAME, OP)                                                       \
  void NAME::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {    \
    run_binary(*this, OP, inputs, outputs);                                               \
  }
// Ops with a complex64 kernel too (COP: ComplexUnaryOp / ComplexBinaryOp).
#define TESSERA_GPU_UNARY_C(NAME, OP, COP)                                                 \
  void NAME::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {    \
    run_unary(*this, OP, inputs, outputs, COP);                                           \
  }
#define TESSERA_GPU_BINARY_C(NAME, OP, COP)                                                \
  void NAME::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {    \
    run_binary(*this, OP, inputs, outputs, COP);                                          \
  }
// complex64 only (the CPU checks the dtype and throws otherwise).
#define TESSERA_GPU_COMPLEX(NAME, COP)                                                     \
  void NAME::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {    \
    if (inputs[0].dtype() != complex64) return Primitive::eval_gpu(inputs, outputs);      \
    run_complex_unary(*this, COP, inputs, outputs);                                       \
  }

TESSERA_GPU_UNARY_C(Abs, u_abs, cu_abs)
TESSERA_GPU_UNARY_C(Negative, u_neg, cu_neg)
TESSERA_GPU_UNARY(Sign, u_sign)
TESSERA_GPU_UNARY_C(Square, u_square, cu_square)
TESSERA_GPU_UNARY(Exp, u_exp)
TESSERA_GPU_UNARY(Expm1, u_expm1)
TESSERA_GPU_UNARY(Log, u_log)
TESSERA_GPU_UNARY(Log1p, u_log1p)
TESSERA_GPU_UNARY(Log2, u_log2)
TESSERA_GPU_UNARY(Log10, u_log10)
TESSERA_GPU_UNARY(Sqrt, u_sqrt)
TESSERA_GPU_UNARY(Rsqrt, u_rsqrt)
TESSERA_GPU_UNARY(Reciprocal, u_recip)
TESSERA_GPU_UNARY(Sin, u_sin)
TESSERA_GPU_UNARY(Cos, u_cos)
TESSERA_GPU_UNARY(Tan, u_tan)
TESSERA_GPU_UNARY(Tanh, u_tanh)
TESSERA_GPU_UNARY(Sigmoid, u_sigmoid)
TESSERA_GPU_UNARY(Erf, u_erf)
TESSERA_GPU_UNARY(Floor, u_floor)
TESSERA_GPU_UNARY(Ceil, u_ceil)
TESSERA_GPU_UNARY(Sinh, u_sinh)
TESSERA_GPU_UNARY(Cosh, u_cosh)
TESSERA_GPU_UNARY(ArcTan, u_arctan)
// The ops missing here run in eval_elementwise_extra.cpp.
TESSERA_GPU_COMPLEX(Real, cu_real)
TESSERA_GPU_COMPLEX(Imag, cu_imag)
TESSERA_GPU_COMPLEX(Conjugate, cu_conj)

TESSERA_GPU_BINARY_C(Add, b_add, cb_add)
TESSERA_GPU_BINARY_C(Subtract, b_sub, cb_sub)
TESSERA_GPU_BINARY_C(Multiply, b_mul, cb_mul)
TESSERA_GPU_BINARY_C(Divide, b_div, cb_div)
TESSERA_GPU_BINARY(Maximum, b_max)
TESSERA_GPU_BINARY(Minimum, b_min)
TESSERA_GPU_BINARY_C(Power, b_pow, cb_pow)
TESSERA_GPU_BINARY_C(Equal, b_eq, cb_eq)
TESSERA_GPU_BINARY_C(NotEqual, b_ne, cb_ne)
TESSERA_GPU_BINARY(Less, b_lt)
TESSERA_GPU_BINARY(LessEqual, b_le)
TESSERA_GPU_BINARY(Greater, b_gt)
TESSERA_GPU_BINARY(GreaterEqual, b_ge)

void Select::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& c = inputs[0];
  auto& x = inputs[1];
  auto& y = inputs[2];
  auto& out = outputs[0];
  Strided s;
  if (c.dtype() != bool_ || x.dtype() != out.dtype() || y.dtype() != out.dtype() ||
      !make_strided(out.shape(), {&c.strides(), &x.strides(), &y.strides()}, s)) {
    return Primitive::eval_gpu(inputs, outputs);
  }
  void* o = alloc_out(out);
  select(static_cast<const bool*>(c.device_data()), x.device_data(), y.device_data(), o,
         static_cast<int>(out.itemsize()), s, out.size(), current_stream());
}

}  // namespace tessera
