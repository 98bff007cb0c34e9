// Linear algebra ops: matmul family, tensor contractions (tensordot, einsum) and tessera::linalg.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {

// NumPy matmul: a (..., M, K) @ b (..., K, N) -> (..., M, N); 1-D operands are promoted and the
// added dim removed; batch dims broadcast. Floating (and complex64) types only.
array matmul(const array& a, const array& b, StreamOrDevice s = {});
// alpha * (a @ b) + beta * c, c broadcast to the result's shape.
array addmm(const array& c, const array& a, const array& b, float alpha = 1.0f, float beta = 1.0f,
            StreamOrDevice s = {});
// Outer product of the flattened inputs: (a.size(), b.size()).
array outer(const array& a, const array& b, StreamOrDevice s = {});
// Sum over the last axis of a and b (scalars multiply).
array inner(const array& a, const array& b, StreamOrDevice s = {});
// Contracts the last `axis` dims of a with the first `axis` dims of b.
array tensordot(const array& a, const array& b, int axis = 2, StreamOrDevice s = {});
// Contracts a's axes_a with b's axes_b (pairwise); result: a's free dims then b's free dims.
array tensordot(const array& a, const array& b, const std::vector<int>& axes_a, const std::vector<int>& axes_b,
                StreamOrDevice s = {});
array tensordot(const array& a, const array& b, const std::pair<std::vector<int>, std::vector<int>>& axes,
                StreamOrDevice s = {});
// Einstein summation, e.g. "ij,jk->ik", implicit output ("ij,jk"), "..." broadcasting. Repeated
// subscripts within one operand (diagonals) are not supported.
array einsum(const std::string& subscripts, const std::vector<array>& operands, StreamOrDevice s = {});

namespace linalg {

// Vector norms (one axis): ord p (any p > 0, 2 by default), inf, -inf, 0 (count of nonzeros).
// Matrix norms (two axes): ord 1, -1, inf, -inf; "fro" (string overload). Without axis the input
// must be 1-D or 2-D when ord is given; without ord the 2-norm of the flattened input.
array norm(const array& a, double ord, const std::optional<std::vector<int>>& axis = std::nullopt,
           bool keepdims = false, StreamOrDevice s = {});
array norm(const array& a, double ord, int axis, bool keepdims = false, StreamOrDevice s = {});
array norm(const array& a, const std::string& ord, const std::optional<std::vector<int>>& axis = std::nullopt,
           bool keepdims = false, StreamOrDevice s = {});
array norm(const array& a, const std::string& ord, int axis, bool keepdims = false, StreamOrDevice s = {});
array norm(const array& a, const std::optional<std::vector<int>>& axis = std::nullopt, bool keepdims = false,
           StreamOrDevice s = {});
array norm(const array& a, int axis, bool keepdims = false, StreamOrDevice s = {});

// The following take float32/float64 (..., n, n) (or (..., M, N)) arrays, batched over leading
// dims. Singular / non-positive-definite inputs throw at eval time.
array inv(const array& a, StreamOrDevice s = {});
// x with a @ x = b: b (n,) (vector) or (..., n, k), batch dims broadcast with a's.
array solve(const array& a, const array& b, StreamOrDevice s = {});
array cholesky(const array& a, bool upper = false, StreamOrDevice s = {});
// Reduced QR: Q (..., M, K), R (..., K, N), K = min(M, N).
std::pair<array, array> qr(const array& a, StreamOrDevice s = {});
// {U (..., M, M), S (..., K), Vt (..., N, N)} with a = U diag(S) Vt; {S} without compute_uv.
std::vector<array> svd(const array& a, bool compute_uv = true, StreamOrDevice s = {});
// Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix, reading the UPLO
// ("L" or "U") triangle.
std::pair<array, array> eigh(const array& a, const std::string& UPLO = "L", StreamOrDevice s = {});
array eigvalsh(const array& a, const std::string& UPLO = "L", StreamOrDevice s = {});

}  // namespace linalg
}  // namespace tessera
