// vjp/jvp rules of the fused fast ops: the same computation written with ops (RMSNorm, LayerNorm,
// attention), or the inverse rotation (RoPE is linear in x).
#include <cmath>
#include <limits>

#include "tessera/primitives/fast.h"
#include "tessera/transforms/rules_common.h"

namespace tessera::fast {

using rules::scal;

namespace {
// Non-16-bit floats are computed in their own dtype, 16-bit ones in float32 (as the kernels do).
Dtype compute_dtype(Dtype d) { return d == float64 ? float64 : float32; }
}  // namespace

std::vector<array> RMSNorm::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  auto f = [this](const std::vector<array>& in) {
    auto x = astype(in[0], compute_dtype(in[0].dtype()));
    auto y = multiply(x, rsqrt(add(mean(square(x), -1, true), scal(eps_, x))));
    if (has_weight_) y = multiply(y, in[1]);
    return std::vector<array>{astype(y, in[0].dtype())};
  };
  return rules::composite_vjp(f, primals, cotangents, argnums);
}
std::vector<array> RMSNorm::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  auto f = [this](const std::vector<array>& in) {
    auto x = astype(in[0], compute_dtype(in[0].dtype()));
    auto y = multiply(x, rsqrt(add(mean(square(x), -1, true), scal(eps_, x))));
    if (has_weight_) y = multiply(y, in[1]);
    return std::vector<array>{astype(y, in[0].dtype())};
  };
  return rules::composite_jvp(f, primals, tangents, argnums);
}

namespace {
VecFn layer_norm_fn(float eps, bool has_weight, bool has_bias) {
  return [=](const std::vector<array>& in) {
    auto x = astype(in[0], compute_dtype(in[0].dtype()));
    auto c = subtract(x, mean(x, -1, true));
    auto y = multiply(c, rsqrt(add(mean(square(c), -1, true), scal(eps, x))));
    if (has_weight) y = multiply(y, in[1]);
    if (has_bias) y = add(y, in[has_weight ? 2 : 1]);
    return std::vector<array>{astype(y, in[0].dtype())};
  };
}
}  // namespace

std::vector<array> LayerNorm::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>&) {
  return rules::composite_vjp(layer_norm_fn(eps_, has_weight_, has_bias_), primals, cotangents, argnums);
}
std::vector<array> LayerNorm::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) {
  return rules::composite_jvp(layer_norm_fn(eps_, has_weight_, has_bias_), primals, tangents, argnums);
}

// RoPE rotates by theta; its transpose rotates by -theta (scale negated).
std::vector<array> RoPE::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> r;
  for (int a : argnums) {
    if (a == 0) {
      auto in = primals;
      in[0] = cotangents[0];
      r.push_back(array(cotangents[0].shape(), cotangents[0].dtype(),
                        std::make_shared<RoPE>(stream(), dims_, traditional_, base_, -scale_, has_freqs_), in));
    } else if (a == 2) {
      throw std::invalid_argument("[RoPE] vjp with respect to freqs is not implemented.");
    } else {
      r.push_back(zeros_like(primals[a]));
    }
  }
  return r;
}
std::vector<array> RoPE::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>& argnums) {
  for (size_t j = 0; j < argnums.size(); ++j) {
    if (argnums[j] == 2) throw std::invalid_argument("[RoPE] jvp with respect to freqs is not implemented.");
  }
  if (argnums[0] != 0) return {zeros_like(primals[0])};
  auto in = primals;
  in[0] = tangents[0];
  return {array(tangents[0].shape(), tangents[0].dtype(),
                std::make_shared<RoPE>(stream(), dims_, traditional_, base_, scale_, has_freqs_), in)};
}

namespace {
// softmax(q k^T * scale + mask) v with grouped-query heads, in float32 (float64 stays float64).
VecFn sdpa_fn(float scale, bool causal, bool has_mask) {
  return [=](const std::vector<array>& in) {
    Dtype out_t = promote_types(promote_types(in[0].dtype(), in[1].dtype()), in[2].dtype());
    Dtype ct = compute_dtype(out_t);
    auto q = astype(in[0], ct), k = astype(in[1], ct), v = astype(in[2], ct);
    int B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), D = q.shape(3);
    int Hkv = k.shape(1), Lk = k.shape(2), Dv = v.shape(3);
    int G = Hq / Hkv;
    auto qg = reshape(q, {B, Hkv, G, Lq, D});
    auto kg = expand_dims(k, 2);
    auto vg = expand_dims(v, 2);
    auto s = multiply(matmul(qg, swapaxes(kg, -1, -2)), array(scale, ct));  // (B, Hkv, G, Lq, Lk)
    s = reshape(s, {B, Hq, Lq, Lk});
    auto neg_inf = array(-std::numeric_limits<double>::infinity(), ct);
    if (causal) s = where(tri(Lq, Lk, Lk - Lq, bool_), s, neg_inf);
    if (has_mask) {
      auto& m = in[3];
      s = m.dtype() == bool_ ? where(m, s, neg_inf) : add(s, astype(m, ct));
    }
    auto p = reshape(softmax(s, -1, true), {B, Hkv, G, Lq, Lk});
    auto o = reshape(matmul(p, vg), {B, Hq, Lq, Dv});
    return std::vector<array>{astype(o, out_t)};
  };
}
}  // namespace

std::vector<array> ScaledDotProductAttention::vjp(const std::vector<array>& primals,
                                                  const std::vector<array>& cotangents,
                                                  const std::vector<int>& argnums, const std::vector<array>&) {
  return rules::composite_vjp(sdpa_fn(scale_, causal_, has_mask_), primals, cotangents, argnums);
}
std::vector<array> ScaledDotProductAttention::jvp(const std::vector<array>& primals,
                                                  const std::vector<array>& tangents,
                                                  const std::vector<int>& argnums) {
  return rules::composite_jvp(sdpa_fn(scale_, causal_, has_mask_), primals, tangents, argnums);
}

}  // namespace tessera::fast
