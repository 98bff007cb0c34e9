// vjp/jvp rules of the linear algebra primitives: matmul, addmm, norms, inverse, solve, cholesky.
#include "tessera/primitives/linalg.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using rules::scal;

using rules::mT;

std::vector<array> Matmul::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array& c = cotangents[0];
  std::vector<array> r;
  for (int a : argnums) r.push_back(a == 0 ? matmul(c, mT(primals[1])) : matmul(mT(primals[0]), c));
  return r;
}
std::vector<array> Matmul::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  std::optional<array> r;
  for (size_t j = 0; j < argnums.size(); ++j) {
    auto t = argnums[j] == 0 ? matmul(tangents[j], primals[1]) : matmul(primals[0], tangents[j]);
    r = r ? add(*r, t) : t;
  }
  return {*r};
}

// inputs {c, a, b}: out = alpha * a @ b + beta * c.
std::vector<array> AddMM::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>& argnums, const std::vector<array>&) {
  const array& c = cotangents[0];
  std::vector<array> r;
  for (int a : argnums) {
    if (a == 0) r.push_back(multiply(c, scal(beta_, c)));
    else if (a == 1) r.push_back(multiply(matmul(c, mT(primals[2])), scal(alpha_, c)));
    else r.push_back(multiply(matmul(mT(primals[1]), c), scal(alpha_, c)));
  }
  return r;
}
std::vector<array> AddMM::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>& argnums) {
  std::optional<array> r;
  for (size_t j = 0; j < argnums.size(); ++j) {
    const array& t = tangents[j];
    array d = argnums[j] == 0 ? multiply(t, scal(beta_, t))
              : argnums[j] == 1 ? multiply(matmul(t, primals[2]), scal(alpha_, t))
                                : multiply(matmul(primals[1], t), scal(alpha_, t));
    r = r ? add(*r, d) : d;
  }
  return {*r};
}

// Norms: rules are those of the same norm written with ops over the trailing axes.
namespace {
array norm_composite(const array& x, LinalgNorm::Kind kind, double p) {
  using K = LinalgNorm::Kind;
  switch (kind) {
    case K::vector_p:
      if (p == 2.0) return sqrt(sum(square(x), -1));
      return power(sum(power(abs(x), scal(p, x)), -1), scal(1.0 / p, x));
    case K::vector_inf: return max(abs(x), -1);
    case K::vector_neginf: return min(abs(x), -1);
    case K::vector_zero: return stop_gradient(sum(astype(not_equal(x, scal(0, x)), x.dtype()), -1));
    case K::fro: return sqrt(sum(square(x), std::vector<int>{-2, -1}));
    case K::mat_1: return max(sum(abs(x), -2), -1);
    case K::mat_neg1: return min(sum(abs(x), -2), -1);
    case K::mat_inf: return max(sum(abs(x), -1), -1);
    case K::mat_neginf: return min(sum(abs(x), -1), -1);
  }
  return x;
}
}  // namespace

std::vector<array> LinalgNorm::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  if (!rules::differentiable(primals[0])) return rules::zero_cotangents(primals, argnums);
  auto f = [this](const std::vector<array>& in) { return std::vector<array>{norm_composite(in[0], kind_, p_)}; };
  return rules::composite_vjp(f, primals, cotangents, argnums);
}
std::vector<array> LinalgNorm::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                   const std::vector<int>& argnums) {
  auto f = [this](const std::vector<array>& in) { return std::vector<array>{norm_composite(in[0], kind_, p_)}; };
  return rules::composite_jvp(f, primals, tangents, argnums);
}

std::vector<array> Inverse::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                const std::vector<int>&, const std::vector<array>& outputs) {
  auto yT = mT(outputs[0]);
  return {negative(matmul(matmul(yT, cotangents[0]), yT))};
}
std::vector<array> Inverse::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>&) {
  auto y = linalg::inv(primals[0]);
  return {negative(matmul(matmul(y, tangents[0]), y))};
}

// x = a^-1 b: db = a^-T c, da = -db x^T.
std::vector<array> Solve::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>& argnums, const std::vector<array>& outputs) {
  auto gb = linalg::solve(mT(primals[0]), cotangents[0]);
  std::vector<array> r;
  for (int a : argnums) r.push_back(a == 0 ? negative(matmul(gb, mT(outputs[0]))) : gb);
  return r;
}
std::vector<array> Solve::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>& argnums) {
  auto x = linalg::solve(primals[0], primals[1]);
  std::optional<array> rhs;
  for (size_t j = 0; j < argnums.size(); ++j) {
    auto t = argnums[j] == 0 ? negative(matmul(tangents[j], x)) : tangents[j];
    rhs = rhs ? add(*rhs, t) : t;
  }
  return {linalg::solve(primals[0], *rhs)};
}

// Cholesky A = L L^T. Phi keeps the lower triangle with the diagonal halved.
namespace {
array phi(const array& x) {
  int n = x.shape(-1);
  return subtract(tril(x), multiply(scal(0.5, x), multiply(x, eye(n, x.dtype()))));
}
}  // namespace

std::vector<array> Cholesky::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                 const std::vector<int>&, const std::vector<array>& outputs) {
  auto L = upper_ ? mT(outputs[0]) : outputs[0];
  auto cL = upper_ ? mT(cotangents[0]) : cotangents[0];
  auto Linv = linalg::inv(L);
  auto g = matmul(matmul(mT(Linv), phi(matmul(mT(L), cL))), Linv);
  return {multiply(scal(0.5, g), add(g, mT(g)))};
}
std::vector<array> Cholesky::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                 const std::vector<int>&) {
  auto L = linalg::cholesky(primals[0], false);
  auto Linv = linalg::inv(L);
  const array& t = tangents[0];
  auto ts = multiply(scal(0.5, t), add(t, mT(t)));
  auto dL = matmul(L, phi(matmul(matmul(Linv, ts), mT(Linv))));
  return {upper_ ? mT(dL) : dL};
}

}  // namespace tessera
