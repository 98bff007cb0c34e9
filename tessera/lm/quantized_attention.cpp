// Attention over quantized keys/values: two batched quantized_matmul calls over every (batch row, KV
// head), GQA by folding the query heads of a KV head into rows.
#include "tessera/lm/quantized_attention.h"

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/ops.h"

namespace tessera::lm {

array quantized_attention(const array& q, const KVCache::QuantizedKV& kv, float scale,
                          const std::optional<array>& mask, float softcap) {
  if (q.ndim() != 4 || kv.keys.ndim() != 4) {
    throw std::invalid_argument("[quantized_attention] q must be (B, Hq, L, D), got " + shape_str(q.shape()) + ".");
  }
  const int B = q.shape(0), Hq = q.shape(1), L = q.shape(2), D = q.shape(3);
  const int Hkv = kv.keys.shape(1), T = kv.keys.shape(2);
  const int Dk = kv.keys.shape(3) * 32 / kv.bits, Dv = kv.values.shape(3) * 32 / kv.bits;
  if (kv.keys.shape(0) != B || Hkv <= 0 || Hq % Hkv != 0 || D != kv.key_dim || Dk < D) {
    throw std::invalid_argument("[quantized_attention] q " + shape_str(q.shape()) + " does not fit the cache keys " +
                                shape_str(kv.keys.shape()) + " (head_dim " + std::to_string(kv.key_dim) + ").");
  }
  const int rep = Hq / Hkv, rows = rep * L;
  // (B, Hq, L, D) -> (B, Hkv, rep * L, Dk): query head h = kv_head * rep + r.
  array qq = Dk > D ? pad(q, std::vector<int>{3}, Shape{0}, Shape{Dk - D}, array(0.0f, q.dtype())) : q;
  qq = reshape(qq, {B, Hkv, rows, Dk});
  // One batched quantized_matmul over every (batch row, KV head) for the scores, one for the outputs.
  array scores = quantized_matmul(qq, kv.keys, kv.key_scales, kv.key_biases, true, kv.group_size, kv.bits);
  scores = reshape(scores, {B, Hq, L, T});  // (B, Hq, L, T)
  scores = astype(scores, float32) * array(scale);
  if (softcap > 0) scores = array(softcap) * tanh(scores / array(softcap));
  if (mask) scores = where(*mask, scores, array(-std::numeric_limits<float>::infinity()));
  array p = reshape(softmax(scores, -1, true), {B, Hkv, rows, T});
  if (kv.value_scales.dtype() != float32) p = astype(p, kv.value_scales.dtype());
  array out = quantized_matmul(p, kv.values, kv.value_scales, kv.value_biases, false, kv.group_size, kv.bits);
  out = reshape(out, {B, Hq, L, Dv});
  if (Dv > kv.value_dim) out = slice(out, {0, 0, 0, 0}, {B, Hq, L, kv.value_dim});
  return astype(out, q.dtype());
}

}  // namespace tessera::lm
