// Primitives of indexing: gather/scatter (MLX's model), along-axis variants, slice updates.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera {

// How scatter combines updates with the existing values.
enum class ScatterReduce : uint8_t { none, sum, prod, max, min };

// inputs: a, then one index array per axis in `axes` (all of the same shape I).
// out (I + slice_sizes)[i, j...] = a[j + (idx_k[i] at axes[k])], negative indices wrap.
class Gather : public Primitive {
 public:
  Gather(Stream s, std::vector<int> axes, Shape slice_sizes)
      : Primitive(s), axes_(std::move(axes)), slice_sizes_(std::move(slice_sizes)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Gather)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  std::vector<int> axes_;
  Shape slice_sizes_;
};

// inputs: a, one index array per axis (shape I), updates (I + one dim per axis of a).
// out = a with each update slice combined into a at the indexed positions.
class Scatter : public Primitive {
 public:
  Scatter(Stream s, std::vector<int> axes, ScatterReduce reduce)
      : Primitive(s), axes_(std::move(axes)), reduce_(reduce) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Scatter)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  std::vector<int> axes_;
  ScatterReduce reduce_;
};

// take_along_axis: inputs a, idx of the output shape (a broadcast to it except along axis).
class GatherAxis : public Primitive {
 public:
  GatherAxis(Stream s, int axis) : Primitive(s), axis_(axis) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(GatherAxis)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
};

// put_along_axis: inputs a, idx, values (idx and values of one shape); out shaped like a.
class ScatterAxis : public Primitive {
 public:
  ScatterAxis(Stream s, int axis, ScatterReduce reduce) : Primitive(s), axis_(axis), reduce_(reduce) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(ScatterAxis)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  int axis_;
  ScatterReduce reduce_;
};

// inputs: src, update (already of the slice's shape and src's dtype). start is normalized (in
// range), strides may be negative. Writes in place into src's buffer when it can be donated.
class SliceUpdate : public Primitive {
 public:
  SliceUpdate(Stream s, Shape start, Shape strides) : Primitive(s), start_(std::move(start)), strides_(std::move(strides)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(SliceUpdate)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  Shape start_, strides_;
};

// inputs: a, start (1-D integer array, one entry per axis). A view of slice_size starting at start
// along `axes` (whole dims elsewhere); start wraps negatives and is clamped so the slice fits.
class DynamicSlice : public Primitive {
 public:
  DynamicSlice(Stream s, std::vector<int> axes) : Primitive(s), axes_(std::move(axes)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(DynamicSlice)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  std::vector<int> axes_;
};

// inputs: src, update, start (as DynamicSlice). out = src with update written at start.
class DynamicSliceUpdate : public Primitive {
 public:
  DynamicSliceUpdate(Stream s, std::vector<int> axes) : Primitive(s), axes_(std::move(axes)) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(DynamicSliceUpdate)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  std::vector<int> axes_;
};

}  // namespace tessera
