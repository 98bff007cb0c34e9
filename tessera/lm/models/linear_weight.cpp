// LinearWeight: x W^T and row lookup for dense, MLX affine-quantized and GGUF block weights.
#include "tessera/lm/models/linear_weight.h"

#include <stdexcept>

#include "tessera/ops.h"
#include "tessera/scheduler.h"

namespace tessera::lm {

namespace {

bool is_gguf_block_type(int id) {
  for (GGUFType t : {GGUFType::Q4_0, GGUFType::Q4_1, GGUFType::Q8_0, GGUFType::Q4_K, GGUFType::Q5_K,
                     GGUFType::Q6_K}) {
    if (static_cast<int>(t) == id) return true;
  }
  return false;
}

const array& require(const WeightMap& w, const std::string& name, const std::string& area) {
  auto it = w.find(name);
  if (it == w.end()) throw std::invalid_argument("[" + area + "] missing weight " + name + ".");
  return it->second;
}

void check_shape(const array& a, const Shape& shape, const std::string& name, const std::string& area) {
  if (a.shape() != shape) {
    throw std::invalid_argument("[" + area + "] weight " + name + " has shape " + shape_str(a.shape()) +
                                ", expected " + shape_str(shape) + ".");
  }
}

}  // namespace

LinearWeight LinearWeight::dense(const array& w) {
  if (w.ndim() != 2) throw std::invalid_argument("[linear] a dense weight must be (out, in).");
  LinearWeight l;
  l.kind_ = Kind::Dense;
  l.out_ = w.shape(0);
  l.in_ = w.shape(1);
  l.w_ = w;
  array t = transpose(w);
  t.eval();
  l.w_t_ = t;
  return l;
}

LinearWeight LinearWeight::affine(const array& w_q, const array& scales, const array& biases, int group_size,
                                  int bits) {
  if (w_q.ndim() != 2 || w_q.dtype() != uint32 || scales.ndim() != 2 || scales.shape() != biases.shape() ||
      scales.shape(0) != w_q.shape(0)) {
    throw std::invalid_argument("[linear] an affine weight needs w_q (out, in * bits / 32) uint32 and scales, "
                                "biases (out, in / group_size).");
  }
  LinearWeight l;
  l.kind_ = Kind::Affine;
  l.out_ = w_q.shape(0);
  l.in_ = scales.shape(1) * group_size;
  if (static_cast<int64_t>(l.in_) * bits != static_cast<int64_t>(w_q.shape(1)) * 32) {
    throw std::invalid_argument("[linear] w_q " + shape_str(w_q.shape()) + " does not hold " +
                                std::to_string(bits) + "-bit values of " + std::to_string(l.in_) + " columns.");
  }
  l.w_ = w_q;
  l.scales_ = scales;
  l.biases_ = biases;
  l.group_size_ = group_size;
  l.bits_ = bits;
  return l;
}

LinearWeight LinearWeight::gguf(const array& blocks, GGUFType type, int in_features) {
  const int bs = gguf_block_size(type), bytes = gguf_block_bytes(type);
  if (blocks.ndim() != 2 || blocks.dtype() != uint8 || in_features <= 0 || in_features % bs != 0 ||
      blocks.shape(1) != in_features / bs * bytes) {
    throw std::invalid_argument("[linear] " + gguf_type_name(type) + " blocks " + shape_str(blocks.shape()) +
                                " do not hold rows of " + std::to_string(in_features) + " values.");
  }
  LinearWeight l;
  l.kind_ = Kind::GGUF;
  l.out_ = blocks.shape(0);
  l.in_ = in_features;
  l.w_ = blocks;
  l.gguf_type_ = type;
  return l;
}

std::optional<LinearWeight> LinearWeight::stacked(const std::vector<LinearWeight>& parts) {
  if (parts.empty()) return std::nullopt;
  const LinearWeight& f = parts[0];
  std::vector<array> w, scales, biases;
  for (const auto& p : parts) {
    if (p.empty() || p.kind_ != f.kind_ || p.in_ != f.in_ || p.w_->dtype() != f.w_->dtype() || p.bits_ != f.bits_ ||
        p.group_size_ != f.group_size_ || p.gguf_type_ != f.gguf_type_ ||
        (p.scales_ && (p.scales_->dtype() != f.scales_->dtype() || p.biases_->dtype() != f.biases_->dtype()))) {
      return std::nullopt;
    }
    w.push_back(*p.w_);
    if (p.scales_) {
      scales.push_back(*p.scales_);
      biases.push_back(*p.biases_);
    }
  }
  array cat = concatenate(w, 0);  // (sum of out, .)
  switch (f.kind_) {
    case Kind::Dense:
      eval(cat);
      return dense(cat);
    case Kind::Affine: {
      array s = concatenate(scales, 0), b = concatenate(biases, 0);
      eval({cat, s, b});
      return affine(cat, s, b, f.group_size_, f.bits_);
    }
    case Kind::GGUF:
      eval(cat);
      return gguf(cat, f.gguf_type_, f.in_);
  }
  return std::nullopt;
}

array LinearWeight::apply(const array& x) const {
  if (!w_) throw std::invalid_argument("[linear] the weight is empty.");
  switch (kind_) {
    case Kind::Dense:
      return matmul(x, *w_t_);
    case Kind::Affine:
      return quantized_matmul(x, *w_, *scales_, *biases_, true, group_size_, bits_);
    case Kind::GGUF:
      return gguf_quantized_matmul(x, *w_, gguf_type_, in_);
  }
  return x;
}

array LinearWeight::rows(const array& ids) const {
  if (!w_) throw std::invalid_argument("[linear] the weight is empty.");
  array i = astype(ids, int32);
  switch (kind_) {
    case Kind::Dense:
      return take(*w_, i, 0);
    case Kind::Affine:
      return dequantize(take(*w_, i, 0), take(*scales_, i, 0), take(*biases_, i, 0), group_size_, bits_);
    case Kind::GGUF: {
      Shape shape = ids.shape();
      shape.push_back(in_);
      return gguf_dequantize(take(*w_, i, 0), gguf_type_, shape);
    }
  }
  return ids;
}

array LinearWeight::to_dense() const {
  if (!w_) throw std::invalid_argument("[linear] the weight is empty.");
  switch (kind_) {
    case Kind::Dense:
      return *w_;
    case Kind::Affine:
      return dequantize(*w_, *scales_, *biases_, group_size_, bits_);
    case Kind::GGUF:
      return gguf_dequantize(*w_, gguf_type_, {out_, in_});
  }
  return *w_;
}

std::pair<int, int> affine_bits_and_group(const array& w_q, const array& scales, int in) {
  const int packed = w_q.shape(-1), groups = scales.shape(-1);
  if (in <= 0 || groups <= 0 || in % groups != 0 || (static_cast<int64_t>(packed) * 32) % in != 0) {
    throw std::invalid_argument("[quantize] weight " + shape_str(w_q.shape()) + " with scales " +
                                shape_str(scales.shape()) + " is not an affine quantization of " +
                                std::to_string(in) + " columns.");
  }
  const int bits = static_cast<int>(static_cast<int64_t>(packed) * 32 / in), group = in / groups;
  bool bits_ok = bits == 2 || bits == 3 || bits == 4 || bits == 5 || bits == 6 || bits == 8;
  bool group_ok = group == 32 || group == 64 || group == 128;
  if (!bits_ok || !group_ok) {
    throw std::invalid_argument("[quantize] weight " + shape_str(w_q.shape()) + " gives bits " +
                                std::to_string(bits) + " and group_size " + std::to_string(group) +
                                " (supported: bits 2, 3, 4, 5, 6, 8; group_size 32, 64, 128).");
  }
  return {bits, group};
}

bool is_quantized_weight(const WeightMap& w, const std::string& prefix) {
  return w.count(prefix + ".scales") || w.count(prefix + ".gguf_type");
}

LinearWeight linear_weight_from(const WeightMap& w, const std::string& prefix, int out, int in,
                                const std::string& area) {
  const std::string name = prefix + ".weight";
  const array& a = require(w, name, area);
  if (auto it = w.find(prefix + ".gguf_type"); it != w.end()) {
    int id = it->second.size() == 1 ? astype(it->second, int32).item<int32_t>() : -1;
    if (!is_gguf_block_type(id)) {
      throw std::invalid_argument("[" + area + "] " + prefix + ".gguf_type " + std::to_string(id) +
                                  " is not a supported block type (Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K).");
    }
    auto type = static_cast<GGUFType>(id);
    if (in % gguf_block_size(type) != 0) {
      throw std::invalid_argument("[" + area + "] " + name + ": " + std::to_string(in) +
                                  " columns are not whole " + gguf_type_name(type) + " blocks.");
    }
    check_shape(a, {out, in / gguf_block_size(type) * gguf_block_bytes(type)}, name, area);
    return LinearWeight::gguf(a, type, in);
  }
  if (w.count(prefix + ".scales")) {
    const array& scales = require(w, prefix + ".scales", area);
    const array& biases = require(w, prefix + ".biases", area);
    if (a.dtype() != uint32 || a.ndim() != 2 || scales.ndim() != 2) {
      throw std::invalid_argument("[" + area + "] quantized weight " + name + " must be 2-D uint32 with 2-D scales.");
    }
    auto [bits, group] = affine_bits_and_group(a, scales, in);
    check_shape(a, {out, in * bits / 32}, name, area);
    check_shape(scales, {out, in / group}, prefix + ".scales", area);
    check_shape(biases, {out, in / group}, prefix + ".biases", area);
    return LinearWeight::affine(a, scales, biases, group, bits);
  }
  check_shape(a, {out, in}, name, area);
  if (!is_floating_point(a.dtype())) {
    throw std::invalid_argument("[" + area + "] weight " + name + " is not floating point (" +
                                dtype_name(a.dtype()) + ") and has no scales.");
  }
  return LinearWeight::dense(a);
}

}  // namespace tessera::lm
