// vjp/jvp of Convolution: the same convolution written with ops (a strided slice of the padded input
// per kernel tap, times that tap's weights), whose rules compose (grad of grad works).
#include "tessera/primitives/conv.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

namespace {
// x (N, *S, C_in), w (C_out, *K, C_in / groups) -> (N, *O, C_out).
array conv_composite(const array& x, const array& w, const std::vector<int>& stride, const std::vector<int>& padding,
                     const std::vector<int>& dilation, int groups) {
  int D = static_cast<int>(stride.size());
  int N = x.shape(0), cin = x.shape(-1), cout = w.shape(0);
  int cg = cin / groups, og = cout / groups;
  std::vector<int> axes;
  Shape pads;
  for (int d = 0; d < D; ++d) {
    axes.push_back(d + 1);
    pads.push_back(padding[d]);
  }
  auto xp = pad(x, axes, pads, pads, array(0, x.dtype()));
  Shape O;
  ShapeElem P = N;
  for (int d = 0; d < D; ++d) {
    int k = w.shape(d + 1);
    O.push_back((x.shape(d + 1) + 2 * padding[d] - dilation[d] * (k - 1) - 1) / stride[d] + 1);
    P *= O.back();
  }
  Shape out_shape{N};
  out_shape.insert(out_shape.end(), O.begin(), O.end());
  out_shape.push_back(cout);
  std::optional<array> acc;
  Shape k_idx(D, 0);
  for (;;) {
    Shape start(D + 2, 0), stop = xp.shape(), steps(D + 2, 1);
    Shape wstart(D + 2, 0), wstop = w.shape();
    for (int d = 0; d < D; ++d) {
      start[d + 1] = k_idx[d] * dilation[d];
      stop[d + 1] = start[d + 1] + (O[d] - 1) * stride[d] + 1;
      steps[d + 1] = stride[d];
      wstart[d + 1] = k_idx[d];
      wstop[d + 1] = k_idx[d] + 1;
    }
    auto xk = transpose(reshape(slice(xp, start, stop, steps), {P, groups, cg}), {1, 0, 2});  // (G, P, Cg)
    auto wk = transpose(reshape(slice(w, wstart, wstop), {groups, og, cg}), {0, 2, 1});       // (G, Cg, Og)
    auto term = matmul(xk, wk);                                                               // (G, P, Og)
    acc = acc ? add(*acc, term) : term;
    int d = D - 1;
    for (; d >= 0; --d) {
      if (++k_idx[d] < w.shape(d + 1)) break;
      k_idx[d] = 0;
    }
    if (d < 0) break;
  }
  return reshape(transpose(*acc, {1, 0, 2}), out_shape);
}
}  // namespace

std::vector<array> Convolution::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  auto f = [this](const std::vector<array>& in) {
    return std::vector<array>{conv_composite(in[0], in[1], stride_, padding_, dilation_, groups_)};
  };
  return rules::composite_vjp(f, primals, cotangents, argnums);
}
std::vector<array> Convolution::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  auto f = [this](const std::vector<array>& in) {
    return std::vector<array>{conv_composite(in[0], in[1], stride_, padding_, dilation_, groups_)};
  };
  return rules::composite_jvp(f, primals, tangents, argnums);
}

}  // namespace tessera
