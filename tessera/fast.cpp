// Fast ops: validate arguments, cast side inputs and build one fused node per op.
#include "tessera/fast.h"

#include <cmath>

#include "tessera/backend/common/utils.h"
#include "tessera/ops/shape.h"
#include "tessera/primitives/fast.h"

namespace tessera::fast {

namespace {

[[noreturn]] void fail(const char* op, const std::string& msg) {
  throw std::invalid_argument(std::string("[") + op + "] " + msg);
}

// Dtype in which side inputs (weights, biases, freqs) of a float op on `x` are handed to the kernel.
Dtype side_dtype(Dtype x) { return x == float64 ? float64 : float32; }

void check_float_input(const array& x, const char* op) {
  if (!is_floating_point(x.dtype())) {
    fail(op, "Received unsupported type " + dtype_name(x.dtype()) + "; expected a floating point array.");
  }
  if (x.ndim() == 0) fail(op, "Input must have at least 1 dimension but got a scalar.");
}

// Checks a per-feature vector (weight/bias) of size d and casts it for the kernel.
array feature_vector(const array& w, int d, Dtype xdtype, const char* op, const char* what, const Stream& st) {
  if (w.ndim() != 1) {
    fail(op, std::string(what) + " must have 1 dimension but has " + std::to_string(w.ndim()) + " dimensions.");
  }
  if (w.shape(0) != d) {
    fail(op, std::string(what) + " must have the same size as the last dimension of x (" + std::to_string(d) +
                 ") but has " + std::to_string(w.shape(0)) + " elements.");
  }
  if (is_complex(w.dtype())) fail(op, std::string(what) + " must be real, got " + dtype_name(w.dtype()) + ".");
  return astype(w, side_dtype(xdtype), st);
}

}  // namespace

array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s) {
  check_float_input(x, "rms_norm");
  auto st = to_stream(s);
  std::vector<array> inputs{x};
  if (weight) inputs.push_back(feature_vector(*weight, x.shape(-1), x.dtype(), "rms_norm", "weight", st));
  return array(x.shape(), x.dtype(), std::make_shared<RMSNorm>(st, eps, weight.has_value()), std::move(inputs));
}

array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias, float eps,
                 StreamOrDevice s) {
  check_float_input(x, "layer_norm");
  auto st = to_stream(s);
  std::vector<array> inputs{x};
  if (weight) inputs.push_back(feature_vector(*weight, x.shape(-1), x.dtype(), "layer_norm", "weight", st));
  if (bias) inputs.push_back(feature_vector(*bias, x.shape(-1), x.dtype(), "layer_norm", "bias", st));
  return array(x.shape(), x.dtype(), std::make_shared<LayerNorm>(st, eps, weight.has_value(), bias.has_value()),
               std::move(inputs));
}

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, const array& offset,
           const std::optional<array>& freqs, StreamOrDevice s) {
  if (!is_floating_point(x.dtype())) {
    fail("rope", "Input must be a floating point array but has type " + dtype_name(x.dtype()) + ".");
  }
  if (x.ndim() < 2) fail("rope", "Input must have at least 2 dimensions (..., L, D) but has shape " + shape_str(x.shape()) + ".");
  int d = x.shape(-1);
  if (dims <= 0 || dims % 2 != 0 || dims > d) {
    fail("rope", "dims must be a positive even number no larger than the last dimension (" + std::to_string(d) +
                     ") but is " + std::to_string(dims) + ".");
  }
  if (base.has_value() == freqs.has_value()) fail("rope", "Exactly one of base or freqs must be given.");
  if (!is_integral(offset.dtype()) || offset.dtype() == bool_) {
    fail("rope", "offset must be an integer array but has type " + dtype_name(offset.dtype()) + ".");
  }
  if (offset.ndim() > 1 || (offset.ndim() == 1 && offset.size() != 1 && (x.ndim() < 3 || offset.shape(0) != x.shape(0)))) {
    fail("rope", "offset must be a scalar or a vector with one entry per batch element (x.shape(0) with x at least "
                 "3-D) but has shape " + shape_str(offset.shape()) + " for x of shape " + shape_str(x.shape()) + ".");
  }
  auto st = to_stream(s);
  std::vector<array> inputs{x, astype(offset, int32, st)};
  if (freqs) {
    if (freqs->ndim() != 1 || freqs->shape(0) != dims / 2) {
      fail("rope", "freqs must have shape (" + std::to_string(dims / 2) + ",) but has shape " + shape_str(freqs->shape()) + ".");
    }
    if (is_complex(freqs->dtype())) fail("rope", "freqs must be real.");
    inputs.push_back(astype(*freqs, float32, st));
  } else if (!(*base > 0.0f)) {
    fail("rope", "base must be positive but is " + std::to_string(*base) + ".");
  }
  return array(x.shape(), x.dtype(),
               std::make_shared<RoPE>(st, dims, traditional, base.value_or(0.0f), scale, freqs.has_value()),
               std::move(inputs));
}

