// Elementwise primitives: unary math, binary arithmetic/comparison, and ternary select.
#pragma once

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera {

// A parameterless elementwise primitive: all instances of one class are equivalent.
#define TESSERA_ELEMENTWISE_PRIMITIVE(NAME)                                                      \
  class NAME : public Primitive {                                                               \
   public:                                                                                      \
    explicit NAME(Stream s) : Primitive(s) {}                                                   \
    void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;     \
    TESSERA_GPU_EVAL                                                                            \
    TESSERA_NAME(NAME)                                                                          \
    TESSERA_GRAD_RULES                                                                          \
    TESSERA_VMAP_RULE                                                                           \
    bool is_equivalent(const Primitive&) const override { return true; }                       \
  };

// Unary (input already cast to the compute dtype; output dtype is the input's unless noted).
TESSERA_ELEMENTWISE_PRIMITIVE(Abs)  // complex64 -> float32
TESSERA_ELEMENTWISE_PRIMITIVE(Negative)
TESSERA_ELEMENTWISE_PRIMITIVE(Sign)
TESSERA_ELEMENTWISE_PRIMITIVE(Square)
TESSERA_ELEMENTWISE_PRIMITIVE(Exp)
TESSERA_ELEMENTWISE_PRIMITIVE(Expm1)
TESSERA_ELEMENTWISE_PRIMITIVE(Log)
TESSERA_ELEMENTWISE_PRIMITIVE(Log1p)
TESSERA_ELEMENTWISE_PRIMITIVE(Log2)
TESSERA_ELEMENTWISE_PRIMITIVE(Log10)
TESSERA_ELEMENTWISE_PRIMITIVE(Sqrt)
TESSERA_ELEMENTWISE_PRIMITIVE(Rsqrt)
TESSERA_ELEMENTWISE_PRIMITIVE(Reciprocal)
TESSERA_ELEMENTWISE_PRIMITIVE(Sin)
TESSERA_ELEMENTWISE_PRIMITIVE(Cos)
TESSERA_ELEMENTWISE_PRIMITIVE(Tan)
TESSERA_ELEMENTWISE_PRIMITIVE(ArcSin)
TESSERA_ELEMENTWISE_PRIMITIVE(ArcCos)
TESSERA_ELEMENTWISE_PRIMITIVE(ArcTan)
TESSERA_ELEMENTWISE_PRIMITIVE(Sinh)
TESSERA_ELEMENTWISE_PRIMITIVE(Cosh)
TESSERA_ELEMENTWISE_PRIMITIVE(Tanh)
TESSERA_ELEMENTWISE_PRIMITIVE(ArcSinh)
TESSERA_ELEMENTWISE_PRIMITIVE(ArcCosh)
TESSERA_ELEMENTWISE_PRIMITIVE(ArcTanh)
TESSERA_ELEMENTWISE_PRIMITIVE(Sigmoid)
TESSERA_ELEMENTWISE_PRIMITIVE(Erf)
TESSERA_ELEMENTWISE_PRIMITIVE(ErfInv)
TESSERA_ELEMENTWISE_PRIMITIVE(Floor)
TESSERA_ELEMENTWISE_PRIMITIVE(Ceil)
TESSERA_ELEMENTWISE_PRIMITIVE(Round)  // half to even, 0 decimals (the op scales for others)
TESSERA_ELEMENTWISE_PRIMITIVE(IsNan)     // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(IsInf)     // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(IsPosInf)  // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(IsNegInf)  // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(IsFinite)  // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(LogicalNot)  // bool -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(BitwiseInvert)
TESSERA_ELEMENTWISE_PRIMITIVE(Real)       // complex64 -> float32
TESSERA_ELEMENTWISE_PRIMITIVE(Imag)       // complex64 -> float32
TESSERA_ELEMENTWISE_PRIMITIVE(Conjugate)  // complex64 -> complex64

// Binary (inputs already broadcast to the output shape and promoted to a common dtype).
TESSERA_ELEMENTWISE_PRIMITIVE(Add)
TESSERA_ELEMENTWISE_PRIMITIVE(Subtract)
TESSERA_ELEMENTWISE_PRIMITIVE(Multiply)
TESSERA_ELEMENTWISE_PRIMITIVE(Divide)
TESSERA_ELEMENTWISE_PRIMITIVE(FloorDivide)
TESSERA_ELEMENTWISE_PRIMITIVE(Remainder)
TESSERA_ELEMENTWISE_PRIMITIVE(Power)
TESSERA_ELEMENTWISE_PRIMITIVE(Maximum)
TESSERA_ELEMENTWISE_PRIMITIVE(Minimum)
TESSERA_ELEMENTWISE_PRIMITIVE(LogAddExp)
TESSERA_ELEMENTWISE_PRIMITIVE(ArcTan2)
TESSERA_ELEMENTWISE_PRIMITIVE(Equal)         // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(NotEqual)      // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(Less)          // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(LessEqual)     // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(Greater)       // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(GreaterEqual)  // -> bool
TESSERA_ELEMENTWISE_PRIMITIVE(LogicalAnd)    // bool inputs
TESSERA_ELEMENTWISE_PRIMITIVE(LogicalOr)     // bool inputs
TESSERA_ELEMENTWISE_PRIMITIVE(BitwiseAnd)
TESSERA_ELEMENTWISE_PRIMITIVE(BitwiseOr)
TESSERA_ELEMENTWISE_PRIMITIVE(BitwiseXor)
TESSERA_ELEMENTWISE_PRIMITIVE(LeftShift)
TESSERA_ELEMENTWISE_PRIMITIVE(RightShift)

// Ternary: inputs (cond: bool, x, y) broadcast to the output shape; x and y share the out dtype.
TESSERA_ELEMENTWISE_PRIMITIVE(Select)

}  // namespace tessera
