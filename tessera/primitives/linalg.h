// Linear algebra primitives: matmul family (BLAS) and LAPACK factorizations/solvers.
#pragma once

#include <string>

#include "tessera/backend/gpu_eval_decl.h"
#include "tessera/primitive.h"

namespace tessera {

// out (..., M, N) = a (..., M, K) @ b (..., K, N); batch dims already broadcast to out's.
class Matmul : public Primitive {
 public:
  explicit Matmul(Stream s) : Primitive(s) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(Matmul)
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;  // shapeless compile
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive&) const override { return true; }
};

// out = alpha * (a @ b) + beta * c; inputs {c, a, b}, c broadcast to out's shape.
class AddMM : public Primitive {
 public:
  AddMM(Stream s, float alpha, float beta) : Primitive(s), alpha_(alpha), beta_(beta) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_GPU_EVAL
  TESSERA_NAME(AddMM)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  float alpha_, beta_;
};

// Norm over the trailing 1 (vector) or 2 (matrix) axes of its input (the op moves them there).
class LinalgNorm : public Primitive {
 public:
  enum class Kind { vector_p, vector_inf, vector_neginf, vector_zero, fro, mat_1, mat_neg1, mat_inf, mat_neginf };
  LinalgNorm(Stream s, Kind kind, double p) : Primitive(s), kind_(kind), p_(p) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(LinalgNorm)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  Kind kind_;
  double p_;
};

// Inverse of (..., n, n).
class Inverse : public Primitive {
 public:
  explicit Inverse(Stream s) : Primitive(s) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(Inverse)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

// x with a x = b; inputs a (..., n, n), b (..., n, k) with equal batch dims.
class Solve : public Primitive {
 public:
  explicit Solve(Stream s) : Primitive(s) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(Solve)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive&) const override { return true; }
};

class Cholesky : public Primitive {
 public:
  Cholesky(Stream s, bool upper) : Primitive(s), upper_(upper) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(Cholesky)
  TESSERA_VMAP_RULE
  TESSERA_GRAD_RULES
  bool is_equivalent(const Primitive& o) const override;

 private:
  bool upper_;
};

// Reduced QR: outputs Q (..., M, K), R (..., K, N), K = min(M, N).
class QRF : public Primitive {
 public:
  explicit QRF(Stream s) : Primitive(s) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(QRF)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive&) const override { return true; }
};

// Full SVD: outputs U (..., M, M), S (..., K), Vt (..., N, N); or only S without compute_uv.
class SVD : public Primitive {
 public:
  SVD(Stream s, bool compute_uv) : Primitive(s), compute_uv_(compute_uv) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(SVD)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  bool compute_uv_;
};

// Symmetric eigendecomposition: outputs eigenvalues (..., n) ascending and, with vectors,
// eigenvectors (..., n, n) as columns.
class Eigh : public Primitive {
 public:
  Eigh(Stream s, char uplo, bool vectors) : Primitive(s), uplo_(uplo), vectors_(vectors) {}
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;
  TESSERA_NAME(Eigh)
  TESSERA_GRAD_RULES
  TESSERA_VMAP_RULE
  bool is_equivalent(const Primitive& o) const override;

 private:
  char uplo_;
  bool vectors_;
};

}  // namespace tessera
