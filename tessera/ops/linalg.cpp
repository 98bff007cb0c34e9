// Linear algebra ops: validate, promote and build Matmul/AddMM/LAPACK nodes; contractions by reshapes.
#include "tessera/ops/linalg.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include "tessera/backend/common/utils.h"
#include "tessera/ops/creation.h"
#include "tessera/ops/elementwise.h"
#include "tessera/ops/shape.h"
#include "tessera/primitives/linalg.h"

namespace tessera {

namespace {

Dtype matmul_dtype(Dtype a, Dtype b, const char* op) {
  Dtype t = promote_types(a, b);
  if (!is_inexact(t)) {
    throw std::invalid_argument(std::string("[") + op + "] Only floating point types are supported but " +
                                dtype_name(a) + " and " + dtype_name(b) + " were provided which results in " +
                                dtype_name(t) + ", which is not a floating point type.");
  }
  return t;
}

// Promotes 1-D operands, checks the inner dims and broadcasts batch dims. Returns the operands
// ready for Matmul and the final shape (with promoted dims removed).
struct MatmulPlan {
  array a, b;
  Shape full_shape, final_shape;
};
MatmulPlan plan_matmul(array a, array b, Dtype t, const char* op, const Stream& st) {
  if (a.ndim() == 0 || b.ndim() == 0) {
    throw std::invalid_argument(std::string("[") + op +
                                "] Got 0 dimension input. Inputs must have at least one dimension.");
  }
  a = astype(a, t, st);
  b = astype(b, t, st);
  bool a1 = a.ndim() == 1, b1 = b.ndim() == 1;
  if (a1) a = reshape(a, {1, a.shape(0)}, st);
  if (b1) b = reshape(b, {b.shape(0), 1}, st);
  if (a.shape(-1) != b.shape(-2)) {
    throw std::invalid_argument(std::string("[") + op + "] Last dimension of first input with shape " +
                                shape_str(a.shape()) + " must match second to last dimension of second input with shape " +
                                shape_str(b.shape()) + ".");
  }
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, op);
  ShapeElem M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  Shape sa = batch, sb = batch, full = batch;
  sa.insert(sa.end(), {M, K});
  sb.insert(sb.end(), {K, N});
  full.insert(full.end(), {M, N});
  a = broadcast_to(a, sa, st);
  b = broadcast_to(b, sb, st);
  Shape fin = batch;
  if (!a1) fin.push_back(M);
  if (!b1) fin.push_back(N);
  return {a, b, full, fin};
}

}  // namespace

array matmul(const array& a, const array& b, StreamOrDevice s) {
  auto st = to_stream(s);
  if (a.ndim() == 0 || b.ndim() == 0) {
    throw std::invalid_argument("[matmul] Got 0 dimension input. Inputs must have at least one dimension.");
  }
  Dtype t = matmul_dtype(a.dtype(), b.dtype(), "matmul");
  auto p = plan_matmul(a, b, t, "matmul", st);
  array out(p.full_shape, t, std::make_shared<Matmul>(st), {p.a, p.b});
  return p.final_shape == p.full_shape ? out : reshape(out, p.final_shape, st);
}

array addmm(const array& c, const array& a, const array& b, float alpha, float beta, StreamOrDevice s) {
  auto st = to_stream(s);
  if (a.ndim() == 0 || b.ndim() == 0) {
    throw std::invalid_argument("[addmm] Got 0 dimension input. Inputs must have at least one dimension.");
  }
  Dtype t = matmul_dtype(promote_types(a.dtype(), b.dtype()), c.dtype(), "addmm");
  auto p = plan_matmul(a, b, t, "addmm", st);
  // c broadcasts against the final (NumPy) result shape.
  auto cfin = broadcast_shapes(c.shape(), p.final_shape, "addmm");
  if (cfin != p.final_shape) {
    throw std::invalid_argument("[addmm] Cannot broadcast c with shape " + shape_str(c.shape()) +
                                " to the matmul result shape " + shape_str(p.final_shape) + ".");
  }
  auto cc = reshape(broadcast_to(astype(c, t, st), p.final_shape, st), p.full_shape, st);
  array out(p.full_shape, t, std::make_shared<AddMM>(st, alpha, beta), {cc, p.a, p.b});
  return p.final_shape == p.full_shape ? out : reshape(out, p.final_shape, st);
}

