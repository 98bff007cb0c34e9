// Bindings for tessera/ops/linalg.h: matmul family and einsum (tessera.core), tessera.core.linalg.
#include <cmath>

#include "utils.h"

using namespace tessera;
using txpy::to_array;

void init_linalg(nb::module_& m) {
  m.def("matmul",
        [](const ArrayLike& a, const ArrayLike& b, StreamOrDevice s) { return matmul(to_array(a), to_array(b), s); },
        "a"_a, "b"_a, TX_STREAM, "Matrix product with NumPy's rules (batch dims broadcast).");
  m.def("addmm",
        [](const ArrayLike& c, const ArrayLike& a, const ArrayLike& b, float alpha, float beta, StreamOrDevice s) {
          return addmm(to_array(c), to_array(a), to_array(b), alpha, beta, s);
        },
        "c"_a, "a"_a, "b"_a, "alpha"_a = 1.0f, "beta"_a = 1.0f, TX_STREAM, "alpha * (a @ b) + beta * c.");
  m.def("outer", [](const ArrayLike& a, const ArrayLike& b, StreamOrDevice s) { return outer(to_array(a), to_array(b), s); },
        "a"_a, "b"_a, TX_STREAM, "Outer product of the flattened inputs.");
  m.def("inner", [](const ArrayLike& a, const ArrayLike& b, StreamOrDevice s) { return inner(to_array(a), to_array(b), s); },
        "a"_a, "b"_a, TX_STREAM, "Sum over the last axes of a and b.");
  m.def("tensordot",
        [](const ArrayLike& a, const ArrayLike& b, nb::handle axes, StreamOrDevice s) {
          if (nb::isinstance<nb::int_>(axes)) return tensordot(to_array(a), to_array(b), nb::cast<int>(axes), s);
          auto pr = nb::cast<std::vector<nb::object>>(axes);
          if (pr.size() != 2) throw std::invalid_argument("[tensordot] axes must be an int or two lists.");
          auto side = [](nb::handle h) {
            if (nb::isinstance<nb::int_>(h)) return std::vector<int>{nb::cast<int>(h)};
            return nb::cast<std::vector<int>>(h);
          };
          return tensordot(to_array(a), to_array(b), side(pr[0]), side(pr[1]), s);
        },
        "a"_a, "b"_a, "axes"_a = 2, TX_STREAM,
        nb::sig("def tensordot(a: array, b: array, axes: int | list[list[int]] = 2, *, "
                "stream: Stream | Device | None = None) -> array"),
        "Contracts the last ``axes`` dims of a with the first of b, or the listed axes pairwise.");
  m.def("einsum",
        [](const std::string& subscripts, nb::args operands, StreamOrDevice s) {
          std::vector<array> xs;
          for (auto h : operands) xs.push_back(to_array(h));
          return einsum(subscripts, xs, s);
        },
        "subscripts"_a, "operands"_a, "stream"_a = nb::none(),
        nb::sig("def einsum(subscripts: str, *operands: array, stream: Stream | Device | None = None) -> array"),
        "Einstein summation, e.g. ``einsum('ij,jk->ik', a, b)``.");

  auto la = m.def_submodule("linalg", "Linear algebra (LAPACK on the CPU).");
  la.def("norm",
         [](const ArrayLike& a, nb::handle ord, OptAxes axis, bool keepdims, StreamOrDevice s) {
           array x = to_array(a);
           std::optional<std::vector<int>> ax;
           if (axis) ax = txpy::to_vec(*axis);
           if (ord.is_none()) return linalg::norm(x, ax, keepdims, s);
           if (nb::isinstance<nb::str>(ord)) return linalg::norm(x, nb::cast<std::string>(ord), ax, keepdims, s);
           return linalg::norm(x, nb::cast<double>(ord), ax, keepdims, s);
         },
         "a"_a, "ord"_a.none() = nb::none(), "axis"_a = nb::none(), "keepdims"_a = false, TX_STREAM,
         nb::sig("def norm(a: tessera.core.array, ord: int | float | str | None = None, axis: int | list[int] | None = None, "
                 "keepdims: bool = False, *, stream: tessera.core.Stream | tessera.core.Device | None = None) -> tessera.core.array"),
         "Vector or matrix norm (ord: p, inf, -inf, 0, 'fro', ...).");
  la.def("inv", [](const ArrayLike& a, StreamOrDevice s) { return linalg::inv(to_array(a), s); }, "a"_a, TX_STREAM,
         "Matrix inverse (batched).");
  la.def("solve",
         [](const ArrayLike& a, const ArrayLike& b, StreamOrDevice s) { return linalg::solve(to_array(a), to_array(b), s); },
         "a"_a, "b"_a, TX_STREAM, "x with a @ x = b.");
  la.def("cholesky",
         [](const ArrayLike& a, bool upper, StreamOrDevice s) { return linalg::cholesky(to_array(a), upper, s); }, "a"_a,
         "upper"_a = false, TX_STREAM, "Cholesky factor (lower by default).");
  la.def("qr", [](const ArrayLike& a, StreamOrDevice s) { return linalg::qr(to_array(a), s); }, "a"_a, TX_STREAM,
         "Reduced QR: (Q, R).");
  la.def("svd",
         [](const ArrayLike& a, bool compute_uv, StreamOrDevice s) -> nb::object {
           auto r = linalg::svd(to_array(a), compute_uv, s);
           if (!compute_uv) return nb::cast(r[0]);
           return nb::make_tuple(r[0], r[1], r[2]);
         },
         "a"_a, "compute_uv"_a = true, TX_STREAM,
         nb::sig("def svd(a: tessera.core.array, compute_uv: bool = True, *, stream: tessera.core.Stream | tessera.core.Device | None = None) "
                 "-> tuple[tessera.core.array, tessera.core.array, tessera.core.array] | tessera.core.array"),
         "(U, S, Vt) with a = U diag(S) Vt, or S alone without compute_uv.");
  la.def("eigh",
         [](const ArrayLike& a, const std::string& uplo, StreamOrDevice s) { return linalg::eigh(to_array(a), uplo, s); },
         "a"_a, "UPLO"_a = "L", TX_STREAM, "Eigenvalues (ascending) and eigenvectors of a symmetric matrix.");
  la.def("eigvalsh",
         [](const ArrayLike& a, const std::string& uplo, StreamOrDevice s) {
           return linalg::eigvalsh(to_array(a), uplo, s);
         },
         "a"_a, "UPLO"_a = "L", TX_STREAM, "Eigenvalues (ascending) of a symmetric matrix.");
}
