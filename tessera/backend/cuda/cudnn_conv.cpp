// Forward convolution on cuDNN (frontend conv_fprop) in MLX's channels-last layout: cuDNN's
// logical (N, C, spatial...) dims with NHWC strides; 1D runs as 2D with a unit height.
#include "tessera/backend/cuda/cudnn.h"

#ifdef TESSERA_CUDNN_FRONTEND

#include <string>
#include <vector>

#include "tessera/backend/cuda/cudnn_graph.h"

namespace tessera::cuda {

namespace {

constexpr int64_t kX = 1, kW = 2, kY = 3;  // tensor uids

// cuDNN dims (n, c, sp...) and channels-last strides of a contiguous (n, sp..., c) array.
void channels_last(int64_t n, int64_t c, const std::vector<int64_t>& sp, std::vector<int64_t>& dims,
                   std::vector<int64_t>& strides) {
  size_t ns = sp.size();
  dims.assign(ns + 2, 0);
  strides.assign(ns + 2, 0);
  dims[0] = n;
  dims[1] = c;
  strides[1] = 1;
  int64_t inner = c;
  for (size_t i = ns; i-- > 0;) {
    dims[i + 2] = sp[i];
    strides[i + 2] = inner;
    inner *= sp[i];
  }
  strides[0] = inner;
}

bool supported(int dt, const CudnnConvArgs& a) {
  if (dt != dt_f32 && dt != dt_f16 && dt != dt_bf16) return false;
  if (a.nsp < 1 || a.nsp > 3 || a.groups < 1 || a.N < 1 || a.Cin < 1 || a.Cout < 1) return false;
  if (a.Cin % a.groups != 0 || a.Cout % a.groups != 0) return false;
  if (!aligned16(a.x) || !aligned16(a.w) || !aligned16(a.y)) return false;
  int64_t xs = a.N * a.Cin, ws = a.Cout * (a.Cin / a.groups), ys = a.N * a.Cout;
  for (int d = 0; d < a.nsp; ++d) {
    if (a.in[d] < 1 || a.kernel[d] < 1 || a.out[d] < 1 || a.stride[d] < 1 || a.dilation[d] < 1 || a.padding[d] < 0) {
      return false;
    }
    xs *= a.in[d];
    ws *= a.kernel[d];
    ys *= a.out[d];
  }
  const int64_t lim = int64_t(1) << 31;  // cuDNN's kernels index with 32-bit offsets
  return xs < lim && ws < lim && ys < lim;
}

}  // namespace

bool cudnn_conv(int dt, const CudnnConvArgs& a, cudaStream_t st) {
  if (!supported(dt, a) || !cudnn_available()) {
    cudnn_count(CudnnCounter::conv_declined);
    return false;
  }
  // 1D as 2D: a unit leading spatial dim.
  std::vector<int64_t> in, ker, out, stride, pad, dil;
  if (a.nsp == 1) {
    in = {1, a.in[0]};
    ker = {1, a.kernel[0]};
    out = {1, a.out[0]};
    stride = {1, a.stride[0]};
    pad = {0, a.padding[0]};
    dil = {1, a.dilation[0]};
  } else {
    in.assign(a.in, a.in + a.nsp);
    ker.assign(a.kernel, a.kernel + a.nsp);
    out.assign(a.out, a.out + a.nsp);
    stride.assign(a.stride, a.stride + a.nsp);
    pad.assign(a.padding, a.padding + a.nsp);
    dil.assign(a.dilation, a.dilation + a.nsp);
  }
  std::vector<int64_t> xd, xs, wd, wsd, yd, ys;
  channels_last(a.N, a.Cin, in, xd, xs);
  channels_last(a.Cout, a.Cin / a.groups, ker, wd, wsd);
  channels_last(a.N, a.Cout, out, yd, ys);
  std::string key = "conv|" + std::to_string(dt) + "|g" + std::to_string(a.groups);
  for (const auto* v : {&xd, &wd, &yd, &stride, &pad, &dil}) {
    key += "|";
    for (int64_t x : *v) key += std::to_string(x) + ",";
  }
  auto make = [&] {
    auto g = std::make_shared<fe::graph::Graph>();
    g->set_io_data_type(cudnn_io_type(dt))
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    auto X = g->tensor(fe::graph::Tensor_attributes().set_name("X").set_uid(kX).set_dim(xd).set_stride(xs));
    auto W = g->tensor(fe::graph::Tensor_attributes().set_name("W").set_uid(kW).set_dim(wd).set_stride(wsd));
    auto opts = fe::graph::Conv_fprop_attributes()
                    .set_name("conv")
                    .set_pre_padding(pad)
                    .set_post_padding(pad)
                    .set_stride(stride)
                    .set_dilation(dil);
    auto Y = g->conv_fprop(X, W, opts);
    Y->set_output(true).set_uid(kY).set_dim(yd).set_stride(ys);
    return g;
  };
  auto graph = cudnn_graph(key, make, dt == dt_f32);
  if (graph) {
    std::unordered_map<int64_t, void*> pack = {
        {kX, const_cast<void*>(a.x)}, {kW, const_cast<void*>(a.w)}, {kY, a.y}};
    if (cudnn_execute(*graph, pack, st)) {
      cudnn_count(CudnnCounter::conv_run);
      return true;
    }
  }
  cudnn_count(CudnnCounter::conv_declined);
  return false;
}

}  // namespace tessera::cuda

#endif  // TESSERA_CUDNN_FRONTEND
