// Attention prefill on cuDNN (frontend sdpa node): one graph per (shapes, strides, dtype, scale,
// causal, device), built on first use and cached; q/k/v are read in place through their strides.
#include "tessera/backend/cuda/cudnn.h"

#ifdef TESSERA_CUDNN_FRONTEND

#include <cstring>
#include <string>
#include <vector>

#include "tessera/backend/cuda/cudnn_graph.h"

namespace tessera::cuda {

namespace {

constexpr int64_t kQ = 1, kK = 2, kV = 3, kO = 4;  // tensor uids

// Strides of a (d0, d1, d2, d3) view with size-1 dims given the stride they would have if
// contiguous below (their stride is never used; this keeps cache keys and cuDNN's checks stable).
std::vector<int64_t> view_strides(const int64_t (&s)[4], const int64_t (&dims)[4]) {
  std::vector<int64_t> r(4);
  int64_t inner = 1;
  for (int i = 3; i >= 0; --i) {
    r[i] = dims[i] == 1 ? inner : s[i];
    inner = dims[i] * r[i];
  }
  return r;
}

bool supported(int dt, const SdpaArgs& a) {
  if (dt != dt_f16 && dt != dt_bf16) return false;
  if (a.mask != nullptr || a.D != a.Dv || (a.D != 64 && a.D != 128)) return false;
  if (a.B < 1 || a.Hq < 1 || a.Hkv < 1 || a.Lq < 1 || a.Lk < 1 || a.Hq % a.Hkv != 0) return false;
  if (a.causal && a.Lq > a.Lk) return false;  // rows without keys: tessera's kernels define them
  if (!aligned16(a.q) || !aligned16(a.k) || !aligned16(a.v) || !aligned16(a.out)) return false;
  for (const int64_t* s : {a.qs, a.ks, a.vs}) {
    if (s[3] != 1) return false;
    for (int i = 0; i < 3; ++i) {
      if (s[i] < 0 || s[i] % 8 != 0) return false;
    }
  }
  return true;
}

}  // namespace

bool cudnn_sdpa(int dt, const SdpaArgs& a, cudaStream_t st) {
  if (!supported(dt, a) || !cudnn_available()) {
    cudnn_count(CudnnCounter::sdpa_declined);
    return false;
  }
  const int64_t qd[4] = {a.B, a.Hq, a.Lq, a.D}, kd[4] = {a.B, a.Hkv, a.Lk, a.D};
  auto qs = view_strides(a.qs, qd), ks = view_strides(a.ks, kd), vs = view_strides(a.vs, kd);
  std::vector<int64_t> os = {int64_t(a.Hq) * a.Lq * a.Dv, int64_t(a.Lq) * a.Dv, a.Dv, 1};
  uint32_t scale_bits;
  std::memcpy(&scale_bits, &a.scale, 4);
  std::string key = "sdpa|" + std::to_string(dt) + "|" + std::to_string(a.causal);
  for (int64_t x : {int64_t(a.B), int64_t(a.Hq), int64_t(a.Hkv), int64_t(a.Lq), int64_t(a.Lk), int64_t(a.D),
                    int64_t(scale_bits)}) {
    key += "|" + std::to_string(x);
  }
  for (const auto* s : {&qs, &ks, &vs}) {
    for (int64_t x : *s) key += "," + std::to_string(x);
  }
  auto make = [&] {
    auto g = std::make_shared<fe::graph::Graph>();
    g->set_io_data_type(cudnn_io_type(dt))
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    auto tensor = [&](const char* name, int64_t uid, const int64_t (&d)[4], const std::vector<int64_t>& s) {
      return g->tensor(fe::graph::Tensor_attributes()
                           .set_name(name)
                           .set_uid(uid)
                           .set_dim({d[0], d[1], d[2], d[3]})
                           .set_stride(s));
    };
    auto Q = tensor("Q", kQ, qd, qs);
    auto K = tensor("K", kK, kd, ks);
    auto V = tensor("V", kV, kd, vs);
    auto opts = fe::graph::SDPA_attributes().set_name("sdpa").set_generate_stats(false).set_attn_scale(a.scale);
    if (a.causal) {
      // tessera's causal mask: query i sees keys j <= i + (Lk - Lq), i.e. bottom-right aligned
      // (the same as top-left when Lq == Lk).
      opts.set_diagonal_alignment(a.Lq == a.Lk ? fe::DiagonalAlignment_t::TOP_LEFT
                                               : fe::DiagonalAlignment_t::BOTTOM_RIGHT)
          .set_diagonal_band_right_bound(0);
    }
    auto outs = g->sdpa(Q, K, V, opts);
    outs[0]->set_output(true).set_uid(kO).set_dim({a.B, a.Hq, a.Lq, a.Dv}).set_stride(os);
    return g;
  };
  auto graph = cudnn_graph(key, make, false);
  if (graph) {
    std::unordered_map<int64_t, void*> pack = {{kQ, const_cast<void*>(a.q)},
                                               {kK, const_cast<void*>(a.k)},
                                               {kV, const_cast<void*>(a.v)},
                                               {kO, a.out}};
    if (cudnn_execute(*graph, pack, st)) {
      cudnn_count(CudnnCounter::sdpa_run);
      return true;
    }
  }
  cudnn_count(CudnnCounter::sdpa_declined);
  return false;
}

}  // namespace tessera::cuda

#endif  // TESSERA_CUDNN_FRONTEND
