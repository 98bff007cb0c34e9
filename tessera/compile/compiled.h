// The Compiled primitive: a fused chain of elementwise ops; on the CPU (float32) evaluated block by
// block, on the GPU (float32/float16/bfloat16) generated as one CUDA kernel compiled by NVRTC.
#pragma once

#include <memory>
#include <vector>

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera::detail {

enum class FusedOp : uint8_t {
  // unary
  Abs, Negative, Square, Exp, Log, Log1p, Sqrt, Rsqrt, Reciprocal, Sin, Cos, Tanh, Sigmoid, Erf, Floor, Ceil,
  // binary
  Add, Subtract, Multiply, Divide, Maximum, Minimum, Power,
};
constexpr int kFirstBinary = static_cast<int>(FusedOp::Add);

// The fusable op of a primitive, or false.
bool fused_op_of(const Primitive& p, FusedOp& op);

// One instruction: operands index slots 0..num_inputs-1 (the inputs) and num_inputs+j (instruction j).
struct FusedInstr {
  FusedOp op;
  int a = 0, b = 0;
  std::shared_ptr<Primitive> prim;  // the original primitive (for transforms and printing)
};

class Compiled : public Primitive {
 public:
  Compiled(Stream s, int num_inputs, std::vector<FusedInstr> instrs)
      : Primitive(s), num_inputs_(num_inputs), instrs_(std::move(instrs)) {}
  // inputs: arrays of the output's dtype, all of the output's shape (broadcast views allowed).
  // CPU: float32 only; GPU: float32, float16, bfloat16 (computed in float).
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  // Transforms replay the original primitives and transform them.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override;
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                      const std::vector<int>& axes) override;
  TESSERA_NAME(Compiled)
  void print(std::ostream& os) const override;
  bool is_equivalent(const Primitive& other) const override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  size_t num_instructions() const { return instrs_.size(); }

 private:
  // The unfused graph of the chain on `inputs`.
  array expand(const std::vector<array>& inputs) const;
  int num_inputs_;
  std::vector<FusedInstr> instrs_;
};

}  // namespace tessera::detail
