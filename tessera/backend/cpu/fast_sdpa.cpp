// CPU kernel of ScaledDotProductAttention: an online softmax over key blocks, one task per query row.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tessera/backend/cpu/fast_common.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/fast.h"

namespace tessera::fast {

namespace {

constexpr int kBlock = 64;  // keys scored per online-softmax step

// Reads mask values as additive scores (bool: 0 or -inf).
template <typename M>
inline float mask_score(M m) {
  if constexpr (std::is_same_v<M, bool>) {
    return m ? 0.0f : -std::numeric_limits<float>::infinity();
  } else {
    return static_cast<float>(m);
  }
}

template <typename M>
void attention(const float* q, const float* k, const float* v, float* out, const M* mask, const Strides& mst,
               int B, int Hq, int Hkv, int Lq, int Lk, int D, int Dv, float scale, bool causal) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  size_t rows = static_cast<size_t>(B) * Hq * Lq;
  int group = Hq / Hkv;
  size_t work = static_cast<size_t>(Lk) * (D + Dv);
  cpu::parallel_for(rows, std::max<size_t>(1, 65536 / std::max<size_t>(work, 1)), [&](size_t rb, size_t re) {
    std::vector<float> acc(Dv);
    float scores[kBlock];
    for (size_t r = rb; r < re; ++r) {
      int i = static_cast<int>(r % Lq);
      int h = static_cast<int>((r / Lq) % Hq);
      int b = static_cast<int>(r / (static_cast<size_t>(Lq) * Hq));
      int kvh = h / group;
      const float* qr = q + r * D;
      const float* kb = k + (static_cast<size_t>(b) * Hkv + kvh) * Lk * D;
      const float* vb = v + (static_cast<size_t>(b) * Hkv + kvh) * Lk * Dv;
      const M* mrow = mask ? mask + b * mst[0] + h * mst[1] + i * mst[2] : nullptr;
      int64_t ms = mask ? mst[3] : 0;
      // Causal (bottom-right aligned): key j is visible when j <= i + Lk - Lq.
      int jend = causal ? std::clamp(i + Lk - Lq + 1, 0, Lk) : Lk;
      float m = neg_inf, l = 0.0f;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int j0 = 0; j0 < jend; j0 += kBlock) {
        int n = std::min(kBlock, jend - j0);
        float bmax = neg_inf;
        for (int t = 0; t < n; ++t) {
          float sc = cpu::dot16(qr, kb + static_cast<size_t>(j0 + t) * D, D) * scale;
          if (mrow) sc += mask_score(mrow[(j0 + t) * ms]);
          scores[t] = sc;
          bmax = std::max(bmax, sc);
        }
        if (bmax == neg_inf) continue;  // the whole block is masked out
        float m_new = std::max(m, bmax);
        float corr = std::exp(m - m_new);  // 0 on the first visible block (m = -inf)
        l *= corr;
        for (int c = 0; c < Dv; ++c) acc[c] *= corr;
        for (int t = 0; t < n; ++t) {
          float p = std::exp(scores[t] - m_new);
          l += p;
          const float* vr = vb + static_cast<size_t>(j0 + t) * Dv;
          for (int c = 0; c < Dv; ++c) acc[c] += p * vr[c];
        }
        m = m_new;
      }
      // A row that sees no key gets 0/0 = NaN, like softmax over all -inf.
      float inv = l > 0.0f ? 1.0f / l : std::numeric_limits<float>::quiet_NaN();
      float* orow = out + r * Dv;
      for (int c = 0; c < Dv; ++c) orow[c] = acc[c] * inv;
    }
  });
}

}  // namespace

void ScaledDotProductAttention::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  array q = cpu::contiguous_as(inputs[0], float32);
  array k = cpu::contiguous_as(inputs[1], float32);
  array v = cpu::contiguous_as(inputs[2], float32);
  int B = q.shape(0), Hq = q.shape(1), Lq = q.shape(2), D = q.shape(3);
  int Hkv = k.shape(1), Lk = k.shape(2), Dv = v.shape(3);
  // Result in float32, then converted when the output has another dtype.
  array res = out.dtype() == float32 ? out : array(out.shape(), float32, nullptr, {});
  res.set_data(allocator::malloc(res.nbytes()));
  float* o = res.data<float>();
  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  if (res.size() > 0) {
    if (!has_mask_) {
      attention<float>(qp, kp, vp, o, nullptr, {}, B, Hq, Hkv, Lq, Lk, D, Dv, scale_, causal_);
    } else {
      const array& mask = inputs[3];
      if (mask.dtype() == bool_) {
        attention<bool>(qp, kp, vp, o, mask.data<bool>(), mask.strides(), B, Hq, Hkv, Lq, Lk, D, Dv, scale_, causal_);
      } else {
        array mf = mask.dtype() == float32 ? mask : cpu::contiguous_as(mask, float32);
        attention<float>(qp, kp, vp, o, mf.data<float>(), mf.strides(), B, Hq, Hkv, Lq, Lk, D, Dv, scale_, causal_);
      }
    }
  }
  if (out.dtype() != float32) cpu::copy_to_contiguous(res, out);
}

}  // namespace tessera::fast
