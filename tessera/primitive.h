// The base class of graph nodes: one subclass per operation, with per-backend eval and transforms.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

class Primitive {
 public:
  explicit Primitive(Stream stream) : stream_(stream) {}
  virtual ~Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;

  const Stream& stream() const { return stream_; }
  Device device() const { return stream_.device; }

  // Compute outputs from evaluated inputs. Outputs arrive without data; the kernel gives them data.
  virtual void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;
  // The CUDA backend overrides this per primitive; the default runs eval_cpu (CPU fallback).
  virtual void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs);

  // Transforms, written with ops so they compose (grad of grad, vmap of grad).
  // vjp: cotangents of the inputs listed in argnums, given cotangents of the outputs.
  virtual std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums, const std::vector<array>& outputs);
  // jvp: tangents of the outputs given tangents of the inputs listed in argnums.
  virtual std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>& argnums);
  // vmap: outputs and their mapped axes, given inputs and their mapped axes (-1 = not mapped).
  virtual std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                              const std::vector<int>& axes);

  virtual const char* name() const = 0;
  virtual void print(std::ostream& os) const { os << name(); }
  // Same operation with the same parameters (for common-subexpression elimination in compile).
  virtual bool is_equivalent(const Primitive& other) const { return false; }
  // Output shapes from input shapes, for shapeless compile; throws when not supported.
  virtual std::vector<Shape> output_shapes(const std::vector<array>& inputs);

 private:
  Stream stream_;
};

// A primitive with one output whose eval writes nothing new (e.g. views) still implements eval_cpu.
// Helper to name a primitive: `TESSERA_NAME(Add)` defines name().
#define TESSERA_NAME(NAME) \
  const char* name() const override { return #NAME; }

// Declares a primitive's vjp and jvp overrides (rules live in tessera/transforms/grad_*.cpp).
#define TESSERA_GRAD_RULES                                                                               \
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,       \
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;  \
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,         \
                         const std::vector<int>& argnums) override;
// Declares a primitive's vmap override (rules live in tessera/transforms/vmap_*.cpp).
#define TESSERA_VMAP_RULE                                                                                \
  std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,               \
                                                       const std::vector<int>& axes) override;

}  // namespace tessera