array rope(const array& x, int dims, bool traditional, std::optional<float> base, float scale, int offset,
           const std::optional<array>& freqs, StreamOrDevice s) {
  return rope(x, dims, traditional, base, scale, array(offset, int32), freqs, s);
}

array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::string& mask_mode, const std::optional<array>& mask, StreamOrDevice s) {
  const char* op = "scaled_dot_product_attention";
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4) {
    fail(op, "queries, keys and values must be 4-D (B, H, L, D) but have shapes " + shape_str(q.shape()) + ", " +
                 shape_str(k.shape()) + " and " + shape_str(v.shape()) + ".");
  }
  Dtype out_dtype = promote_types(promote_types(q.dtype(), k.dtype()), v.dtype());
  if (!is_floating_point(out_dtype)) {
    fail(op, "queries, keys and values must be floating point but promote to " + dtype_name(out_dtype) + ".");
  }
  int B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), D = q.shape(3);
  int Hkv = k.shape(1), Lk = k.shape(2), Dv = v.shape(3);
  if (k.shape(0) != B || v.shape(0) != B) fail(op, "queries, keys and values must have the same batch size.");
  if (v.shape(1) != Hkv) fail(op, "keys and values must have the same number of heads.");
  if (v.shape(2) != Lk) fail(op, "keys and values must have the same sequence length.");
  if (k.shape(3) != D) {
    fail(op, "queries and keys must have the same feature size but have " + std::to_string(D) + " and " +
                 std::to_string(k.shape(3)) + ".");
  }
  if (Hkv == 0 || Hq % Hkv != 0) {
    fail(op, "the number of query heads (" + std::to_string(Hq) + ") must be a multiple of the number of key/value heads (" +
                 std::to_string(Hkv) + ").");
  }
  bool causal = false;
  if (mask_mode == "causal") {
    causal = true;
  } else if (!mask_mode.empty() && mask_mode != "array") {
    fail(op, "mask_mode must be \"\", \"array\" or \"causal\" but is \"" + mask_mode + "\".");
  }
  if (causal && mask) fail(op, "a mask array cannot be combined with mask_mode \"causal\".");
  if (mask_mode == "array" && !mask) fail(op, "mask_mode \"array\" needs a mask array.");
  auto st = to_stream(s);
  Shape score_shape{B, Hq, Lq, Lk};
  std::vector<array> inputs{q, k, v};
  if (mask) {
    if (is_complex(mask->dtype())) fail(op, "mask must be boolean or real.");
    if (mask->ndim() > 4 || broadcast_shapes(mask->shape(), score_shape, op) != score_shape) {
      fail(op, "mask of shape " + shape_str(mask->shape()) + " cannot be broadcast to the scores' shape " +
                   shape_str(score_shape) + ".");
    }
    auto m = mask->dtype() == bool_ ? *mask : astype(*mask, float32, st);
    inputs.push_back(broadcast_to(m, score_shape, st));
  }
  return array({B, Hq, Lq, Dv}, out_dtype,
               std::make_shared<ScaledDotProductAttention>(st, scale, causal, mask.has_value()), std::move(inputs));
}

array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale, const array& mask,
                                   StreamOrDevice s) {
  return scaled_dot_product_attention(q, k, v, scale, "", mask, s);
}

bool RMSNorm::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const RMSNorm&>(o);
  return eps_ == p.eps_ && has_weight_ == p.has_weight_;
}
bool LayerNorm::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const LayerNorm&>(o);
  return eps_ == p.eps_ && has_weight_ == p.has_weight_ && has_bias_ == p.has_bias_;
}
bool RoPE::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const RoPE&>(o);
  return dims_ == p.dims_ && traditional_ == p.traditional_ && base_ == p.base_ && scale_ == p.scale_ &&
         has_freqs_ == p.has_freqs_;
}
bool ScaledDotProductAttention::is_equivalent(const Primitive& o) const {
  auto& p = static_cast<const ScaledDotProductAttention&>(o);
  return scale_ == p.scale_ && causal_ == p.causal_ && has_mask_ == p.has_mask_;
}

}  // namespace tessera::fast
