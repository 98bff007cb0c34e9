// compile's replay: rebuild the lazy graph of a cached tape on new inputs (with shape inference in
// shapeless mode: elementwise nodes re-broadcast their operands, Broadcast nodes are deferred).
#include <optional>

#include "tessera/backend/common/utils.h"
#include "tessera/compile/compiled.h"
#include "tessera/compile/tape.h"
#include "tessera/ops.h"
#include "tessera/primitives/elementwise.h"
#include "tessera/primitives/shape.h"
#include "tessera/transforms/transform_primitives.h"

namespace tessera::detail {

namespace {

bool is_elementwise(const Primitive& p) {
  FusedOp op;
  if (fused_op_of(p, op)) return true;
#define TESSERA_EW(NAME) || dynamic_cast<const NAME*>(&p)
  return false TESSERA_EW(Compiled) TESSERA_EW(AsType) TESSERA_EW(Copy) TESSERA_EW(StopGradient)
      TESSERA_EW(Sign) TESSERA_EW(Expm1) TESSERA_EW(Log2) TESSERA_EW(Log10) TESSERA_EW(Tan) TESSERA_EW(ArcSin)
      TESSERA_EW(ArcCos) TESSERA_EW(ArcTan) TESSERA_EW(Sinh) TESSERA_EW(Cosh) TESSERA_EW(ArcSinh)
      TESSERA_EW(ArcCosh) TESSERA_EW(ArcTanh) TESSERA_EW(ErfInv) TESSERA_EW(Round) TESSERA_EW(IsNan)
      TESSERA_EW(IsInf) TESSERA_EW(IsPosInf) TESSERA_EW(IsNegInf) TESSERA_EW(IsFinite) TESSERA_EW(LogicalNot)
      TESSERA_EW(BitwiseInvert) TESSERA_EW(Real) TESSERA_EW(Imag) TESSERA_EW(Conjugate)
      TESSERA_EW(FloorDivide) TESSERA_EW(Remainder) TESSERA_EW(LogAddExp) TESSERA_EW(ArcTan2)
      TESSERA_EW(Equal) TESSERA_EW(NotEqual) TESSERA_EW(Less) TESSERA_EW(LessEqual) TESSERA_EW(Greater)
      TESSERA_EW(GreaterEqual) TESSERA_EW(LogicalAnd) TESSERA_EW(LogicalOr) TESSERA_EW(BitwiseAnd)
      TESSERA_EW(BitwiseOr) TESSERA_EW(BitwiseXor) TESSERA_EW(LeftShift) TESSERA_EW(RightShift) TESSERA_EW(Select);
#undef TESSERA_EW
}

std::vector<array> make_outputs(std::vector<Shape> shapes, const TapeNode& n, std::vector<array> ins) {
  if (n.outputs.size() == 1) return {array(std::move(shapes[0]), n.dtypes[0], n.prim, std::move(ins))};
  return array::make_arrays(std::move(shapes), n.dtypes, n.prim, ins);
}

}  // namespace

std::vector<array> replay_tape(const Tape& t, const std::vector<array>& inputs, bool shapeless) {
  std::vector<std::optional<array>> vals(t.num_values);
  std::vector<const Shape*> deferred(t.num_values, nullptr);  // a Broadcast not applied yet: its traced shape
  for (size_t i = 0; i < t.inputs.size(); ++i) vals[t.inputs[i]] = inputs[i];
  for (auto& [s, c] : t.constants) vals[s] = c;
  auto materialize = [&](int s) {
    if (deferred[s]) {
      vals[s] = broadcast_to(*vals[s], *deferred[s]);
      deferred[s] = nullptr;
    }
    return *vals[s];
  };
  for (auto& n : t.nodes) {
    if (!shapeless) {
      std::vector<array> ins;
      for (int in : n.inputs) ins.push_back(*vals[in]);
      auto outs = make_outputs(n.shapes, n, std::move(ins));
      for (size_t k = 0; k < outs.size(); ++k) vals[n.outputs[k]] = std::move(outs[k]);
      continue;
    }
    if (dynamic_cast<const Broadcast*>(n.prim.get())) {
      vals[n.outputs[0]] = *vals[n.inputs[0]];
      deferred[n.outputs[0]] = deferred[n.inputs[0]] ? deferred[n.inputs[0]] : &n.shapes[0];
      continue;
    }
    std::vector<array> ins;
    std::vector<Shape> shapes;
    if (is_elementwise(*n.prim)) {
      Shape target = vals[n.inputs[0]]->shape();
      for (int in : n.inputs) target = broadcast_shapes(target, vals[in]->shape(), "compile");
      for (int in : n.inputs) {
        ins.push_back(broadcast_to(*vals[in], target));
      }
      shapes.assign(n.outputs.size(), target);
    } else {
      for (int in : n.inputs) ins.push_back(materialize(in));
      shapes = n.prim->output_shapes(ins);
    }
    auto outs = make_outputs(std::move(shapes), n, std::move(ins));
    for (size_t k = 0; k < outs.size(); ++k) vals[n.outputs[k]] = std::move(outs[k]);
  }
  std::vector<array> outs;
  for (int o : t.outputs) outs.push_back(materialize(o));
  return outs;
}

}  // namespace tessera::detail
