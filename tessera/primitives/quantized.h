// Quantization primitives: affine (MLX) quantize/dequantize/matmul and GGUF block matmul/dequantize.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/ops/quantized.h"
#include "tessera/primitive.h"

namespace tessera {

// w (rows, K) row-contiguous float -> {w_q (rows, K*bits/32) uint32, scales, biases (rows, K/gs)}.
class AffineQuantize : public Primitive {
 public:
  AffineQuantize(Stream s, int group_size, int bits) : Primitive(s), group_size_(group_size), bits_(bits) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(AffineQuantize)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  int group_size_, bits_;
};

// {w_q, scales, biases} -> w (..., K) in the output's dtype.
class AffineDequantize : public Primitive {
 public:
  AffineDequantize(Stream s, int group_size, int bits) : Primitive(s), group_size_(group_size), bits_(bits) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(AffineDequantize)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  int group_size_, bits_;
};

// {x (M, K), w_q (R, C'), scales, biases (R, G)} -> (M, N); x and scales/biases in the output dtype.
// Batched: every input (batch..., rows, cols) with equal ranks, batch dims of size 1 broadcast:
// out (batch..., M, N).
class QuantizedMatmul : public Primitive {
 public:
  QuantizedMatmul(Stream s, bool transpose, int group_size, int bits)
      : Primitive(s), transpose_(transpose), group_size_(group_size), bits_(bits) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(QuantizedMatmul)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  bool transpose_;
  int group_size_, bits_;
};

// {x (M, K) float32, w_blocks (N, K/block*bytes) uint8} -> (M, N) float32.
class GGUFMatmul : public Primitive {
 public:
  GGUFMatmul(Stream s, GGUFType type) : Primitive(s), type_(type) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(GGUFMatmul)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  GGUFType type_;
};

// {blocks (rows, K/block*bytes) uint8} -> (rows, K) float32.
class GGUFDequantize : public Primitive {
 public:
  GGUFDequantize(Stream s, GGUFType type) : Primitive(s), type_(type) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(GGUFDequantize)
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  GGUFType type_;
};

}  // namespace tessera
