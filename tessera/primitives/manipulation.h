// Primitives of array manipulation: concatenation, diagonal views and triangular masks.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera {

// Writes each input (all of the output dtype) into its slot along `axis` of a fresh output.
class Concatenate : public Primitive {
 public:
  Concatenate(Stream s, int axis) : Primitive(s), axis_(axis) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Concatenate)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;
  int axis() const { return axis_; }

 private:
  int axis_;
};

// A view of the diagonal `offset` of the plane (axis1, axis2), that plane moved to the last axis.
class Diagonal : public Primitive {
 public:
  Diagonal(Stream s, int offset, int axis1, int axis2) : Primitive(s), offset_(offset), axis1_(axis1), axis2_(axis2) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(Diagonal)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  int offset_, axis1_, axis2_;
};

// Zeroes the elements above (lower=true, tril) or below (triu) diagonal k of the last two axes.
class TriMask : public Primitive {
 public:
  TriMask(Stream s, int k, bool lower) : Primitive(s), k_(k), lower_(lower) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(TriMask)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  int k_;
  bool lower_;
};

}  // namespace tessera
