// Primitives of the random module: Threefry bits, bits -> distribution maps, categorical, permutation.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera::random {

// inputs: key (2,) uint32. Output: `width`-byte random words (uint8/uint16/uint32) of any shape,
// laid out exactly as MLX's RandomBits (same key -> same bits).
class RandomBits : public Primitive {
 public:
  RandomBits(Stream s, int width) : Primitive(s), width_(width) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(RandomBits)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  int width_;
};

// Maps uint32 random bits (output shape) to a distribution. Parameter inputs follow the bits,
// broadcast to the output shape (float64):
//   uniform(low, high), randint(low, high), truncated_normal(lower, upper), bernoulli(p),
//   normal() and gumbel() (none; normal uses loc_ / scale_).
class RandomMap : public Primitive {
 public:
  enum class Kind { uniform, normal, truncated_normal, gumbel, bernoulli, randint };
  RandomMap(Stream s, Kind kind, float loc = 0.0f, float scale = 1.0f)
      : Primitive(s), kind_(kind), loc_(loc), scale_(scale) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  const char* name() const override;
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  Kind kind_;
  float loc_, scale_;
};

// inputs: bits (full shape, uint32) and logits broadcast to the full shape (float32 or float64).
// Output: argmax over `axis` of logits + gumbel(bits), uint32, the full shape without `axis`.
class Categorical : public Primitive {
 public:
  Categorical(Stream s, int axis) : Primitive(s), axis_(axis) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Categorical)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
};

// inputs: bits (n,) uint32 and x with x.shape(axis) == n. Output: x reordered along `axis` by a
// stable sort of the bits.
class Permutation : public Primitive {
 public:
  Permutation(Stream s, int axis) : Primitive(s), axis_(axis) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Permutation)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
};

}  // namespace tessera::random
