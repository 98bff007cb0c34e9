// vmap rules of the fast ops: batch axes fold into the leading dims the kernels already loop over.
#include "tessera/fast.h"
#include "tessera/primitives/fast.h"
#include "tessera/transforms/rules_common.h"

namespace tessera::fast {

namespace {
void only_first_mapped(const std::vector<int>& ax, const char* name, const char* what) {
  for (size_t i = 1; i < ax.size(); ++i) {
    if (ax[i] >= 0) throw std::invalid_argument(std::string("[") + name + "] vmap over the " + what + " is not implemented.");
  }
}
}  // namespace

std::pair<std::vector<array>, std::vector<int>> RMSNorm::vmap(const std::vector<array>& in,
                                                             const std::vector<int>& ax) {
  only_first_mapped(ax, name(), "weight");
  auto x = rules::batch_first(in[0], ax[0], 0);
  std::optional<array> w;
  if (has_weight_) w = in[1];
  return {{rms_norm(x, w, eps_)}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> LayerNorm::vmap(const std::vector<array>& in,
                                                               const std::vector<int>& ax) {
  only_first_mapped(ax, name(), "weight or bias");
  auto x = rules::batch_first(in[0], ax[0], 0);
  std::optional<array> w, b;
  if (has_weight_) w = in[1];
  if (has_bias_) b = in[has_weight_ ? 2 : 1];
  return {{layer_norm(x, w, b, eps_)}, {0}};
}

std::pair<std::vector<array>, std::vector<int>> RoPE::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  only_first_mapped(ax, name(), "offset or freqs");
  // Per-batch offsets index x's first dim, so the mapped axis goes second then.
  int dst = in[1].ndim() > 0 ? 1 : 0;
  auto x = moveaxis(in[0], ax[0], dst);
  std::optional<array> freqs;
  if (has_freqs_) freqs = in[2];
  std::optional<float> base;
  if (!has_freqs_) base = base_;
  return {{rope(x, dims_, traditional_, base, scale_, in[1], freqs)}, {dst}};
}

std::pair<std::vector<array>, std::vector<int>> ScaledDotProductAttention::vmap(const std::vector<array>& in,
                                                                               const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  auto fold = [n](const array& a, int axis) {
    auto b = rules::batch_first(a, axis, n);
    Shape s(b.shape().begin() + 1, b.shape().end());
    s[0] *= n;
    return reshape(b, s);
  };
  auto q = fold(in[0], ax[0]), k = fold(in[1], ax[1]), v = fold(in[2], ax[2]);
  std::optional<array> mask;
  if (has_mask_) mask = fold(in[3], ax[3]);
  auto o = scaled_dot_product_attention(q, k, v, scale_, causal_ ? "causal" : "", mask);
  Shape s = o.shape();
  s[0] /= n;
  s.insert(s.begin(), n);
  return {{reshape(o, s)}, {0}};
}

}  // namespace tessera::fast
