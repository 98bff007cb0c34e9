// vmap rules of the quantization primitives: their ops take leading dims, so the batch goes first;
// a batched affine weight makes a batched quantized_matmul, a batched GGUF weight a batched matmul.
#include "tessera/primitives/quantized.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

VmapOut AffineQuantize::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto outs = quantize(rules::batch_first(in[0], ax[0], 0), group_size_, bits_);
  return {outs, {0, 0, 0}};
}
VmapOut AffineDequantize::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  auto b = [&](int i) { return rules::batch_first(in[i], ax[i], n); };
  return {{dequantize(b(0), b(1), b(2), group_size_, bits_)}, {0}};
}
// A batched weight (packed ints, scales or biases) becomes a batched quantized_matmul: the vmapped
// axis goes first in every input (a size-1 dim for an unmapped x, broadcast for the weight's parts,
// which must share their shape). A batched GGUF weight is dequantized per example (a batched matmul).
VmapOut QuantizedMatmul::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  if (ax[1] >= 0 || ax[2] >= 0 || ax[3] >= 0) {
    int n = rules::batch_size(in, ax);
    auto b = [&](int i) { return rules::batch_first(in[i], ax[i], n); };
    auto x = ax[0] >= 0 ? rules::batch_first(in[0], ax[0], n) : expand_dims(in[0], 0);
    return {{quantized_matmul(x, b(1), b(2), b(3), transpose_, group_size_, bits_)}, {0}};
  }
  auto x = rules::batch_first(in[0], ax[0], 0);
  return {{quantized_matmul(x, in[1], in[2], in[3], transpose_, group_size_, bits_)}, {0}};
}
VmapOut GGUFMatmul::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto x = rules::batch_first(in[0], ax[0], rules::batch_size(in, ax));
  if (ax[1] >= 0) {
    auto blocks = rules::batch_first(in[1], ax[1], 0);
    auto w = gguf_dequantize(blocks, type_, {blocks.shape(0), blocks.shape(1), x.shape(-1)});  // (n, N, K)
    return {{astype(matmul(astype(x, float32), rules::mT(w)), x.dtype())}, {0}};
  }
  return {{gguf_quantized_matmul(x, in[1], type_, x.shape(-1))}, {0}};
}
VmapOut GGUFDequantize::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  auto blocks = rules::batch_first(in[0], ax[0], 0);
  Shape s = rules::current_outputs(name())[0].shape();
  s.insert(s.begin(), blocks.shape(0));
  return {{gguf_dequantize(blocks, type_, s)}, {0}};
}

}  // namespace tessera
