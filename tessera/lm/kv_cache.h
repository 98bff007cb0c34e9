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

 private:
  struct Layer {
    std::optional<array> keys, values;  // (B, n_kv_heads, capacity, head_dim)
    int offset = 0;
  };
  void reserve(Layer& layer, const array& keys, const array& values, int needed);

  std::vector<Layer> layers_;
  int max_len_;
  int step_;
};

}  // namespace tessera::lm
