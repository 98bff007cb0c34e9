// Key/value cache for autoregressive decoding: preallocated per-layer buffers filled with slice_update.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera::lm {

class KVCache {
 public:
  // max_len > 0: each layer's buffer holds max_len positions (an update past it throws).
  // max_len == 0: buffers grow in multiples of `step` positions as needed.
  explicit KVCache(int num_layers, int max_len = 0, int step = 256);

  // keys, values: (B, n_kv_heads, L, head_dim). Writes them at this layer's offset and returns the
  // layer's keys and values so far, (B, n_kv_heads, offset + L, head_dim) each.
  std::pair<array, array> update_and_fetch(int layer, const array& keys, const array& values);

  // Positions stored (the position of the next token); the smallest over the layers.
  int offset() const;
  int num_layers() const { return static_cast<int>(layers_.size()); }
  // Positions the buffers hold now (0 before the first update).
  int capacity() const;
  // Drops the last n positions (at most offset()); returns how many were dropped.
  int trim(int n);
  // Empties the cache (keeps the buffers for reuse).
  void reset();
  // Bytes of the K/V buffers.
  size_t nbytes() const;

  // Batched generation of prompts of different lengths, left-padded: row b's first left_padding()[b]
  // positions are padding that attention skips, and its RoPE positions start that much lower. Empty
  // (the default): no padding. Set it before the first update; its size must equal the batch size.
  void set_left_padding(std::vector<int> padding);
  const std::vector<int>& left_padding() const { return left_padding_; }
  // Keeps only these batch rows (in this order) of every layer and of the padding.
  void filter_rows(const std::vector<int>& rows);

  // Layer i's stored keys and values, (B, n_kv_heads, offset, head_dim) each (lazy slices).
  std::pair<array, array> state(int layer) const;
  // Replaces layer i's contents by keys, values (B, n_kv_heads, T, head_dim); its offset becomes T.
  void set_state(int layer, const array& keys, const array& values);

 private:
  struct Layer {
    std::optional<array> keys, values;  // (B, n_kv_heads, capacity, head_dim)
    int offset = 0;
  };
  void reserve(Layer& layer, const array& keys, const array& values, int needed);

  std::vector<Layer> layers_;
  std::vector<int> left_padding_;
  int max_len_;
  int step_;
};

}  // namespace tessera::lm
