// Quantized KV cache storage (MLX-LM's QuantizedKVCache): KVCache layers kept MLX-affine quantized.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "tessera/lm/kv_cache.h"
#include "tessera/ops.h"
#include "tessera/scheduler.h"

namespace tessera::lm {

namespace {

int round_up(int n, int m) { return (n + m - 1) / m * m; }

// x (B, H, L, D) -> {packed (B, H, L, Dq * bits / 32) uint32, scales, biases (B, H, L, Dq / group)}
// with Dq = D rounded up to a multiple of group_size (zero padding).
std::vector<array> quantize_heads(const array& x, int group_size, int bits) {
  const int D = x.shape(3), Dq = round_up(D, group_size);
  array padded = Dq > D ? pad(x, std::vector<int>{3}, Shape{0}, Shape{Dq - D}, array(0.0f, x.dtype())) : x;
  return quantize(padded, group_size, bits);
}

}  // namespace

void KVCache::set_quantization(int bits, int group_size, int start) {
  if (bits != 0 && bits != 2 && bits != 3 && bits != 4 && bits != 5 && bits != 6 && bits != 8) {
    throw std::invalid_argument("[kv_cache] kv_bits must be 0 (off), 2, 3, 4, 5, 6 or 8, got " +
                                std::to_string(bits) + ".");
  }
  if (group_size != 32 && group_size != 64 && group_size != 128) {
    throw std::invalid_argument("[kv_cache] kv_group_size must be 32, 64 or 128, got " +
                                std::to_string(group_size) + ".");
  }
  if (start < 0) throw std::invalid_argument("[kv_cache] quantized_kv_start must be >= 0.");
  for (const auto& l : layers_) {
    if (!l.qkeys.empty() && (bits != kv_bits_ || group_size != kv_group_size_)) {
      throw std::invalid_argument("[kv_cache] the cache already holds keys quantized with " +
                                  std::to_string(kv_bits_) + " bits, group size " +
                                  std::to_string(kv_group_size_) + "; reset it first.");
    }
  }
  kv_bits_ = bits;
  kv_group_size_ = group_size;
  quantized_kv_start_ = start;
}

bool KVCache::quantizes(int layer_index) const {
  check_layer(layer_index);
  const Layer& l = layers_[layer_index];
  if (!l.qkeys.empty()) return true;
  return kv_bits_ > 0 && l.window == 0 && l.offset >= quantized_kv_start_;
}

// qk, qv: {packed, scales, biases} of L new positions, written at the layer's offset.
void KVCache::append_quantized(Layer& l, const std::vector<array>& qk, const std::vector<array>& qv) {
  const int B = qk[0].shape(0), H = qk[0].shape(1), L = qk[0].shape(2);
  const int start = l.offset, end = start + L;
  if (!l.qkeys.empty()) {
    const array& held = l.qkeys[0];
    if (held.shape(0) != B || held.shape(1) != H || held.shape(3) != qk[0].shape(3) ||
        l.qvalues[0].shape(3) != qv[0].shape(3)) {
      throw std::invalid_argument("[kv_cache] quantized keys " + shape_str(qk[0].shape()) +
                                  " do not match the cache " + shape_str(held.shape()) + ".");
    }
  }
  const int cap = l.qkeys.empty() ? 0 : l.qkeys[0].shape(2);
  if (end > cap || l.qkeys.empty()) {  // an empty first update (L = 0) still makes the buffers
    const int new_cap = grown_capacity(std::max(end, 1));
    std::vector<array> nk, nv;
    for (size_t i = 0; i < 3; ++i) {
      auto grow = [&](const std::vector<array>& held, const array& like) {
        std::optional<array> buf;
        if (!held.empty()) buf = held[i];
        return regrow(buf, {B, H, new_cap, like.shape(3)}, like.dtype(), start);
      };
      nk.push_back(grow(l.qkeys, qk[i]));
      nv.push_back(grow(l.qvalues, qv[i]));
    }
    l.qkeys = std::move(nk);
    l.qvalues = std::move(nv);
  }
  for (size_t i = 0; i < 3; ++i) {
    l.qkeys[i] = slice_update(l.qkeys[i], qk[i], {0, 0, start, 0}, {B, H, end, qk[i].shape(3)});
    l.qvalues[i] = slice_update(l.qvalues[i], qv[i], {0, 0, start, 0}, {B, H, end, qv[i].shape(3)});
  }
  l.offset = end;
}

void KVCache::convert_layer(Layer& l) {
  const int held = l.offset;
  l.offset = 0;
  if (l.keys && held > 0) {
    const Shape& ks = l.keys->shape();
    const Shape& vs = l.values->shape();
    array k = slice(*l.keys, {0, 0, 0, 0}, {ks[0], ks[1], held, ks[3]});
    array v = slice(*l.values, {0, 0, 0, 0}, {vs[0], vs[1], held, vs[3]});
    l.key_dim = ks[3];
    l.value_dim = vs[3];
    append_quantized(l, quantize_heads(k, kv_group_size_, kv_bits_), quantize_heads(v, kv_group_size_, kv_bits_));
    for (auto& a : l.qkeys) eval(a);
    for (auto& a : l.qvalues) eval(a);
  }
  l.offset = held;
  l.keys.reset();
  l.values.reset();
}

KVCache::QuantizedKV KVCache::update_and_fetch_quantized(int layer_index, const array& keys, const array& values) {
  check_layer(layer_index);
  check_kv(keys, values);
  if (!quantizes(layer_index)) {
    throw std::invalid_argument("[kv_cache] layer " + std::to_string(layer_index) + " is not quantized.");
  }
  Layer& l = layers_[layer_index];
  if (l.qkeys.empty()) convert_layer(l);
  if (l.qkeys.empty()) {
    l.key_dim = keys.shape(3);
    l.value_dim = values.shape(3);
  } else if (keys.shape(3) != l.key_dim || values.shape(3) != l.value_dim) {
    throw std::invalid_argument("[kv_cache] keys " + shape_str(keys.shape()) + " do not match the cache's head_dim " +
                                std::to_string(l.key_dim) + ".");
  }
  append_quantized(l, quantize_heads(keys, kv_group_size_, kv_bits_),
                   quantize_heads(values, kv_group_size_, kv_bits_));
  const int B = keys.shape(0), H = keys.shape(1), T = l.offset;
  auto upto = [&](const array& a) { return slice(a, {0, 0, 0, 0}, {B, H, T, a.shape(3)}); };
  return {upto(l.qkeys[0]),   upto(l.qkeys[1]),   upto(l.qkeys[2]), upto(l.qvalues[0]),
          upto(l.qvalues[1]), upto(l.qvalues[2]), l.key_dim,        l.value_dim,
          kv_bits_,           kv_group_size_};
}

// Positions [begin, end) of a quantized layer, dequantized to (B, H, end - begin, head_dim).
std::pair<array, array> KVCache::dequantized(const Layer& l, int begin, int end) const {
  auto part = [&](const std::vector<array>& q, int dim) {
    const Shape& s = q[0].shape();
    auto rows = [&](const array& a) { return slice(a, {0, 0, begin, 0}, {s[0], s[1], end, a.shape(3)}); };
    array full = dequantize(rows(q[0]), rows(q[1]), rows(q[2]), kv_group_size_, kv_bits_);
    return full.shape(3) > dim ? slice(full, {0, 0, 0, 0}, {s[0], s[1], end - begin, dim}) : full;
  };
  return {part(l.qkeys, l.key_dim), part(l.qvalues, l.value_dim)};
}

}  // namespace tessera::lm
