// Primitives that create arrays: filled and ranged.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera {

// Broadcasts its scalar input into a fresh contiguous buffer of the output shape.
class Full : public Primitive {
 public:
  using Primitive::Primitive;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Full)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

class Arange : public Primitive {
 public:
  Arange(Stream s, double start, double stop, double step) : Primitive(s), start_(start), stop_(stop), step_(step) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Arange)
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  double start_, stop_, step_;
};

}  // namespace tessera
