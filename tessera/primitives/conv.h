// Convolution primitive (channels-last, any number of spatial dims): CPU im2col + GEMM, GPU cuDNN.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera {

// out (N, *O, C_out) from input (N, *S, C_in) and weight (C_out, *K, C_in / groups).
class Convolution : public Primitive {
 public:
  Convolution(Stream s, std::vector<int> stride, std::vector<int> padding, std::vector<int> dilation, int groups)
      : Primitive(s), stride_(std::move(stride)), padding_(std::move(padding)), dilation_(std::move(dilation)),
        groups_(groups) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Convolution)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  std::vector<int> stride_, padding_, dilation_;
  int groups_;
};

}  // namespace tessera
