// vmap rules of Full (a copy of its already broadcast input) and Convolution (the batch folds into N,
// or, with a batched weight, into channel groups).
#include "tessera/primitives/conv.h"
#include "tessera/primitives/creation.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

using VmapOut = std::pair<std::vector<array>, std::vector<int>>;

VmapOut Full::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  return {{full(in[0].shape(), in[0])}, {ax[0]}};
}

// x (N, *S, C_in), w (C_out, *K, C_in / groups) -> (N, *O, C_out).
VmapOut Convolution::vmap(const std::vector<array>& in, const std::vector<int>& ax) {
  int n = rules::batch_size(in, ax);
  auto& o = rules::current_outputs(name())[0];
  Shape out = o.shape();  // (N, *O, C_out)
  auto x = rules::batch_first(in[0], ax[0], n);           // (n, N, *S, C_in)
  int D = static_cast<int>(stride_.size());
  if (ax[1] < 0) {  // shared weight: the batch joins N
    Shape xs(x.shape().begin() + 1, x.shape().end());
    xs[0] *= n;
    Shape os = out;
    os[0] *= n;
    auto prim = std::make_shared<Convolution>(stream(), stride_, padding_, dilation_, groups_);
    array y(os, o.dtype(), prim, {reshape(x, xs), in[1]});
    Shape bs = out;
    bs.insert(bs.begin(), n);
    return {{reshape(y, bs)}, {0}};
  }
  // Batched weight: example b uses channel groups [b * groups, (b + 1) * groups).
  auto w = rules::batch_first(in[1], ax[1], n);  // (n, C_out, *K, C_in / groups)
  auto xc = moveaxis(x, 0, D + 1);               // (N, *S, n, C_in)
  Shape xs = xc.shape();
  xs[D + 1] *= xs[D + 2];
  xs.pop_back();
  Shape ws(w.shape().begin() + 1, w.shape().end());
  ws[0] *= n;
  Shape os = out;
  os.back() *= n;
  auto prim = std::make_shared<Convolution>(stream(), stride_, padding_, dilation_, groups_ * n);
  array y(os, o.dtype(), prim, {reshape(xc, xs), reshape(w, ws)});
  Shape bs = out;
  bs.insert(bs.end() - 1, n);
  return {{reshape(y, bs)}, {D + 1}};
}

}  // namespace tessera
