// eval_gpu of the elementwise ops of elementwise_extra.cu (inverse trig, rounding, predicates,
// logical/bitwise ops, shifts, floor division, remainder, logaddexp, arctan2); others use the CPU.
#include "tessera/backend/cuda/eval_utils.h"
#include "tessera/backend/cuda/kernels_elementwise_extra.h"
#include "tessera/primitives/elementwise.h"

namespace tessera {

using namespace cuda;

namespace {

void run_unary_extra(Primitive& p, int op, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& in = inputs[0];
  if (!unary_extra_supported(op, dt(in.dtype())) || in.ndim() > kMaxDims) return p.Primitive::eval_gpu(inputs, outputs);
  array x = contiguous_gpu(in, in.dtype());
  void* o = alloc_out(outputs[0]);
  unary_extra(op, dt(in.dtype()), x.device_data(), o, outputs[0].size(), current_stream());
}

void run_binary_extra(Primitive& p, int op, const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& a = inputs[0];
  auto& b = inputs[1];
  auto& out = outputs[0];
  Strided s;
  if (a.dtype() != b.dtype() || out.dtype() != a.dtype() || !binary_extra_supported(op, dt(a.dtype())) ||
      !make_strided(out.shape(), {&a.strides(), &b.strides()}, s)) {
    return p.Primitive::eval_gpu(inputs, outputs);
  }
  void* o = alloc_out(out);
  binary_extra(op, dt(a.dtype()), a.device_data(), b.device_data(), o, s, out.size(), current_stream());
}

}  // namespace

#define TESSERA_GPU_UNARY_EXTRA(NAME, OP)                                                  \
  void NAME::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {    \
    run_unary_extra(*this, OP, inputs, outputs);                                          \
  }
#define TESSERA_GPU_BINARY_EXTRA(NAME, OP)                                                 \
  void NAME::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {    \
    run_binary_extra(*this, OP, inputs, outputs);                                         \
  }

TESSERA_GPU_UNARY_EXTRA(ArcSin, ux_arcsin)
TESSERA_GPU_UNARY_EXTRA(ArcCos, ux_arccos)
TESSERA_GPU_UNARY_EXTRA(ArcSinh, ux_arcsinh)
TESSERA_GPU_UNARY_EXTRA(ArcCosh, ux_arccosh)
TESSERA_GPU_UNARY_EXTRA(ArcTanh, ux_arctanh)
TESSERA_GPU_UNARY_EXTRA(ErfInv, ux_erfinv)
TESSERA_GPU_UNARY_EXTRA(Round, ux_round)
TESSERA_GPU_UNARY_EXTRA(IsNan, ux_isnan)
TESSERA_GPU_UNARY_EXTRA(IsInf, ux_isinf)
TESSERA_GPU_UNARY_EXTRA(IsPosInf, ux_isposinf)
TESSERA_GPU_UNARY_EXTRA(IsNegInf, ux_isneginf)
TESSERA_GPU_UNARY_EXTRA(IsFinite, ux_isfinite)
TESSERA_GPU_UNARY_EXTRA(LogicalNot, ux_logical_not)
TESSERA_GPU_UNARY_EXTRA(BitwiseInvert, ux_bitwise_invert)

TESSERA_GPU_BINARY_EXTRA(FloorDivide, bx_floor_divide)
TESSERA_GPU_BINARY_EXTRA(Remainder, bx_remainder)
TESSERA_GPU_BINARY_EXTRA(LogAddExp, bx_logaddexp)
TESSERA_GPU_BINARY_EXTRA(ArcTan2, bx_arctan2)
TESSERA_GPU_BINARY_EXTRA(LogicalAnd, bx_logical_and)
TESSERA_GPU_BINARY_EXTRA(LogicalOr, bx_logical_or)
TESSERA_GPU_BINARY_EXTRA(BitwiseAnd, bx_bitwise_and)
TESSERA_GPU_BINARY_EXTRA(BitwiseOr, bx_bitwise_or)
TESSERA_GPU_BINARY_EXTRA(BitwiseXor, bx_bitwise_xor)
TESSERA_GPU_BINARY_EXTRA(LeftShift, bx_left_shift)
TESSERA_GPU_BINARY_EXTRA(RightShift, bx_right_shift)

}  // namespace tessera
