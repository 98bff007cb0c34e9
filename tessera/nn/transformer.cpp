// nn::TransformerEncoderLayer / TransformerEncoder built from MultiHeadAttention, LayerNorm, Linear, Dropout.
#include "tessera/nn/transformer.h"

#include <stdexcept>
#include <variant>

#include "tessera/nn/activations.h"
#include "tessera/nn/attention.h"
#include "tessera/nn/dropout.h"
#include "tessera/nn/functional.h"
#include "tessera/nn/linear.h"
#include "tessera/nn/normalization.h"
#include "tessera/ops.h"

namespace tessera::nn {

TransformerEncoderLayer::TransformerEncoderLayer(int dims, int num_heads, std::optional<int> mlp_dims,
                                                 float dropout, Activation activation, bool norm_first)
    : activation_(activation ? std::move(activation) : Activation(relu)), norm_first_(norm_first) {
  int hidden = mlp_dims.value_or(4 * dims);
  if (dims < 1 || hidden < 1) throw std::invalid_argument("[TransformerEncoderLayer] dims must be positive.");
  register_module("attention", std::make_shared<MultiHeadAttention>(dims, num_heads));
  register_module("ln1", std::make_shared<LayerNorm>(dims));
  register_module("ln2", std::make_shared<LayerNorm>(dims));
  register_module("linear1", std::make_shared<Linear>(dims, hidden));
  register_module("linear2", std::make_shared<Linear>(hidden, dims));
  register_module("dropout1", std::make_shared<Dropout>(dropout));
  register_module("dropout2", std::make_shared<Dropout>(dropout));
}

array TransformerEncoderLayer::mlp(const array& x) {
  auto h = activation_((*get_module("linear1"))(x));
  return (*get_module("linear2"))((*get_module("dropout2"))(h));
}

array TransformerEncoderLayer::operator()(const array& x, const std::optional<array>& mask) {
  auto& attn = static_cast<MultiHeadAttention&>(*get_module("attention"));
  auto self_attention = [&](const array& y) { return attn(y, y, y, mask); };
  auto mlp_fn = [this](const array& y) { return mlp(y); };
  auto call = [this](const char* child) {
    return [m = get_module(child)](const array& y) { return (*m)(y); };
  };
  return functional::transformer_encoder_layer(x, self_attention, mlp_fn, call("ln1"), call("ln2"),
                                               call("dropout1"), norm_first_);
}

array functional::transformer_encoder_layer(const array& x, const LayerFn& attention, const LayerFn& mlp,
                                            const LayerFn& ln1, const LayerFn& ln2, const LayerFn& dropout,
                                            bool norm_first) {
  if (!attention || !mlp || !ln1 || !ln2 || !dropout) {
    throw std::invalid_argument("[nn] transformer_encoder_layer: every part must be given.");
  }
  if (norm_first) {
    auto h = add(x, dropout(attention(ln1(x))));
    return add(h, mlp(ln2(h)));
  }
  auto h = ln1(add(x, dropout(attention(x))));
  return ln2(add(h, mlp(h)));
}

TransformerEncoder::TransformerEncoder(int num_layers, int dims, int num_heads, std::optional<int> mlp_dims,
                                       float dropout, TransformerEncoderLayer::Activation activation,
                                       bool norm_first) {
  if (num_layers < 0) throw std::invalid_argument("[TransformerEncoder] num_layers must be non-negative.");
  std::vector<ModulePtr> layers;
  for (int i = 0; i < num_layers; ++i) {
    layers.push_back(std::make_shared<TransformerEncoderLayer>(dims, num_heads, mlp_dims, dropout, activation,
                                                               norm_first));
  }
  register_modules("layers", std::move(layers));
  register_module("ln", std::make_shared<LayerNorm>(dims));
}

array TransformerEncoder::operator()(const array& x, const std::optional<array>& mask) {
  array h = x;
  for (auto& [key, entry] : entries()) {
    if (key != "layers") continue;
    for (auto& m : std::get<std::vector<ModulePtr>>(entry))
      h = static_cast<TransformerEncoderLayer&>(*m)(h, mask);
  }
  return (*get_module("ln"))(h);
}

}  // namespace tessera::nn
