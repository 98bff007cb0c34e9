// Reduction primitives: axis reductions, arg-reductions, scans, variance, logsumexp and softmax.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera {

// Reduces the input over `axes` (sorted, unique, and forming one consecutive block); the output has
// the input's shape with those axes set to 1 (keepdims). Sum/Prod/Mean of 16-bit floats accumulate in
// float; the output dtype is chosen by the op (e.g. int32 for sums of int8).
class Reduce : public Primitive {
 public:
  enum ReduceType { And, Or, Sum, Prod, Min, Max, Mean };
  Reduce(Stream s, ReduceType t, std::vector<int> axes) : Primitive(s), type_(t), axes_(std::move(axes)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Reduce)
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;  // shapeless compile
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;
  ReduceType type() const { return type_; }
  const std::vector<int>& axes() const { return axes_; }

 private:
  ReduceType type_;
  std::vector<int> axes_;
};

// Index (uint32) of the first max/min along `axis`; the output keeps `axis` with size 1.
class ArgReduce : public Primitive {
 public:
  enum ReduceType { ArgMin, ArgMax };
  ArgReduce(Stream s, ReduceType t, int axis) : Primitive(s), type_(t), axis_(axis) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(ArgReduce)
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;  // shapeless compile
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  ReduceType type_;
  int axis_;
};

// Cumulative sum/prod/max/min along `axis`, optionally from the end and/or exclusive.
class Scan : public Primitive {
 public:
  enum ReduceType { Sum, Prod, Max, Min };
  Scan(Stream s, ReduceType t, int axis, bool reverse, bool inclusive)
      : Primitive(s), type_(t), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Scan)
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;  // shapeless compile
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  ReduceType type_;
  int axis_;
  bool reverse_, inclusive_;
};

// Variance (or standard deviation) over the last axis with `ddof`; input already floating point.
// Output: input shape with the last axis set to 1.
class Variance : public Primitive {
 public:
  Variance(Stream s, int ddof, bool take_sqrt) : Primitive(s), ddof_(ddof), sqrt_(take_sqrt) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Variance)
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;  // shapeless compile
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  int ddof_;
  bool sqrt_;
};

// log(sum(exp(x))) over the last axis, stabilized by the row max; output keeps the axis as size 1.
class LogSumExp : public Primitive {
 public:
  using Primitive::Primitive;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(LogSumExp)
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;  // shapeless compile
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive&) const override { return true; }
};

// Fused softmax (or log-softmax) over the last axis: one pass for the max, one for exp and sum,
// one for the write; 16-bit floats are computed in float.
class Softmax : public Primitive {
 public:
  Softmax(Stream s, bool precise, bool log) : Primitive(s), precise_(precise), log_(log) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Softmax)
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;  // shapeless compile
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  bool precise_;
  bool log_;
};

}  // namespace tessera
