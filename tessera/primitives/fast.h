// Primitives of the fused fast ops: RMSNorm, LayerNorm, RoPE, ScaledDotProductAttention.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera::fast {

// inputs: x (..., D) and, when has_weight, weight (D,).
class RMSNorm : public Primitive {
 public:
  RMSNorm(Stream s, float eps, bool has_weight) : Primitive(s), eps_(eps), has_weight_(has_weight) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(RMSNorm)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  float eps_;
  bool has_weight_;
};

// inputs: x (..., D) and optionally weight (D,) then bias (D,), as flagged.
class LayerNorm : public Primitive {
 public:
  LayerNorm(Stream s, float eps, bool has_weight, bool has_bias)
      : Primitive(s), eps_(eps), has_weight_(has_weight), has_bias_(has_bias) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(LayerNorm)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  float eps_;
  bool has_weight_, has_bias_;
};

// inputs: x (..., L, D), offset (int32 scalar or (B,)), and freqs (dims/2,) when has_freqs.
class RoPE : public Primitive {
 public:
  RoPE(Stream s, int dims, bool traditional, float base, float scale, bool has_freqs)
      : Primitive(s), dims_(dims), traditional_(traditional), base_(base), scale_(scale), has_freqs_(has_freqs) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(RoPE)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  int dims_;
  bool traditional_;
  float base_, scale_;
  bool has_freqs_;
};

// inputs: q (B, Hq, Lq, D), k (B, Hkv, Lk, D), v (B, Hkv, Lk, Dv), and a mask broadcast to
// (B, Hq, Lq, Lk) (bool or float32) when has_mask.
class ScaledDotProductAttention : public Primitive {
 public:
  ScaledDotProductAttention(Stream s, float scale, bool causal, bool has_mask)
      : Primitive(s), scale_(scale), causal_(causal), has_mask_(has_mask) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(ScaledDotProductAttention)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  float scale_;
  bool causal_, has_mask_;
};

}  // namespace tessera::fast
