// Sorting primitives: sort/argsort (stable) and partition/argpartition along one axis.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera {

// Sorted values along `axis` (NaNs last, stable).
class Sort : public Primitive {
 public:
  Sort(Stream s, int axis) : Primitive(s), axis_(axis) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Sort)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
};

// uint32 indices that stably sort the input along `axis`.
class ArgSort : public Primitive {
 public:
  ArgSort(Stream s, int axis) : Primitive(s), axis_(axis) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(ArgSort)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
};

// Values along `axis` rearranged so position kth holds the value a sort would put there, smaller or
// equal values before it and greater or equal after (kth already normalized to [0, n)).
class Partition : public Primitive {
 public:
  Partition(Stream s, int kth, int axis) : Primitive(s), kth_(kth), axis_(axis) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Partition)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  int kth_, axis_;
};

// uint32 indices of a partition (see Partition).
class ArgPartition : public Primitive {
 public:
  ArgPartition(Stream s, int kth, int axis) : Primitive(s), kth_(kth), axis_(axis) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(ArgPartition)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  int kth_, axis_;
};

}  // namespace tessera
