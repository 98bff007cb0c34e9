// vjp/jvp rules of the QR, SVD and symmetric eigen decompositions, written with ops (grad of grad works).
// Eigenvectors and singular vectors assume distinct eigen/singular values (the rules divide by their
// differences); eigh's rules act on the symmetric part of the input and return a symmetric gradient
// (as JAX and PyTorch do), although LAPACK reads only one triangle.
#include "tessera/primitives/linalg.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using rules::mT;

namespace {
// v (..., n) -> diag(v) (..., n, n).
array diag_embed(const array& v) { return multiply(expand_dims(v, -1), eye(v.shape(-1), v.dtype())); }
// x (..., n, n) -> its diagonal (..., n).
array diag_part(const array& x) { return diagonal(x, 0, -2, -1); }
// The first k entries of axis `axis` of x.
array leading(const array& x, int axis, int k) {
  Shape start(x.ndim(), 0), stop = x.shape();
  stop[axis < 0 ? axis + x.ndim() : axis] = k;
  return slice(x, start, stop);
}
array trailing(const array& x, int axis, int k) {
  Shape start(x.ndim(), 0), stop = x.shape();
  int ax = axis < 0 ? axis + x.ndim() : axis;
  start[ax] = k;
  return slice(x, start, stop);
}
array sym(const array& x) { return multiply(rules::scal(0.5, x), add(x, mT(x))); }
// F[i][j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it; w (..., n).
array inverse_gaps(const array& w) {
  auto d = subtract(expand_dims(w, -2), expand_dims(w, -1));
  auto id = eye(w.shape(-1), w.dtype());
  return subtract(reciprocal(add(d, id)), id);
}
// x (..., n, k) @ r^-1 for an invertible (upper triangular) r (..., k, k).
array right_solve(const array& x, const array& r) { return mT(linalg::solve(mT(r), mT(x))); }
// x @ r^-T.
array right_solve_t(const array& x, const array& r) { return mT(linalg::solve(r, mT(x))); }
array cotangent_or_zero(const std::vector<array>& c, size_t i, const array& like) {
  return i < c.size() ? c[i] : zeros_like(like);
}

// ---- QR: a (M, N) = q r. Square/tall (M >= N) rules on q (M, N), r (N, N).
// jvp: C = q^T da r^-1, W = triu(C) + tril(C, -1)^T; dr = W r, dq = da r^-1 - q W.
std::pair<array, array> qr_jvp_tall(const array& q, const array& r, const array& da) {
  auto dar = right_solve(da, r);
  auto c = matmul(mT(q), dar);
  auto w = add(triu(c), mT(tril(c, -1)));
  return {subtract(dar, matmul(q, w)), matmul(w, r)};
}
// vjp (the transpose of the above): G = r̄ r^T - q^T q̄, H = triu(G) + tril(G^T, -1), ā = (q̄ + q H) r^-T.
array qr_vjp_tall(const array& q, const array& r, const array& cq, const array& cr) {
  auto g = subtract(matmul(cr, mT(r)), matmul(mT(q), cq));
  auto h = add(triu(g), tril(mT(g), -1));
  return right_solve_t(add(cq, matmul(q, h)), r);
}
}  // namespace

// Wide (M < N): a = [x y], r = [u v] with x = q u (square) and y = q v, so v = q^T y.
std::vector<array> QRF::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                            const std::vector<int>&, const std::vector<array>& outputs) {
  const array& a = primals[0];
  const array &q = outputs[0], &r = outputs[1];
  int m = a.shape(-2), n = a.shape(-1);
  if (m >= n) return {qr_vjp_tall(q, r, cotangents[0], cotangents[1])};
  auto u = leading(r, -1, m), v = trailing(r, -1, m), y = trailing(a, -1, m);
  auto cu = leading(cotangents[1], -1, m), cv = trailing(cotangents[1], -1, m);
  auto cq = add(cotangents[0], matmul(y, mT(cv)));
  return {concatenate({qr_vjp_tall(q, u, cq, cu), matmul(q, cv)}, -1)};
}
std::vector<array> QRF::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                            const std::vector<int>&) {
  const array& a = primals[0];
  auto& outs = rules::current_outputs(name());
  const array &q = outs[0], &r = outs[1];
  int m = a.shape(-2), n = a.shape(-1);
  if (m >= n) {
    auto [dq, dr] = qr_jvp_tall(q, r, tangents[0]);
    return {dq, dr};
  }
  auto u = leading(r, -1, m), y = trailing(a, -1, m);
  auto [dq, du] = qr_jvp_tall(q, u, leading(tangents[0], -1, m));
  auto dv = add(matmul(mT(dq), y), matmul(mT(q), trailing(tangents[0], -1, m)));
  return {dq, concatenate({du, dv}, -1)};
}