array outer(const array& a, const array& b, StreamOrDevice s) {
  auto st = to_stream(s);
  return multiply(reshape(a, {-1, 1}, st), reshape(b, {1, -1}, st), st);
}

array inner(const array& a, const array& b, StreamOrDevice s) {
  if (a.ndim() == 0 || b.ndim() == 0) return multiply(a, b, s);
  if (a.shape(-1) != b.shape(-1)) {
    throw std::invalid_argument("[inner] Last dimension of inputs must match, got shapes " + shape_str(a.shape()) +
                                " and " + shape_str(b.shape()) + ".");
  }
  return tensordot(a, b, std::vector<int>{-1}, std::vector<int>{-1}, s);
}

array tensordot(const array& a, const array& b, int axis, StreamOrDevice s) {
  if (axis < 0) throw std::invalid_argument("[tensordot] axis must be non-negative, got " + std::to_string(axis) + ".");
  if (axis > a.ndim() || axis > b.ndim()) {
    throw std::invalid_argument("[tensordot] axis " + std::to_string(axis) + " exceeds the dimensions of the inputs " +
                                shape_str(a.shape()) + " and " + shape_str(b.shape()) + ".");
  }
  std::vector<int> xa, xb;
  for (int i = 0; i < axis; ++i) {
    xa.push_back(a.ndim() - axis + i);
    xb.push_back(i);
  }
  return tensordot(a, b, xa, xb, s);
}

array tensordot(const array& a, const array& b, const std::pair<std::vector<int>, std::vector<int>>& axes,
                StreamOrDevice s) {
  return tensordot(a, b, axes.first, axes.second, s);
}

array tensordot(const array& a, const array& b, const std::vector<int>& axes_a, const std::vector<int>& axes_b,
                StreamOrDevice s) {
  auto st = to_stream(s);
  if (axes_a.size() != axes_b.size()) {
    throw std::invalid_argument("[tensordot] axes_a and axes_b must have the same length.");
  }
  Dtype t = matmul_dtype(a.dtype(), b.dtype(), "tensordot");
  std::vector<bool> ca(a.ndim(), false), cb(b.ndim(), false);
  std::vector<int> na, nb;
  int64_t K = 1;
  for (size_t i = 0; i < axes_a.size(); ++i) {
    int x = normalize_axis(axes_a[i], a.ndim(), "tensordot");
    int y = normalize_axis(axes_b[i], b.ndim(), "tensordot");
    if (ca[x] || cb[y]) throw std::invalid_argument("[tensordot] Repeated axis.");
    ca[x] = cb[y] = true;
    if (a.shape(x) != b.shape(y)) {
      throw std::invalid_argument("[tensordot] Contracted dimensions must match, got " + std::to_string(a.shape(x)) +
                                  " and " + std::to_string(b.shape(y)) + ".");
    }
    na.push_back(x);
    nb.push_back(y);
    K *= a.shape(x);
  }
  std::vector<int> pa, pb;
  Shape out_shape;
  int64_t M = 1, N = 1;
  for (int i = 0; i < a.ndim(); ++i) {
    if (!ca[i]) {
      pa.push_back(i);
      out_shape.push_back(a.shape(i));
      M *= a.shape(i);
    }
  }
  pa.insert(pa.end(), na.begin(), na.end());
  pb = nb;
  for (int i = 0; i < b.ndim(); ++i) {
    if (!cb[i]) {
      pb.push_back(i);
      out_shape.push_back(b.shape(i));
      N *= b.shape(i);
    }
  }
  auto x = reshape(transpose(astype(a, t, st), pa, st), {static_cast<ShapeElem>(M), static_cast<ShapeElem>(K)}, st);
  auto y = reshape(transpose(astype(b, t, st), pb, st), {static_cast<ShapeElem>(K), static_cast<ShapeElem>(N)}, st);
  return reshape(matmul(x, y, st), out_shape, st);
}

