// Elementwise primitives: unary math, binary arithmetic/comparison, and ternary select.
#pragma once

#include "tessera/primitive.h"

namespace tessera {

// A parameterless elementwise primitive: all instances of one class are equivalent.
#define TESSERA_ELEMENTWISE_PRIMITIVE(NAME)                                                      \
  class NAME : public Primitive {                                                               \
   public:                                                                                      \
    explicit NAME(Stream s) : Primitive(s) {}                                                   \
    void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;     \
    TESSERA_NAME(NAME)                                                                          \
    bool is_equivalent(const Primitive&) const override { return true; }                       \
  };

// Unary.
TESSERA_ELEMENTWISE_PRIMITIVE(Exp)
TESSERA_ELEMENTWISE_PRIMITIVE(Negative)

// Binary (inputs already broadcast to the output shape and promoted to a common dtype).
TESSERA_ELEMENTWISE_PRIMITIVE(Add)
TESSERA_ELEMENTWISE_PRIMITIVE(Subtract)
TESSERA_ELEMENTWISE_PRIMITIVE(Multiply)
TESSERA_ELEMENTWISE_PRIMITIVE(Divide)

}  // namespace tessera
