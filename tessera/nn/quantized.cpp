// nn::QuantizedLinear, nn::QuantizedEmbedding and nn::quantize.
#include "tessera/nn/quantized.h"

#include <stdexcept>

#include "tessera/nn/functional.h"
#include "tessera/ops.h"
#include "tessera/ops/quantized.h"

namespace tessera::nn {

namespace {

void register_quantized(Module& m, const array& w, int group_size, int bits) {
  auto q = quantize(w, group_size, bits);
  m.register_array("weight", q[0]);
  m.register_array("scales", q[1]);
  m.register_array("biases", q[2]);
}

}  // namespace

QuantizedLinear::QuantizedLinear(int input_dims, int output_dims, bool bias, int group_size, int bits)
    : group_size_(group_size), bits_(bits) {
  Linear dense(input_dims, output_dims, false);
  register_quantized(*this, dense.get_array("weight"), group_size, bits);
  if (bias) register_array("bias", zeros({output_dims}));
  freeze();
}

std::shared_ptr<QuantizedLinear> QuantizedLinear::from_linear(const Linear& linear, int group_size,
                                                              int bits) {
  std::shared_ptr<QuantizedLinear> q(new QuantizedLinear());
  q->group_size_ = group_size;
  q->bits_ = bits;
  register_quantized(*q, linear.get_array("weight"), group_size, bits);
  if (linear.contains("bias")) q->register_array("bias", linear.get_array("bias"));
  q->freeze();
  return q;
}

array QuantizedLinear::operator()(const array& x) {
  std::optional<array> b;
  if (contains("bias")) b = get_array("bias");
  return functional::quantized_linear(x, get_array("weight"), get_array("scales"), get_array("biases"), b,
                                      group_size_, bits_);
}

array functional::quantized_linear(const array& x, const array& w_q, const array& scales, const array& biases,
                                   const std::optional<array>& bias, int group_size, int bits) {
  array y = quantized_matmul(x, w_q, scales, biases, true, group_size, bits);
  return bias ? add(y, *bias) : y;
}

QuantizedEmbedding::QuantizedEmbedding(int num_embeddings, int dims, int group_size, int bits)
    : group_size_(group_size), bits_(bits) {
  Embedding dense(num_embeddings, dims);
  register_quantized(*this, dense.get_array("weight"), group_size, bits);
  freeze();
}

std::shared_ptr<QuantizedEmbedding> QuantizedEmbedding::from_embedding(const Embedding& e, int group_size,
                                                                       int bits) {
  std::shared_ptr<QuantizedEmbedding> q(new QuantizedEmbedding());
  q->group_size_ = group_size;
  q->bits_ = bits;
  register_quantized(*q, e.get_array("weight"), group_size, bits);
  q->freeze();
  return q;
}

array QuantizedEmbedding::operator()(const array& x) {
  return functional::quantized_embedding(x, get_array("weight"), get_array("scales"), get_array("biases"),
                                         group_size_, bits_);
}

array QuantizedEmbedding::as_linear(const array& x) const {
  return functional::quantized_linear(x, get_array("weight"), get_array("scales"), get_array("biases"),
                                      std::nullopt, group_size_, bits_);
}

array functional::quantized_embedding(const array& indices, const array& w_q, const array& scales,
                                      const array& biases, int group_size, int bits) {
  if (is_inexact(indices.dtype()))
    throw std::invalid_argument("[nn] quantized_embedding: indices must be integers.");
  return dequantize(take(w_q, indices, 0), take(scales, indices, 0), take(biases, indices, 0), group_size,
                    bits);
}

void quantize(Module& model, int group_size, int bits, const QuantizePredicate& predicate) {
  auto choose = [&](const std::string& path, const Module& m) -> std::optional<std::pair<int, int>> {
    if (predicate) return predicate(path, m);
    if (m.get_array("weight").shape(-1) % group_size != 0) return std::nullopt;
    return std::pair{group_size, bits};
  };
  // Returns the replacement of child m at path, or nullptr to keep it.
  auto replace = [&](const std::string& path, const ModulePtr& m) -> ModulePtr {
    auto* lin = dynamic_cast<Linear*>(m.get());
    auto* emb = dynamic_cast<Embedding*>(m.get());
    if (!lin && !emb) return nullptr;
    auto gb = choose(path, *m);
    if (!gb) return nullptr;
    if (lin) return QuantizedLinear::from_linear(*lin, gb->first, gb->second);
    return QuantizedEmbedding::from_embedding(*emb, gb->first, gb->second);
  };
  // Walks the tree itself (replacing children while apply_to_modules holds raw pointers would dangle).
  std::function<void(const std::string&, Module&)> walk = [&](const std::string& prefix, Module& parent) {
    const std::string pre = prefix.empty() ? "" : prefix + ".";
    for (const auto& [name, entry] : std::vector(parent.entries())) {
      if (const auto* child = std::get_if<ModulePtr>(&entry)) {
        if (auto q = replace(pre + name, *child)) {
          parent.register_module(name, q);
        } else {
          walk(pre + name, **child);
        }
      } else if (const auto* list = std::get_if<std::vector<ModulePtr>>(&entry)) {
        std::vector<ModulePtr> out = *list;
        bool changed = false;
        for (size_t i = 0; i < out.size(); ++i) {
          const std::string path = pre + name + "." + std::to_string(i);
          if (auto q = replace(path, out[i])) {
            out[i] = q;
            changed = true;
          } else {
            walk(path, *out[i]);
          }
        }
        if (changed) parent.register_modules(name, out);
      }
    }
  };
  walk("", model);
}

}  // namespace tessera::nn