// ---- einsum ----

namespace {

struct Term {
  array x;
  std::vector<int> labels;  // one per dim
};

// Sums out the labels of t not in keep (via a matmul with a ones vector).
Term sum_out(const Term& t, const std::set<int>& keep, const Stream& st) {
  std::vector<int> kept_axes, summed_axes, kept_labels;
  Shape kept_shape;
  int64_t P = 1, Q = 1;
  for (size_t i = 0; i < t.labels.size(); ++i) {
    if (keep.count(t.labels[i])) {
      kept_axes.push_back(static_cast<int>(i));
      kept_labels.push_back(t.labels[i]);
      kept_shape.push_back(t.x.shape(static_cast<int>(i)));
      P *= t.x.shape(static_cast<int>(i));
    } else {
      summed_axes.push_back(static_cast<int>(i));
      Q *= t.x.shape(static_cast<int>(i));
    }
  }
  if (summed_axes.empty()) return t;
  auto perm = kept_axes;
  perm.insert(perm.end(), summed_axes.begin(), summed_axes.end());
  auto x = reshape(transpose(t.x, perm, st), {static_cast<ShapeElem>(P), static_cast<ShapeElem>(Q)}, st);
  auto r = matmul(x, ones({static_cast<ShapeElem>(Q)}, x.dtype(), st), st);
  return {reshape(r, kept_shape, st), kept_labels};
}

// Contracts two terms, keeping the labels in `needed`.
Term contract(Term A, Term B, const std::set<int>& needed, const Stream& st) {
  std::set<int> la(A.labels.begin(), A.labels.end()), lb(B.labels.begin(), B.labels.end());
  std::set<int> keep_a = needed, keep_b = needed;
  keep_a.insert(lb.begin(), lb.end());
  keep_b.insert(la.begin(), la.end());
  A = sum_out(A, keep_a, st);
  B = sum_out(B, keep_b, st);
  std::map<int, ShapeElem> size;
  for (size_t i = 0; i < A.labels.size(); ++i) size[A.labels[i]] = A.x.shape(static_cast<int>(i));
  for (size_t i = 0; i < B.labels.size(); ++i) size[B.labels[i]] = B.x.shape(static_cast<int>(i));
  std::vector<int> batch, free_a, free_b, contr;
  for (int l : A.labels) {
    if (std::count(B.labels.begin(), B.labels.end(), l)) {
      (needed.count(l) ? batch : contr).push_back(l);
    } else {
      free_a.push_back(l);
    }
  }
  for (int l : B.labels) {
    if (!std::count(A.labels.begin(), A.labels.end(), l)) free_b.push_back(l);
  }
  auto axes_of = [](const Term& t, const std::vector<std::vector<int>*>& groups) {
    std::vector<int> perm;
    for (auto* g : groups) {
      for (int l : *g) perm.push_back(static_cast<int>(std::find(t.labels.begin(), t.labels.end(), l) - t.labels.begin()));
    }
    return perm;
  };
  auto prod = [&](const std::vector<int>& ls) {
    int64_t p = 1;
    for (int l : ls) p *= size[l];
    return static_cast<ShapeElem>(p);
  };
  auto x = reshape(transpose(A.x, axes_of(A, {&batch, &free_a, &contr}), st), {prod(batch), prod(free_a), prod(contr)}, st);
  auto y = reshape(transpose(B.x, axes_of(B, {&batch, &contr, &free_b}), st), {prod(batch), prod(contr), prod(free_b)}, st);
  auto r = matmul(x, y, st);
  std::vector<int> labels = batch;
  labels.insert(labels.end(), free_a.begin(), free_a.end());
  labels.insert(labels.end(), free_b.begin(), free_b.end());
  Shape shape;
  for (int l : labels) shape.push_back(size[l]);
  return {reshape(r, shape, st), labels};
}

// Parses one operand's subscripts into labels; ellipsis dims become labels -1, -2, ... (right-aligned).
std::vector<int> parse_subscripts(const std::string& sub, int ndim, bool is_output, int n_ellipsis,
                                  bool* has_ellipsis) {
  std::vector<int> labels;
  *has_ellipsis = false;
  int explicit_count = 0;
  for (size_t i = 0; i < sub.size(); ++i) {
    char c = sub[i];
    if (c == '.') {
      if (sub.compare(i, 3, "...") != 0 || *has_ellipsis) {
        throw std::invalid_argument("[einsum] Invalid ellipsis in subscripts '" + sub + "'.");
      }
      *has_ellipsis = true;
      labels.push_back(std::numeric_limits<int>::min());  // placeholder
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      labels.push_back(c);
      ++explicit_count;
    } else if (c != ' ') {
      throw std::invalid_argument(std::string("[einsum] Invalid character '") + c + "' in subscripts.");
    }
  }
  int ell = is_output ? n_ellipsis : ndim - explicit_count;
  if (!is_output) {
    if ((!*has_ellipsis && explicit_count != ndim) || (*has_ellipsis && ell < 0)) {
      throw std::invalid_argument("[einsum] Subscripts '" + sub + "' do not match an operand with " +
                                  std::to_string(ndim) + " dimensions.");
    }
  }
  std::vector<int> out;
  for (int l : labels) {
    if (l == std::numeric_limits<int>::min()) {
      for (int k = ell; k >= 1; --k) out.push_back(-k);  // -1 is the last ellipsis dim
    } else {
      out.push_back(l);
    }
  }
  return out;
}

}  // namespace

