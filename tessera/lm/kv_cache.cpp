// Key/value cache: per-layer (B, H, capacity, D) buffers written in place with slice_update.
#include "tessera/lm/kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "tessera/lm/models/llama.h"
#include "tessera/ops.h"
#include "tessera/scheduler.h"

namespace tessera::lm {

KVCache::KVCache(int num_layers, int max_len, int step)
    : layers_(num_layers), max_len_(max_len), step_(step) {
  if (num_layers <= 0) throw std::invalid_argument("[kv_cache] num_layers must be positive.");
  if (max_len < 0) throw std::invalid_argument("[kv_cache] max_len must be >= 0.");
  if (step <= 0) throw std::invalid_argument("[kv_cache] step must be positive.");
}

int KVCache::grown_capacity(int needed) const {
  if (max_len_ > 0) {
    if (needed > max_len_) {
      throw std::out_of_range("[kv_cache] " + std::to_string(needed) + " positions exceed max_len " +
                              std::to_string(max_len_) + ".");
    }
    return max_len_;
  }
  return (needed + step_ - 1) / step_ * step_;
}

array KVCache::regrow(const std::optional<array>& buf, const Shape& shape, Dtype dtype, int keep) {
  array out = zeros(shape, dtype);
  if (!buf || keep <= 0) return out;
  Shape kept{shape[0], shape[1], keep, shape[3]};
  return slice_update(out, slice(*buf, {0, 0, 0, 0}, kept), {0, 0, 0, 0}, kept);
}

void KVCache::check_matches(const Layer& layer, const array& keys, const array& values) {
  if (layer.keys && (layer.keys->shape(0) != keys.shape(0) || layer.keys->shape(1) != keys.shape(1) ||
                     layer.keys->shape(3) != keys.shape(3) || layer.values->shape(3) != values.shape(3))) {
    throw std::invalid_argument("[kv_cache] keys " + shape_str(keys.shape()) + " do not match the cache " +
                                shape_str(layer.keys->shape()) + ".");
  }
}

void KVCache::reserve(Layer& layer, const array& keys, const array& values, int needed) {
  check_matches(layer, keys, values);
  if (needed <= (layer.keys ? layer.keys->shape(2) : 0)) return;
  const int new_cap = grown_capacity(needed);
  // Carry over the stored positions.
  layer.keys = regrow(layer.keys, {keys.shape(0), keys.shape(1), new_cap, keys.shape(3)}, keys.dtype(), layer.offset);
  layer.values =
      regrow(layer.values, {values.shape(0), values.shape(1), new_cap, values.shape(3)}, values.dtype(), layer.offset);
}

void KVCache::check_layer(int layer_index) const {
  if (layer_index < 0 || layer_index >= num_layers()) {
    throw std::out_of_range("[kv_cache] layer " + std::to_string(layer_index) + " out of range.");
  }
}

void KVCache::check_kv(const array& keys, const array& values) {
  if (keys.ndim() != 4 || values.ndim() != 4 || keys.shape(0) != values.shape(0) ||
      keys.shape(1) != values.shape(1) || keys.shape(2) != values.shape(2)) {
    throw std::invalid_argument("[kv_cache] keys and values must be (B, H, L, D), got " +
                                shape_str(keys.shape()) + " and " + shape_str(values.shape()) + ".");
  }
}

std::pair<array, array> KVCache::update_and_fetch(int layer_index, const array& keys, const array& values) {
  check_layer(layer_index);
  check_kv(keys, values);
  Layer& layer = layers_[layer_index];
  if (quantizes(layer_index)) {
    update_and_fetch_quantized(layer_index, keys, values);
    return dequantized(layer, 0, layer.offset);
  }
  if (layer.window > 0) return update_window(layer, keys, values);
  int start = layer.offset;
  int end = start + keys.shape(2);
  reserve(layer, keys, values, end);
  int B = keys.shape(0), H = keys.shape(1);
  // Assigning the result over the member leaves the old buffer referenced only by the new node,
  // so slice_update can write in place.
  layer.keys = slice_update(*layer.keys, keys, {0, 0, start, 0}, {B, H, end, keys.shape(3)});
  layer.values = slice_update(*layer.values, values, {0, 0, start, 0}, {B, H, end, values.shape(3)});
  layer.offset = end;
  return {slice(*layer.keys, {0, 0, 0, 0}, {B, H, end, keys.shape(3)}),
          slice(*layer.values, {0, 0, 0, 0}, {B, H, end, values.shape(3)})};
}

bool KVCache::static_decodable() const {
  if (!left_padding_.empty() || kv_bits_ > 0) return false;
  for (const auto& l : layers_) {
    if (l.window > 0 || !l.qkeys.empty() || !l.keys || l.start != 0 || l.offset != layers_[0].offset) return false;
  }
  return true;
}

bool KVCache::reserve_positions(int needed) {
  bool moved = false;
  for (auto& l : layers_) {
    if (!l.keys || needed <= l.keys->shape(2)) continue;
    reserve(l, *l.keys, *l.values, needed);
    moved = true;
  }
  return moved;
}

std::pair<array, array> KVCache::update_at(int layer_index, const array& keys, const array& values,
                                           const array& pos) {
  check_layer(layer_index);
  check_kv(keys, values);
  Layer& layer = layers_[layer_index];
  if (!layer.keys) throw std::logic_error("[kv_cache] update_at on a layer that holds no buffer.");
  check_matches(layer, keys, values);
  // As in update_and_fetch, the old buffer is left to the new node alone, so it is written in place.
  layer.keys = dynamic_slice_update(*layer.keys, keys, pos, {2});
  layer.values = dynamic_slice_update(*layer.values, values, pos, {2});
  return {*layer.keys, *layer.values};
}

void KVCache::advance(int n) {
  for (auto& l : layers_) l.offset += n;
}

std::pair<array, array> KVCache::buffers(int layer_index) const {
  check_layer(layer_index);
  const Layer& l = layers_[layer_index];
  if (!l.keys) throw std::logic_error("[kv_cache] the layer holds no buffer.");
  return {*l.keys, *l.values};
}

int KVCache::offset() const {
  int off = layers_[0].offset;
  for (const auto& l : layers_) off = std::min(off, l.offset);
  return off;
}

int KVCache::capacity() const {
  const Layer& l = layers_[0];
  return !l.qkeys.empty() ? l.qkeys[0].shape(2) : l.keys ? l.keys->shape(2) : 0;
}

bool KVCache::can_trim(int n) const {
  n = std::max(0, std::min(n, offset()));
  for (const auto& l : layers_) {
    // A query at the new offset needs keys from new_offset - window + 1 on.
    if (l.window > 0 && l.start > std::max(0, l.offset - n - l.window + 1)) return false;
  }
  return true;
}

int KVCache::trim(int n) {
  n = std::max(0, std::min(n, offset()));
  if (!can_trim(n)) {
    throw std::runtime_error("[kv_cache] cannot trim " + std::to_string(n) +
                             " positions: a sliding-window layer has already dropped keys they would need.");
  }
  for (auto& l : layers_) l.offset -= n;
  return n;
}

void KVCache::reset() {
  for (auto& l : layers_) {
    l.offset = l.start = l.fetched_start = 0;
    l.qkeys.clear();  // quantized again from quantized_kv_start
    l.qvalues.clear();
  }
  left_padding_.clear();
}

void KVCache::set_window(int layer_index, int window, int keep) {
  check_layer(layer_index);
  if (window <= 0 || keep < window) throw std::invalid_argument("[kv_cache] need 0 < window <= keep.");
  Layer& l = layers_[layer_index];
  if (l.offset > 0) throw std::invalid_argument("[kv_cache] set_window on a layer that holds positions.");
  l.window = window;
  l.keep = keep;
  l.keys.reset();
  l.values.reset();
  l.qkeys.clear();
  l.qvalues.clear();
}

// keys, values: (B, H, L, D). Returns the kept positions and the new ones, then keeps the last `keep`.
std::pair<array, array> KVCache::update_window(Layer& layer, const array& keys, const array& values) {
  const int B = keys.shape(0), H = keys.shape(1), L = keys.shape(2), D = keys.shape(3), Dv = values.shape(3);
  const int stored = layer.offset - layer.start;
  array k = keys, v = values;
  if (layer.keys && stored > 0) {
    if (layer.keys->shape(0) != B || layer.keys->shape(1) != H || layer.keys->shape(3) != D ||
        layer.values->shape(3) != Dv) {
      throw std::invalid_argument("[kv_cache] keys " + shape_str(keys.shape()) + " do not match the cache " +
                                  shape_str(layer.keys->shape()) + ".");
    }
    k = concatenate({slice(*layer.keys, {0, 0, 0, 0}, {B, H, stored, D}), keys}, 2);
    v = concatenate({slice(*layer.values, {0, 0, 0, 0}, {B, H, stored, Dv}), values}, 2);
  }
  layer.fetched_start = layer.start;
  const int total = stored + L, kept = std::min(total, layer.keep);
  layer.keys = slice(k, {0, 0, total - kept, 0}, {B, H, total, D});
  layer.values = slice(v, {0, 0, total - kept, 0}, {B, H, total, Dv});
  layer.offset += L;
  layer.start = layer.offset - kept;
  return {k, v};
}

KVCache model_kv_cache(const Llama& model, int max_len, int trim_slack) {
  KVCache cache(model.num_layers(), max_len);
  const auto& c = model.config();
  for (int i = 0; i < model.num_layers(); ++i) {
    if (c.layer_slides(i)) cache.set_window(i, c.sliding_window, c.sliding_window + std::max(0, trim_slack));
  }
  return cache;
}

size_t KVCache::nbytes() const {
  size_t n = 0;
  for (const auto& l : layers_) {
    if (l.keys) n += l.keys->nbytes() + l.values->nbytes();
    for (const auto& a : l.qkeys) n += a.nbytes();
    for (const auto& a : l.qvalues) n += a.nbytes();
  }
  return n;
}

void KVCache::set_left_padding(std::vector<int> padding) {
  for (int p : padding) {
    if (p < 0) throw std::invalid_argument("[kv_cache] left padding must not be negative.");
  }
  for (const auto& l : layers_) {
    if (l.keys && l.keys->shape(0) != static_cast<int>(padding.size()) && !padding.empty()) {
      throw std::invalid_argument("[kv_cache] " + std::to_string(padding.size()) + " paddings for a batch of " +
                                  std::to_string(l.keys->shape(0)) + ".");
    }
  }
  left_padding_ = std::move(padding);
}

void KVCache::filter_rows(const std::vector<int>& rows) {
  if (rows.empty()) throw std::invalid_argument("[kv_cache] filter_rows needs at least one row.");
  const Layer& first = layers_[0];
  const int B = !first.qkeys.empty() ? first.qkeys[0].shape(0)
                : first.keys       ? first.keys->shape(0)
                                   : static_cast<int>(left_padding_.empty() ? 0 : left_padding_.size());
  for (int r : rows) {
    if (r < 0 || r >= B) {
      throw std::out_of_range("[kv_cache] row " + std::to_string(r) + " out of range for batch " +
                              std::to_string(B) + ".");
    }
  }
  array idx(rows, {static_cast<int>(rows.size())}, int32);
  for (auto& l : layers_) {
    for (auto* q : {&l.qkeys, &l.qvalues}) {
      for (auto& a : *q) {
        a = take(a, idx, 0);
        eval(a);
      }
    }
    if (!l.keys) continue;
    l.keys = take(*l.keys, idx, 0);
    l.values = take(*l.values, idx, 0);
    eval(*l.keys, *l.values);
  }
  if (!left_padding_.empty()) {
    std::vector<int> pad;
    for (int r : rows) pad.push_back(left_padding_[r]);
    left_padding_ = std::move(pad);
  }
}

std::pair<array, array> KVCache::state(int layer_index) const {
  check_layer(layer_index);
  const Layer& l = layers_[layer_index];
  if (!l.qkeys.empty()) return dequantized(l, 0, l.offset);
  if (!l.keys) throw std::invalid_argument("[kv_cache] layer " + std::to_string(layer_index) + " is empty.");
  const Shape& ks = l.keys->shape();
  const Shape& vs = l.values->shape();
  const int stored = l.offset - l.start;
  return {slice(*l.keys, {0, 0, 0, 0}, {ks[0], ks[1], stored, ks[3]}),
          slice(*l.values, {0, 0, 0, 0}, {vs[0], vs[1], stored, vs[3]})};
}

void KVCache::set_state(int layer_index, const array& keys, const array& values, int start) {
  check_layer(layer_index);
  Layer& l = layers_[layer_index];
  if (start < 0 || (start > 0 && l.window == 0)) {
    throw std::invalid_argument("[kv_cache] set_state: start " + std::to_string(start) +
                                " needs a sliding-window layer.");
  }
  l.keys.reset();
  l.values.reset();
  l.qkeys.clear();
  l.qvalues.clear();
  l.offset = l.start = 0;
  update_and_fetch(layer_index, keys, values);
  l.offset += start;
  l.start += start;
  l.fetched_start = l.start;
}

}  // namespace tessera::lm
