// The fused kernels of Llama's GPU decode step (tessera/lm/models/fused_decode.h) against the
// element-wise ops they replace: residual add + RMSNorm, and the gated activation of a stacked
// gate/up product, for f32/f16/bf16, rows 1 and 3, widths that are and are not multiples of a block.
#include "gpu_test_utils.h"
#include "tessera/fast.h"
#include "tessera/lm/models/fused_decode.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuFusedDecode : public GpuTest {};

// Largest |a - b| over max(1, |b|) elementwise, in float32.
float max_rel(const array& a, const array& b) {
  array fa = astype(a, float32), fb = astype(b, float32);
  return max(abs(fa - fb) / maximum(abs(fb), array(1.0f))).item<float>();
}

float tolerance(Dtype d) { return d == float32 ? 1e-5f : d == float16 ? 2e-3f : 1.6e-2f; }

}  // namespace

TEST_F(GpuFusedDecode, AddRmsNormMatchesAddThenRmsNorm) {
  ASSERT_TRUE(lm::fused_decode_available());
  for (Dtype d : {float32, float16, bfloat16}) {
    for (int H : {4096, 300}) {
      for (int rows : {1, 3}) {
        array x = random_array({rows, 1, H}, d, -4, 4, H + rows);
        array a = random_array({rows, 1, H}, d, -4, 4, H + rows + 1);
        array w = random_array({H}, float32, 0.5, 1.5, H + 2);
        auto [h, n] = lm::add_rms_norm(x, a, w, 1e-5f);
        array want_h = x + a;
        array want_n = fast::rms_norm(want_h, w, 1e-5f);
        EXPECT_EQ(h.shape(), x.shape());
        EXPECT_EQ(n.dtype(), d);
        EXPECT_EQ(max_rel(h, want_h), 0.0f) << dtype_name(d) << " H " << H << " rows " << rows;
        EXPECT_LT(max_rel(n, want_n), tolerance(d)) << dtype_name(d) << " H " << H << " rows " << rows;
      }
    }
  }
  EXPECT_THROW(lm::add_rms_norm(zeros({2, 8}), zeros({2, 9}), ones({8}), 1e-5f), std::invalid_argument);
}

TEST_F(GpuFusedDecode, GatedActivationMatchesSplitActivationTimesUp) {
  for (Dtype d : {float32, float16, bfloat16}) {
    for (int I : {11008, 100}) {
      for (int rows : {1, 3}) {
        array gu = random_array({rows, 1, 2 * I}, d, -6, 6, I + rows);
        auto parts = split(gu, 2, -1);
        array g = astype(parts[0], float32), u = astype(parts[1], float32);
        const float c = 0.7978845608028654f;
        array want[3] = {g * sigmoid(g) * u,
                         array(0.5f) * g * (array(1.0f) + erf(g * array(0.70710678f))) * u,
                         array(0.5f) * g * (array(1.0f) + tanh(array(c) * (g + array(0.044715f) * g * g * g))) * u};
        for (int act = 0; act < 3; ++act) {
          array out = lm::gated_activation_stacked(gu, act);
          EXPECT_EQ(out.shape(), (Shape{rows, 1, I}));
          EXPECT_LT(max_rel(out, want[act]), tolerance(d)) << dtype_name(d) << " I " << I << " act " << act;
        }
      }
    }
  }
  EXPECT_THROW(lm::gated_activation_stacked(zeros({2, 7}), 0), std::invalid_argument);
}
