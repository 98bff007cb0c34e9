// compile's replay: rebuild the lazy graph of a cached tape on new inputs (with shape inference in
// shapeless mode: elementwise nodes re-broadcast their operands, Broadcast nodes are deferred, matmul
// re-broadcasts its batch dims, reshapes that only add or remove size-1 axes follow the new shape, and
// other primitives infer their output shapes with Primitive::output_shapes).
#include <optional>

#include "tessera/backend/common/utils.h"
#include "tessera/compile/compiled.h"
#include "tessera/compile/tape.h"
#include "tessera/ops.h"
#include "tessera/primitives/elementwise.h"
#include "tessera/primitives/linalg.h"
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

// A Reshape traced from `from` to `to` that only adds or removes size-1 axes, replayed on `now` (the new
// input shape): out dim j takes now[src[j]] (src -1: a new size-1 axis); dropped axes must stay 1.
Shape unit_reshape(const Shape& from, const Shape& to, const Shape& now) {
  auto refuse = [&](const std::string& why) {
    return std::invalid_argument("[compile] Reshape from " + shape_str(from) + " to " + shape_str(to) +
                                 " cannot be shapeless: " + why +
                                 " (only reshapes that add or remove size-1 axes, e.g. keepdims=false reductions "
                                 "and expand_dims, follow new shapes). Compile without shapeless.");
  };
  if (now == from) return to;
  if (now.size() != from.size()) throw refuse("the input rank changed");
  Shape out;
  size_t i = 0;
  for (ShapeElem d : to) {
    if (d == 1) {
      if (i < from.size() && from[i] == 1) {
        out.push_back(now[i++]);
      } else {
        out.push_back(1);
      }
      continue;
    }
    while (i < from.size() && from[i] == 1) {
      if (now[i] != 1) throw refuse("a size-1 axis it removes is now " + std::to_string(now[i]));
      ++i;
    }
    if (i >= from.size() || from[i] != d) throw refuse("it does not only add or remove size-1 axes");
    out.push_back(now[i++]);
  }
  for (; i < from.size(); ++i) {
    if (from[i] != 1) throw refuse("it does not only add or remove size-1 axes");
    if (now[i] != 1) throw refuse("a size-1 axis it removes is now " + std::to_string(now[i]));
  }
  return out;
}

}  // namespace

std::vector<array> replay_tape(const Tape& t, const std::vector<array>& inputs, bool shapeless) {
  std::vector<std::optional<array>> vals(t.num_values);
  std::vector<const Shape*> deferred(t.num_values, nullptr);  // a Broadcast not applied yet: its traced shape
  for (size_t i = 0; i < t.inputs.size(); ++i) vals[t.inputs[i]] = inputs[i];
  for (auto& [s, c] : t.constants) vals[s] = c;
  std::vector<const Shape*> traced(t.num_values, nullptr);  // each slot's traced shape (shapeless reshapes)
  for (size_t i = 0; i < t.inputs.size() && i < t.input_shapes.size(); ++i) traced[t.inputs[i]] = &t.input_shapes[i];
  for (auto& [s, c] : t.constants) traced[s] = &c.shape();
  for (auto& n : t.nodes) {
    for (size_t k = 0; k < n.outputs.size(); ++k) traced[n.outputs[k]] = &n.shapes[k];
  }
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
    } else if (dynamic_cast<const Matmul*>(n.prim.get())) {
      // The op broadcast the batch dims to the traced ones: broadcast the new operands' batch dims.
      auto a = *vals[n.inputs[0]], b = *vals[n.inputs[1]];
      Shape batch = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                     Shape(b.shape().begin(), b.shape().end() - 2), "compile");
      for (auto* x : {&a, &b}) {
        Shape s = batch;
        s.insert(s.end(), x->shape().end() - 2, x->shape().end());
        ins.push_back(broadcast_to(*x, s));
      }
      shapes = n.prim->output_shapes(ins);
    } else if (dynamic_cast<const Reshape*>(n.prim.get())) {
      ins.push_back(materialize(n.inputs[0]));
      shapes = {unit_reshape(*traced[n.inputs[0]], n.shapes[0], ins[0].shape())};
    } else {
      bool same = true;  // inputs of their traced shapes: the traced output shapes hold
      for (int in : n.inputs) {
        ins.push_back(materialize(in));
        same = same && traced[in] && ins.back().shape() == *traced[in];
      }
      shapes = same ? n.shapes : n.prim->output_shapes(ins);
    }
    auto outs = make_outputs(std::move(shapes), n, std::move(ins));
    for (size_t k = 0; k < outs.size(); ++k) vals[n.outputs[k]] = std::move(outs[k]);
  }
  std::vector<array> outs;
  for (int o : t.outputs) outs.push_back(materialize(o));
  return outs;
}

}  // namespace tessera::detail
