// Key/value cache for autoregressive decoding: preallocated per-layer buffers filled with slice_update.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "tessera/array.h"

namespace tessera::lm {

class Llama;

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
  // Drops the last n positions (at most offset()); returns how many were dropped. Throws
  // "[kv_cache] ..." when a sliding-window layer no longer holds what it would need (see can_trim).
  int trim(int n);
  // Whether trim(n) keeps every sliding-window layer exact.
  bool can_trim(int n) const;

  // Layer i attends over a sliding window of `window` positions: it keeps only its last `keep`
  // (>= window) positions, so its memory stays bounded; keep - window is how far it can be trimmed
  // back (+1). Set before the layer's first update.
  void set_window(int layer, int window, int keep);
  int window(int layer) const { return layers_.at(layer).window; }
  int keep(int layer) const { return layers_.at(layer).keep; }
  // Position of the first key the layer holds (0 unless it is windowed and has dropped some).
  int start(int layer) const { return layers_.at(layer).start; }
  // Position of the first key of the last update_and_fetch result of this layer.
  int fetched_start(int layer) const { return layers_.at(layer).fetched_start; }
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

  // Quantized storage (MLX-LM's QuantizedKVCache, tessera/lm/quantized_kv_cache.cpp): keys and values
  // of every layer that does not slide are kept MLX-affine quantized along head_dim (packed uint32 +
  // scales + biases per group of group_size, in the keys' dtype) once the layer holds `start` positions
  // (0: from the first token; a layer holding positions in full precision is converted at its next
  // update). A head_dim below group_size (or not a multiple) is zero-padded up to a multiple of it.
  // Sliding-window layers stay in full precision (their memory is bounded by the window). bits 0: off.
  // Throws "[kv_cache] ..." on bits other than 0, 2, 3, 4, 5, 6, 8, a group size other than 32, 64,
  // 128, a negative start, or other bits / group size while a layer holds quantized positions (reset
  // first); the cache's dtype must be float32, float16 or bfloat16.
  void set_quantization(int bits, int group_size = 64, int start = 0);
  int kv_bits() const { return kv_bits_; }
  int kv_group_size() const { return kv_group_size_; }
  int quantized_kv_start() const { return quantized_kv_start_; }
  // Whether layer i's next update stores quantized keys and values (see update_and_fetch_quantized).
  bool quantizes(int layer) const;
  // A layer's quantized keys and values so far: keys (B, n_kv_heads, T, Dk * bits / 32) uint32,
  // key_scales / key_biases (B, n_kv_heads, T, Dk / group_size), likewise the values; Dk, Dv are
  // head_dim rounded up to a multiple of group_size (padding dims hold zeros), key_dim / value_dim the
  // model's.
  struct QuantizedKV {
    array keys, key_scales, key_biases, values, value_scales, value_biases;
    int key_dim, value_dim, bits, group_size;
  };
  // For a layer where quantizes(layer): quantizes keys, values (B, n_kv_heads, L, head_dim), writes them
  // at the layer's offset and returns everything it holds (offset + L positions).
  QuantizedKV update_and_fetch_quantized(int layer, const array& keys, const array& values);
  // Whether layer i holds its positions quantized now.
  bool layer_quantized(int layer) const { return !layers_.at(layer).qkeys.empty(); }

  // Static-shape decoding (a captured CUDA graph replays one decode step, tessera/lm/decode_graph.cpp).
  // Whether update_at can serve every layer: each holds full-precision keys (after a prefill), none
  // slides or is quantized, and there is no left padding.
  bool static_decodable() const;
  // Grows every layer's buffers to hold `needed` positions (as update_and_fetch grows them; throws
  // past max_len). Returns whether any buffer was replaced.
  bool reserve_positions(int needed);
  // Writes keys, values (B, n_kv_heads, L, head_dim) of layer i at the device position `pos` (int32,
  // shape (1,)) and returns the layer's whole buffers (B, n_kv_heads, capacity, head_dim); slots past
  // pos + L hold stale values that attention must mask. The host offset stays (see advance).
  std::pair<array, array> update_at(int layer, const array& keys, const array& values, const array& pos);
  // Moves every layer's offset n positions on (after update_at wrote them).
  void advance(int n);
  // Layer i's key and value buffers (B, n_kv_heads, capacity, head_dim).
  std::pair<array, array> buffers(int layer) const;

  // Layer i's stored keys and values, (B, n_kv_heads, offset - start, head_dim) each (lazy slices;
  // dequantized for a quantized layer).
  std::pair<array, array> state(int layer) const;
  // Replaces layer i's contents by keys, values (B, n_kv_heads, T, head_dim) of positions start..;
  // its offset becomes start + T (start > 0 only for a windowed layer, with T >= its keep or all).
  void set_state(int layer, const array& keys, const array& values, int start = 0);

 private:
  struct Layer {
    std::optional<array> keys, values;  // (B, n_kv_heads, capacity, head_dim)
    int offset = 0;                     // positions seen
    int window = 0, keep = 0;           // sliding-window layer: keeps its last `keep` positions
    int start = 0;                      // position of buffer slot 0
    int fetched_start = 0;
    // Quantized storage (empty when full precision): {packed, scales, biases} of keys and values, each
    // (B, n_kv_heads, capacity, .); key_dim / value_dim: the head dims before padding.
    std::vector<array> qkeys, qvalues;
    int key_dim = 0, value_dim = 0;
  };
  void reserve(Layer& layer, const array& keys, const array& values, int needed);
  // Capacity for `needed` positions (max_len or the next multiple of step); throws past max_len.
  int grown_capacity(int needed) const;
  // buf (B, H, cap, X) -> (B, H, new_cap, X) zeros, with its first `keep` positions copied.
  static array regrow(const std::optional<array>& buf, const Shape& shape, Dtype dtype, int keep);
  void check_layer(int layer) const;
  // Throws when keys / values (B, H, L, D) do not fit the layer's buffers (batch, heads, head dims).
  static void check_matches(const Layer& layer, const array& keys, const array& values);
  static void check_kv(const array& keys, const array& values);
  // Converts a full-precision layer's positions to quantized storage.
  void convert_layer(Layer& layer);
  void append_quantized(Layer& layer, const std::vector<array>& qk, const std::vector<array>& qv);
  std::pair<array, array> dequantized(const Layer& layer, int begin, int end) const;
  std::pair<array, array> update_window(Layer& layer, const array& keys, const array& values);

  std::vector<Layer> layers_;
  std::vector<int> left_padding_;
  int max_len_;
  int step_;
  int kv_bits_ = 0, kv_group_size_ = 64, quantized_kv_start_ = 0;
};

// A cache for `model`: its sliding-window layers keep window + trim_slack positions (trim_slack: how
// far speculative decoding or a prompt cache may trim back), the others grow (or hold max_len).
KVCache model_kv_cache(const Llama& model, int max_len = 0, int trim_slack = 32);

}  // namespace tessera::lm
