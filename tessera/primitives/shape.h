// Primitives that change layout: views (reshape, broadcast, transpose, slice, as_strided) and copies.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera {

class AsType : public Primitive {
 public:
  AsType(Stream s, Dtype d) : Primitive(s), dtype_(d) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(AsType)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  Dtype dtype_;
};

// A row-contiguous copy (also `contiguous`).
class Copy : public Primitive {
 public:
  using Primitive::Primitive;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Copy)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive&) const override { return true; }
};

class Reshape : public Primitive {
 public:
  Reshape(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Reshape)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;
  // Strides for viewing `in` with `shape` without a copy, if possible (empty otherwise).
  static Strides view_strides(const array& in, const Shape& shape);

 private:
  Shape shape_;
};

class Broadcast : public Primitive {
 public:
  Broadcast(Stream s, Shape shape) : Primitive(s), shape_(std::move(shape)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(Broadcast)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  Shape shape_;
};

class Transpose : public Primitive {
 public:
  Transpose(Stream s, std::vector<int> axes) : Primitive(s), axes_(std::move(axes)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(Transpose)
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;  // shapeless compile
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  std::vector<int> axes_;
};

// Basic slicing with start/stop/step per axis (steps may be negative); a view.
class Slice : public Primitive {
 public:
  Slice(Stream s, Shape start, Shape stop, Shape strides)
      : Primitive(s), start_(std::move(start)), stop_(std::move(stop)), strides_(std::move(strides)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(Slice)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;
  const Shape& start() const { return start_; }
  const Shape& strides() const { return strides_; }

 private:
  Shape start_, stop_, strides_;
};

class AsStrided : public Primitive {
 public:
  AsStrided(Stream s, Shape shape, Strides strides, int64_t offset)
      : Primitive(s), shape_(std::move(shape)), strides_(std::move(strides)), offset_(offset) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(AsStrided)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE

 private:
  Shape shape_;
  Strides strides_;
  int64_t offset_;
};

}  // namespace tessera