// ---- SVD: a = U diag(s) Vt. Singular values alone: ā = U_k diag(s̄) Vt_k, ds = diag(U_k^T da V_k).
// With vectors (square a only: a non-square a's full U or Vt is not unique), F[i][j] = 1/(s_j² - s_i²):
// dP = U^T da V, dU = U (F ∘ (dP S + S dP^T)), dV = V (F ∘ (S dP + dP^T S)), and the vjp is its transpose.
namespace {
void check_square_svd(const array& a) {
  if (a.shape(-1) != a.shape(-2)) {
    throw std::invalid_argument(
        "[SVD] vjp/jvp of U and Vt is implemented for square matrices only: a non-square matrix's full U or Vt "
        "is not unique (use compute_uv=false for the singular values).");
  }
}
}  // namespace

std::vector<array> SVD::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                            const std::vector<int>&, const std::vector<array>& outputs) {
  const array& a = primals[0];
  int k = std::min(a.shape(-1), a.shape(-2));
  if (!compute_uv_) {
    auto usv = linalg::svd(a, true);
    return {matmul(multiply(leading(usv[0], -1, k), expand_dims(cotangents[0], -2)), leading(usv[2], -2, k))};
  }
  check_square_svd(a);
  const array &u = outputs[0], &s = outputs[1], &vt = outputs[2];
  auto f = inverse_gaps(square(s));
  auto j = multiply(f, matmul(mT(u), cotangent_or_zero(cotangents, 0, u)));
  auto kk = multiply(f, matmul(vt, mT(cotangent_or_zero(cotangents, 2, vt))));
  auto row_s = expand_dims(s, -2), col_s = expand_dims(s, -1);
  auto pbar = add(diag_embed(cotangents[1]), add(multiply(add(j, mT(j)), row_s), multiply(col_s, add(kk, mT(kk)))));
  return {matmul(matmul(u, pbar), vt)};
}
std::vector<array> SVD::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                            const std::vector<int>&) {
  const array& a = primals[0];
  int k = std::min(a.shape(-1), a.shape(-2));
  if (!compute_uv_) {
    auto usv = linalg::svd(a, true);
    auto dp = matmul(matmul(mT(leading(usv[0], -1, k)), tangents[0]), mT(leading(usv[2], -2, k)));
    return {diag_part(dp)};
  }
  check_square_svd(a);
  auto& outs = rules::current_outputs(name());
  const array &u = outs[0], &s = outs[1], &vt = outs[2];
  auto dp = matmul(matmul(mT(u), tangents[0]), mT(vt));
  auto f = inverse_gaps(square(s));
  auto row_s = expand_dims(s, -2), col_s = expand_dims(s, -1);
  auto dps = multiply(dp, row_s);   // dP S
  auto sdp = multiply(col_s, dp);   // S dP
  auto du = matmul(u, multiply(f, add(dps, mT(dps))));
  auto dv = matmul(mT(vt), multiply(f, add(sdp, mT(sdp))));
  return {du, diag_part(dp), mT(dv)};
}

// ---- Eigh: a = V diag(w) V^T. P = V^T sym(da) V: dw = diag(P), dV = V (F ∘ P) with F from w;
// ā = sym(V (diag(w̄) + F ∘ (V^T V̄)) V^T).
std::vector<array> Eigh::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>& outputs) {
  const array& w = outputs[0];
  auto v = vectors_ ? outputs[1] : linalg::eigh(primals[0], std::string(1, uplo_)).second;
  auto inner = diag_embed(cotangents[0]);
  if (vectors_) inner = add(inner, multiply(inverse_gaps(w), matmul(mT(v), cotangents[1])));
  return {sym(matmul(matmul(v, inner), mT(v)))};
}
std::vector<array> Eigh::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  auto& outs = rules::current_outputs(name());
  const array& w = outs[0];
  auto v = vectors_ ? outs[1] : linalg::eigh(primals[0], std::string(1, uplo_)).second;
  auto p = matmul(matmul(mT(v), sym(tangents[0])), v);
  if (!vectors_) return {diag_part(p)};
  return {diag_part(p), matmul(v, multiply(inverse_gaps(w), p))};
}

}  // namespace tessera
