// Bindings for tessera/fast.h as tessera.core.fast: rms_norm, layer_norm, rope, attention.
#include "utils.h"

using namespace tessera;
using txpy::to_array;

namespace {

std::optional<array> opt_array(const std::optional<ArrayLike>& a) {
  if (!a) return std::nullopt;
  return to_array(*a);
}

}  // namespace

void init_fast(nb::module_& m) {
  auto f = m.def_submodule("fast", "Fused operations (MLX's mlx.core.fast).");
  f.def("rms_norm",
        [](const ArrayLike& x, std::optional<ArrayLike> w, float eps, StreamOrDevice s) {
          return fast::rms_norm(to_array(x), opt_array(w), eps, s);
        },
        "x"_a, "weight"_a.none(), "eps"_a, TX_STREAM, "x * rsqrt(mean(x^2, -1) + eps) * weight.");
  f.def("layer_norm",
        [](const ArrayLike& x, std::optional<ArrayLike> w, std::optional<ArrayLike> b, float eps, StreamOrDevice s) {
          return fast::layer_norm(to_array(x), opt_array(w), opt_array(b), eps, s);
        },
        "x"_a, "weight"_a.none(), "bias"_a.none(), "eps"_a, TX_STREAM,
        "Layer normalization over the last axis, then * weight + bias.");
  f.def("rope",
        [](const ArrayLike& a, int dims, bool traditional, std::optional<float> base, float scale, const ArrayLike& offset,
           std::optional<ArrayLike> freqs, StreamOrDevice s) {
          array x = to_array(a);
          if (txpy::is_python_scalar(offset.obj)) {
            return fast::rope(x, dims, traditional, base, scale, nb::cast<int>(offset.obj), opt_array(freqs), s);
          }
          return fast::rope(x, dims, traditional, base, scale, to_array(offset), opt_array(freqs), s);
        },
        "a"_a, "dims"_a, nb::kw_only(), "traditional"_a, "base"_a.none(), "scale"_a, "offset"_a,
        "freqs"_a = nb::none(), "stream"_a = nb::none(),
        "Rotary position embedding of the first ``dims`` features of a (..., L, D).");
  f.def("scaled_dot_product_attention",
        [](const ArrayLike& q, const ArrayLike& k, const ArrayLike& v, float scale, nb::handle mask, StreamOrDevice s) {
          array qq = to_array(q), kk = to_array(k), vv = to_array(v);
          if (mask.is_none()) return fast::scaled_dot_product_attention(qq, kk, vv, scale, "", std::nullopt, s);
          if (nb::isinstance<nb::str>(mask)) {
            return fast::scaled_dot_product_attention(qq, kk, vv, scale, nb::cast<std::string>(mask), std::nullopt, s);
          }
          return fast::scaled_dot_product_attention(qq, kk, vv, scale, to_array(mask), s);
        },
        "q"_a, "k"_a, "v"_a, nb::kw_only(), "scale"_a, "mask"_a.none() = nb::none(), "stream"_a = nb::none(),
        nb::sig("def scaled_dot_product_attention(q: tessera.core.array, k: tessera.core.array, v: tessera.core.array, *, scale: float, "
                "mask: str | tessera.core.array | None = None, stream: tessera.core.Stream | tessera.core.Device | None = None) -> tessera.core.array"),
        "softmax(q k^T * scale + mask) v; mask 'causal', a boolean keep-mask or an additive mask.");
}