array einsum(const std::string& subscripts, const std::vector<array>& operands, StreamOrDevice s) {
  auto st = to_stream(s);
  if (operands.empty()) throw std::invalid_argument("[einsum] At least one operand is required.");
  std::string lhs = subscripts, rhs;
  auto arrow = subscripts.find("->");
  bool explicit_out = arrow != std::string::npos;
  if (explicit_out) {
    lhs = subscripts.substr(0, arrow);
    rhs = subscripts.substr(arrow + 2);
    if (rhs.find("->") != std::string::npos) throw std::invalid_argument("[einsum] Subscripts contain more than one '->'.");
  }
  std::vector<std::string> subs;
  size_t pos = 0;
  while (true) {
    auto c = lhs.find(',', pos);
    subs.push_back(lhs.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  if (subs.size() != operands.size()) {
    throw std::invalid_argument("[einsum] Subscripts name " + std::to_string(subs.size()) + " operands but " +
                                std::to_string(operands.size()) + " were given.");
  }
  Dtype t = operands[0].dtype();
  for (auto& o : operands) t = promote_types(t, o.dtype());
  t = matmul_dtype(t, t, "einsum");

  std::vector<Term> terms;
  int n_ell = 0;
  std::map<int, ShapeElem> size;
  std::map<int, int> count;
  for (size_t i = 0; i < operands.size(); ++i) {
    bool he;
    auto labels = parse_subscripts(subs[i], operands[i].ndim(), false, 0, &he);
    std::set<int> seen;
    for (size_t d = 0; d < labels.size(); ++d) {
      int l = labels[d];
      if (!seen.insert(l).second) {
        throw std::invalid_argument("[einsum] Repeated subscript '" + std::string(1, static_cast<char>(l)) +
                                    "' in one operand (diagonals) is not supported.");
      }
      ShapeElem n = operands[i].shape(static_cast<int>(d));
      auto it = size.find(l);
      if (it == size.end() || it->second == 1) {
        size[l] = n;
      } else if (n != 1 && n != it->second) {
        throw std::invalid_argument("[einsum] Size mismatch for subscript: " + std::to_string(it->second) + " vs " +
                                    std::to_string(n) + ".");
      }
      if (l < 0) n_ell = std::max(n_ell, -l);
      ++count[l];
    }
    terms.push_back({astype(operands[i], t, st), labels});
  }
  std::vector<int> out_labels;
  if (explicit_out) {
    bool he;
    out_labels = parse_subscripts(rhs, 0, true, n_ell, &he);
    std::set<int> seen;
    for (int l : out_labels) {
      if (!seen.insert(l).second) throw std::invalid_argument("[einsum] Repeated subscript in the output.");
      if (!size.count(l)) {
        throw std::invalid_argument("[einsum] Output subscript '" + std::string(1, static_cast<char>(l)) +
                                    "' does not appear in the inputs.");
      }
    }
  } else {
    for (int k = n_ell; k >= 1; --k) out_labels.push_back(-k);
    for (auto& [l, c] : count) {
      if (l > 0 && c == 1) out_labels.push_back(l);  // map is sorted: alphabetical
    }
  }
  // Broadcast size-1 dims to the common label sizes.
  for (auto& term : terms) {
    Shape shape;
    for (int l : term.labels) shape.push_back(size[l]);
    term.x = broadcast_to(term.x, shape, st);
  }
  std::set<int> out_set(out_labels.begin(), out_labels.end());
  Term acc = terms[0];
  for (size_t i = 1; i < terms.size(); ++i) {
    std::set<int> needed = out_set;
    for (size_t j = i + 1; j < terms.size(); ++j) needed.insert(terms[j].labels.begin(), terms[j].labels.end());
    acc = contract(acc, terms[i], needed, st);
  }
  acc = sum_out(acc, out_set, st);
  std::vector<int> perm;
  for (int l : out_labels) {
    perm.push_back(static_cast<int>(std::find(acc.labels.begin(), acc.labels.end(), l) - acc.labels.begin()));
  }
  return transpose(acc.x, perm, st);
}

// ---- linalg ----

namespace linalg {

namespace {

array build_norm(const array& a, LinalgNorm::Kind kind, double p, const std::vector<int>& axes, bool keepdims,
                 const Stream& st) {
  if (is_complex(a.dtype())) throw std::invalid_argument("[linalg::norm] complex inputs are not supported.");
  Dtype out_t = is_floating_point(a.dtype()) ? a.dtype() : float32;
  std::vector<bool> red(a.ndim(), false);
  std::vector<int> perm;
  Shape out_shape, keep_shape;
  for (int ax : axes) red[ax] = true;
  for (int i = 0; i < a.ndim(); ++i) {
    if (!red[i]) {
      perm.push_back(i);
      out_shape.push_back(a.shape(i));
    }
    keep_shape.push_back(red[i] ? 1 : a.shape(i));
  }
  perm.insert(perm.end(), axes.begin(), axes.end());
  auto x = transpose(a, perm, st);
  array out(out_shape, out_t, std::make_shared<LinalgNorm>(st, kind, p), {x});
  return keepdims ? reshape(out, keep_shape, st) : out;
}

std::vector<int> norm_axes(const array& a, const std::optional<std::vector<int>>& axis) {
  std::vector<int> axes;
  if (axis) {
    for (int ax : *axis) axes.push_back(normalize_axis(ax, a.ndim(), "linalg::norm"));
    if (axes.size() == 2 && axes[0] == axes[1]) throw std::invalid_argument("[linalg::norm] Repeated axis.");
    if (axes.empty() || axes.size() > 2) {
      throw std::invalid_argument("[linalg::norm] Received too many axes for norm (1 or 2 allowed).");
    }
  } else {
    if (a.ndim() != 1 && a.ndim() != 2) {
      throw std::invalid_argument("[linalg::norm] Input must be 1-D or 2-D when ord is given without axis.");
    }
    for (int i = 0; i < a.ndim(); ++i) axes.push_back(i);
  }
  return axes;
}

void check_float(const array& a, const char* op, int min_ndim = 2) {
  if (a.dtype() != float32 && a.dtype() != float64) {
    throw std::invalid_argument(std::string("[") + op + "] Arrays must have type float32 or float64, got " +
                                dtype_name(a.dtype()) + ".");
  }
  if (a.ndim() < min_ndim) {
    throw std::invalid_argument(std::string("[") + op + "] Arrays must have >= 2 dimensions, got shape " +
                                shape_str(a.shape()) + ".");
  }
}

void check_square(const array& a, const char* op) {
  check_float(a, op);
  if (a.shape(-1) != a.shape(-2)) {
    throw std::invalid_argument(std::string("[") + op + "] Expected square matrices, got shape " +
                                shape_str(a.shape()) + ".");
  }
}

}  // namespace

array norm(const array& a, double ord, const std::optional<std::vector<int>>& axis, bool keepdims, StreamOrDevice s) {
  auto st = to_stream(s);
  auto axes = norm_axes(a, axis);
  using K = LinalgNorm::Kind;
  double inf = std::numeric_limits<double>::infinity();
  if (axes.size() == 1) {
    K k = ord == inf ? K::vector_inf : ord == -inf ? K::vector_neginf : ord == 0 ? K::vector_zero : K::vector_p;
    if (k == K::vector_p && !(ord > 0)) {
      throw std::invalid_argument("[linalg::norm] Unsupported vector norm order " + std::to_string(ord) + ".");
    }
    return build_norm(a, k, ord, axes, keepdims, st);
  }
  K k;
  if (ord == 1) k = K::mat_1;
  else if (ord == -1) k = K::mat_neg1;
  else if (ord == inf) k = K::mat_inf;
  else if (ord == -inf) k = K::mat_neginf;
  else if (ord == 2 || ord == -2) throw std::invalid_argument("[linalg::norm] Singular value matrix norms (ord=+-2) are not implemented.");
  else throw std::invalid_argument("[linalg::norm] Invalid matrix norm order " + std::to_string(ord) + ".");
  return build_norm(a, k, ord, axes, keepdims, st);
}

array norm(const array& a, double ord, int axis, bool keepdims, StreamOrDevice s) {
  return norm(a, ord, std::vector<int>{axis}, keepdims, s);
}

array norm(const array& a, const std::string& ord, const std::optional<std::vector<int>>& axis, bool keepdims,
           StreamOrDevice s) {
  auto st = to_stream(s);
  auto axes = norm_axes(a, axis);
  if (axes.size() != 2) throw std::invalid_argument("[linalg::norm] Norm '" + ord + "' only supported for matrices.");
  if (ord == "fro") return build_norm(a, LinalgNorm::Kind::fro, 2, axes, keepdims, st);
  if (ord == "nuc") throw std::invalid_argument("[linalg::norm] Nuclear norm is not implemented.");
  throw std::invalid_argument("[linalg::norm] Invalid norm order '" + ord + "'.");
}

array norm(const array& a, const std::string& ord, int axis, bool keepdims, StreamOrDevice s) {
  return norm(a, ord, std::vector<int>{axis}, keepdims, s);
}

array norm(const array& a, const std::optional<std::vector<int>>& axis, bool keepdims, StreamOrDevice s) {
  auto st = to_stream(s);
  if (!axis) {
    // 2-norm of the flattened input (Frobenius for matrices).
    std::vector<int> all(a.ndim());
    std::iota(all.begin(), all.end(), 0);
    auto flat = reshape(a, {static_cast<ShapeElem>(a.size())}, st);
    auto r = build_norm(flat, LinalgNorm::Kind::vector_p, 2.0, {0}, false, st);
    return keepdims ? reshape(r, Shape(a.ndim(), 1), st) : r;
  }
  auto axes = norm_axes(a, axis);
  if (axes.size() == 1) return build_norm(a, LinalgNorm::Kind::vector_p, 2.0, axes, keepdims, st);
  return build_norm(a, LinalgNorm::Kind::fro, 2.0, axes, keepdims, st);
}

array norm(const array& a, int axis, bool keepdims, StreamOrDevice s) {
  return norm(a, std::vector<int>{axis}, keepdims, s);
}

array inv(const array& a, StreamOrDevice s) {
  check_square(a, "linalg::inv");
  return array(a.shape(), a.dtype(), std::make_shared<Inverse>(to_stream(s)), {a});
}

array solve(const array& a, const array& b, StreamOrDevice s) {
  auto st = to_stream(s);
  check_square(a, "linalg::solve");
  if (b.dtype() != a.dtype()) {
    throw std::invalid_argument("[linalg::solve] a and b must have the same dtype, got " + dtype_name(a.dtype()) +
                                " and " + dtype_name(b.dtype()) + ".");
  }
  ShapeElem n = a.shape(-1);
  Shape abatch(a.shape().begin(), a.shape().end() - 2);
  if (b.ndim() == 1) {
    if (b.shape(0) != n) {
      throw std::invalid_argument("[linalg::solve] b of shape " + shape_str(b.shape()) + " does not match a of shape " +
                                  shape_str(a.shape()) + ".");
    }
    Shape bs = abatch;
    bs.insert(bs.end(), {n, 1});
    auto bb = broadcast_to(reshape(b, {n, 1}, st), bs, st);
    array x(bs, a.dtype(), std::make_shared<Solve>(st), {a, bb});
    Shape xs = abatch;
    xs.push_back(n);
    return reshape(x, xs, st);
  }
  if (b.shape(-2) != n) {
    throw std::invalid_argument("[linalg::solve] b of shape " + shape_str(b.shape()) + " does not match a of shape " +
                                shape_str(a.shape()) + ".");
  }
  Shape bbatch(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(abatch, bbatch, "linalg::solve");
  Shape as = batch, bs = batch;
  as.insert(as.end(), {n, n});
  bs.insert(bs.end(), {n, b.shape(-1)});
  return array(bs, a.dtype(), std::make_shared<Solve>(st), {broadcast_to(a, as, st), broadcast_to(b, bs, st)});
}

array cholesky(const array& a, bool upper, StreamOrDevice s) {
  check_square(a, "linalg::cholesky");
  return array(a.shape(), a.dtype(), std::make_shared<Cholesky>(to_stream(s), upper), {a});
}

std::pair<array, array> qr(const array& a, StreamOrDevice s) {
  check_float(a, "linalg::qr");
  ShapeElem M = a.shape(-2), N = a.shape(-1), K = std::min(M, N);
  Shape q(a.shape().begin(), a.shape().end() - 2), r = q;
  q.insert(q.end(), {M, K});
  r.insert(r.end(), {K, N});
  auto outs = array::make_arrays({q, r}, {a.dtype(), a.dtype()}, std::make_shared<QRF>(to_stream(s)), {a});
  return {outs[0], outs[1]};
}

std::vector<array> svd(const array& a, bool compute_uv, StreamOrDevice s) {
  check_float(a, "linalg::svd");
  ShapeElem M = a.shape(-2), N = a.shape(-1), K = std::min(M, N);
  Shape batch(a.shape().begin(), a.shape().end() - 2), u = batch, sv = batch, vt = batch;
  u.insert(u.end(), {M, M});
  sv.push_back(K);
  vt.insert(vt.end(), {N, N});
  auto prim = std::make_shared<SVD>(to_stream(s), compute_uv);
  if (!compute_uv) return array::make_arrays({sv}, {a.dtype()}, prim, {a});
  return array::make_arrays({u, sv, vt}, {a.dtype(), a.dtype(), a.dtype()}, prim, {a});
}

namespace {
char check_uplo(const std::string& UPLO, const char* op) {
  if (UPLO != "L" && UPLO != "U") {
    throw std::invalid_argument(std::string("[") + op + "] UPLO must be 'L' or 'U', got '" + UPLO + "'.");
  }
  return UPLO[0];
}
}  // namespace

std::pair<array, array> eigh(const array& a, const std::string& UPLO, StreamOrDevice s) {
  check_square(a, "linalg::eigh");
  char u = check_uplo(UPLO, "linalg::eigh");
  Shape w(a.shape().begin(), a.shape().end() - 1);
  auto outs = array::make_arrays({w, a.shape()}, {a.dtype(), a.dtype()}, std::make_shared<Eigh>(to_stream(s), u, true), {a});
  return {outs[0], outs[1]};
}

array eigvalsh(const array& a, const std::string& UPLO, StreamOrDevice s) {
  check_square(a, "linalg::eigvalsh");
  char u = check_uplo(UPLO, "linalg::eigvalsh");
  Shape w(a.shape().begin(), a.shape().end() - 1);
  return array(w, a.dtype(), std::make_shared<Eigh>(to_stream(s), u, false), {a});
}

}  // namespace linalg
}  // namespace tessera
