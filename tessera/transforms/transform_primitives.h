// Primitives owned by the transforms: StopGradient, Depends and CustomTransforms (custom_function/checkpoint).
#pragma once

#include "tessera/primitive.h"
#include "tessera/transforms.h"

namespace tessera {

// The identity (a view of its input) with a zero gradient.
class StopGradient : public Primitive {
 public:
  using Primitive::Primitive;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(StopGradient)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive&) const override { return true; }
};

// inputs: n arrays, then arrays they wait for; outputs: the n arrays (sharing their buffers), which
// are computed only after the waited-for ones (the transforms treat it as the identity).
class Depends : public Primitive {
 public:
  Depends(Stream s, int n) : Primitive(s), n_(n) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(Depends)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE

 private:
  int n_;
};
// `inputs` that are evaluated only after `deps`.
std::vector<array> depends(const std::vector<array>& inputs, const std::vector<array>& deps);

// inputs: the primals, then fun's outputs (already computed lazily); outputs share those buffers.
class CustomTransforms : public Primitive {
 public:
  CustomTransforms(Stream s, int num_outputs, VecFn fun, std::optional<CustomVjpFn> vjp_fn,
                   std::optional<CustomJvpFn> jvp_fn, std::optional<CustomVmapFn> vmap_fn)
      : Primitive(s), num_outputs_(num_outputs), fun_(std::move(fun)), vjp_fn_(std::move(vjp_fn)),
        jvp_fn_(std::move(jvp_fn)), vmap_fn_(std::move(vmap_fn)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(CustomTransforms)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  int num_outputs() const { return num_outputs_; }

 private:
  int num_outputs_;
  VecFn fun_;
  std::optional<CustomVjpFn> vjp_fn_;
  std::optional<CustomJvpFn> jvp_fn_;
  std::optional<CustomVmapFn> vmap_fn_;
};

}  // namespace tessera
