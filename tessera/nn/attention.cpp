// nn::MultiHeadAttention on top of fast::scaled_dot_product_attention.
#include "tessera/nn/attention.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "tessera/fast.h"
#include "tessera/nn/functional.h"
#include "tessera/nn/linear.h"
#include "tessera/ops.h"

namespace tessera::nn {

MultiHeadAttention::MultiHeadAttention(int dims, int num_heads, std::optional<int> query_input_dims,
                                       std::optional<int> key_input_dims, std::optional<int> value_input_dims,
                                       std::optional<int> value_dims, std::optional<int> value_output_dims,
                                       bool bias)
    : num_heads_(num_heads) {
  if (num_heads <= 0 || dims % num_heads != 0) {
    throw std::invalid_argument(
        "[MultiHeadAttention] the input feature dimensions should be divisible by the number "
        "of heads (" +
        std::to_string(dims) + " % " + std::to_string(num_heads) + ") != 0");
  }
  int qi = query_input_dims.value_or(dims);
  int ki = key_input_dims.value_or(dims);
  int vi = value_input_dims.value_or(ki);
  int vd = value_dims.value_or(dims);
  int vo = value_output_dims.value_or(dims);
  if (vd % num_heads != 0)
    throw std::invalid_argument("[MultiHeadAttention] value_dims must divide by num_heads.");
  register_module("query_proj", std::make_shared<Linear>(qi, dims, bias));
  register_module("key_proj", std::make_shared<Linear>(ki, dims, bias));
  register_module("value_proj", std::make_shared<Linear>(vi, vd, bias));
  register_module("out_proj", std::make_shared<Linear>(vd, vo, bias));
}

array MultiHeadAttention::attend(const array& queries_in, const array& keys_in, const array& values_in,
                                 const std::string& mode, const std::optional<array>& mask) {
  if (queries_in.ndim() != 3 || keys_in.ndim() != 3 || values_in.ndim() != 3) {
    throw std::invalid_argument("[MultiHeadAttention] queries, keys and values must be (B, L, D).");
  }
  auto q = (*get_module("query_proj"))(queries_in);
  auto k = (*get_module("key_proj"))(keys_in);
  auto v = (*get_module("value_proj"))(values_in);
  return (*get_module("out_proj"))(functional::attention_heads(q, k, v, num_heads_, mask, mode));
}

array MultiHeadAttention::operator()(const array& queries, const array& keys, const array& values,
                                     const std::optional<array>& mask) {
  return attend(queries, keys, values, "", mask);
}
array MultiHeadAttention::operator()(const array& queries, const array& keys, const array& values,
                                     const std::string& mask_mode) {
  return attend(queries, keys, values, mask_mode, std::nullopt);
}

array MultiHeadAttention::create_additive_causal_mask(int N, Dtype dtype) {
  return functional::additive_causal_mask(N, dtype);
}

array functional::attention_heads(const array& queries, const array& keys, const array& values, int num_heads,
                                  const std::optional<array>& mask, const std::string& mask_mode) {
  if (queries.ndim() != 3 || keys.ndim() != 3 || values.ndim() != 3) {
    throw std::invalid_argument("[nn] attention: queries, keys and values must be (B, L, D).");
  }
  if (mask_mode != "causal" && !mask_mode.empty()) {
    throw std::invalid_argument("[nn] attention: mask_mode must be \"causal\" or \"\", got \"" + mask_mode +
                                "\".");
  }
  int B = queries.shape(0), L = queries.shape(1), S = keys.shape(1), H = num_heads;
  if (H <= 0 || queries.shape(2) % H != 0 || keys.shape(2) % H != 0 || values.shape(2) % H != 0 ||
      queries.shape(2) != keys.shape(2) || values.shape(1) != S) {
    throw std::invalid_argument("[nn] attention: queries " + shape_str(queries.shape()) + ", keys " +
                                shape_str(keys.shape()) + " and values " + shape_str(values.shape()) +
                                " do not split into " + std::to_string(num_heads) + " heads.");
  }
  auto q = transpose(reshape(queries, {B, L, H, -1}), {0, 2, 1, 3});
  auto k = transpose(reshape(keys, {B, S, H, -1}), {0, 2, 1, 3});
  auto v = transpose(reshape(values, {B, S, H, -1}), {0, 2, 1, 3});
  float scale = std::sqrt(1.0f / static_cast<float>(q.shape(-1)));
  auto o = fast::scaled_dot_product_attention(q, k, v, scale, mask_mode, mask);
  return reshape(transpose(o, {0, 2, 1, 3}), {B, L, -1});
}

array functional::multi_head_attention(const array& queries, const array& keys, const array& values,
                                       int num_heads, const AttentionWeights& w,
                                       const std::optional<array>& mask, const std::string& mask_mode) {
  auto o = attention_heads(linear(queries, w.query, w.query_bias), linear(keys, w.key, w.key_bias),
                           linear(values, w.value, w.value_bias), num_heads, mask, mask_mode);
  return linear(o, w.out, w.out_bias);
}

array functional::additive_causal_mask(int N, Dtype dtype) {
  if (N < 0) throw std::invalid_argument("[nn] additive_causal_mask: N must be non-negative.");
  if (!is_floating_point(dtype))
    throw std::invalid_argument("[nn] additive_causal_mask: dtype must be floating.");
  auto idx = arange(N);
  auto upper = less(expand_dims(idx, 1), expand_dims(idx, 0));
  double lowest = dtype == float64    ? std::numeric_limits<double>::lowest()
                  : dtype == float16  ? -65504.0
                  : dtype == bfloat16 ? -3.3895313892515355e38
                                      : static_cast<double>(std::numeric_limits<float>::lowest());
  return multiply(astype(upper, dtype), array(lowest, dtype));
}

}  // namespace tessera::nn
