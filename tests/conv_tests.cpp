// Tests of conv1d/conv2d/conv3d against a float64 direct-definition convolution.
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

struct Conv2dCfg {
  int N, H, W, Cin, Cout, KH, KW, sh, sw, ph, pw, dh, dw, groups;
};

// Direct 2-D convolution: x (N, H, W, Cin), w (Cout, KH, KW, Cin/groups) -> (N, OH, OW, Cout).
std::vector<double> ref_conv2d(const std::vector<double>& x, const std::vector<double>& w, const Conv2dCfg& c,
                               int* OH, int* OW) {
  *OH = (c.H + 2 * c.ph - c.dh * (c.KH - 1) - 1) / c.sh + 1;
  *OW = (c.W + 2 * c.pw - c.dw * (c.KW - 1) - 1) / c.sw + 1;
  int Cg = c.Cin / c.groups, Cog = c.Cout / c.groups;
  std::vector<double> y(static_cast<size_t>(c.N) * *OH * *OW * c.Cout, 0.0);
  for (int n = 0; n < c.N; ++n)
    for (int oh = 0; oh < *OH; ++oh)
      for (int ow = 0; ow < *OW; ++ow)
        for (int co = 0; co < c.Cout; ++co) {
          int g = co / Cog;
          double s = 0;
          for (int kh = 0; kh < c.KH; ++kh)
            for (int kw = 0; kw < c.KW; ++kw) {
              int ih = oh * c.sh - c.ph + kh * c.dh, iw = ow * c.sw - c.pw + kw * c.dw;
              if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
              for (int ci = 0; ci < Cg; ++ci) {
                s += x[((static_cast<size_t>(n) * c.H + ih) * c.W + iw) * c.Cin + g * Cg + ci] *
                     w[((static_cast<size_t>(co) * c.KH + kh) * c.KW + kw) * Cg + ci];
              }
            }
          y[((static_cast<size_t>(n) * *OH + oh) * *OW + ow) * c.Cout + co] = s;
        }
  return y;
}

double tol_for(Dtype d) { return d == float64 ? 1e-10 : d == float32 ? 1e-4 : d == float16 ? 1e-2 : 5e-2; }

}  // namespace

TEST(Conv, Conv2dConfigs) {
  std::vector<Conv2dCfg> cfgs = {
      {2, 5, 6, 3, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1},   // plain
      {1, 7, 7, 2, 3, 3, 2, 2, 1, 1, 2, 1, 1, 1},   // stride/padding, rectangular kernel
      {2, 9, 8, 4, 6, 3, 3, 1, 2, 2, 1, 2, 1, 2},   // dilation + groups
      {1, 6, 6, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4},   // depthwise
      {2, 4, 5, 6, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2},   // pointwise with groups (no im2col)
      {1, 4, 4, 3, 5, 1, 1, 2, 2, 0, 0, 1, 1, 1},   // 1x1 strided
      {1, 3, 3, 2, 2, 5, 5, 1, 1, 2, 2, 1, 1, 1},   // kernel larger than input, padded
  };
  for (Dtype dt : {float32, float64, float16, bfloat16}) {
    for (auto& c : cfgs) {
      auto x = random_array({c.N, c.H, c.W, c.Cin}, dt, -1, 1, 1);
      auto w = random_array({c.Cout, c.KH, c.KW, c.Cin / c.groups}, dt, -1, 1, 2);
      auto y = conv2d(x, w, {c.sh, c.sw}, {c.ph, c.pw}, {c.dh, c.dw}, c.groups);
      int OH, OW;
      auto ref = ref_conv2d(x.to_vector<double>(), w.to_vector<double>(), c, &OH, &OW);
      EXPECT_EQ(y.shape(), Shape({c.N, OH, OW, c.Cout}));
      EXPECT_EQ(y.dtype(), dt);
      double tol = tol_for(dt);
      EXPECT_TRUE(all_close(y, ref, tol, tol * c.KH * c.KW)) << dtype_name(dt) << " groups " << c.groups;
    }
  }
}

TEST(Conv, Conv1d) {
  struct C1 {
    int N, L, Cin, Cout, K, stride, pad, dil, groups;
  };
  for (auto c : std::vector<C1>{{2, 10, 3, 4, 3, 1, 0, 1, 1}, {1, 11, 4, 6, 4, 2, 3, 2, 2}, {3, 5, 2, 2, 1, 1, 0, 1, 2}}) {
    for (Dtype dt : {float32, float64, bfloat16}) {
      auto x = random_array({c.N, c.L, c.Cin}, dt, -1, 1, 3);
      auto w = random_array({c.Cout, c.K, c.Cin / c.groups}, dt, -1, 1, 4);
      auto y = conv1d(x, w, c.stride, c.pad, c.dil, c.groups);
      Conv2dCfg c2{c.N, 1, c.L, c.Cin, c.Cout, 1, c.K, 1, c.stride, 0, c.pad, 1, c.dil, c.groups};
      int OH, OW;
      auto ref = ref_conv2d(x.to_vector<double>(), w.to_vector<double>(), c2, &OH, &OW);
      EXPECT_EQ(y.shape(), Shape({c.N, OW, c.Cout}));
      double tol = tol_for(dt);
      EXPECT_TRUE(all_close(y, ref, tol, tol * c.K)) << dtype_name(dt);
    }
  }
}

TEST(Conv, Conv3dMatchesStackedConv2d) {
  // A 3-D conv with KD = 1 and D = 1 is a 2-D conv.
  auto x = random_array({2, 1, 5, 5, 3}, float32, -1, 1, 5);
  auto w = random_array({4, 1, 3, 3, 3}, float32, -1, 1, 6);
  auto y = conv3d(x, w, {1, 2, 1}, {0, 1, 1}, {1, 1, 2});
  Conv2dCfg c{2, 5, 5, 3, 4, 3, 3, 2, 1, 1, 1, 1, 2, 1};
  int OH, OW;
  auto ref = ref_conv2d(x.to_vector<double>(), w.to_vector<double>(), c, &OH, &OW);
  EXPECT_EQ(y.shape(), Shape({2, 1, OH, OW, 4}));
  EXPECT_TRUE(all_close(y, ref, 1e-4, 1e-4));
}

TEST(Conv, NonContiguousInputs) {
  // NCHW data viewed as NHWC, and a weight given as (Cin, KH, KW, Cout) transposed.
  auto xn = random_array({2, 3, 6, 5}, float32, -1, 1, 7);
  auto x = transpose(xn, {0, 2, 3, 1});                                         // (2, 6, 5, 3)
  auto w = transpose(random_array({3, 2, 2, 4}, float32, -1, 1, 8), {3, 1, 2, 0});  // (4, 2, 2, 3)
  auto xs = slice(random_array({2, 12, 5, 3}, float32, -1, 1, 9), {0, 0, 0, 0}, {2, 12, 5, 3}, {1, 2, 1, 1});
  Conv2dCfg c{2, 6, 5, 3, 4, 2, 2, 1, 2, 1, 0, 1, 1, 1};
  int OH, OW;
  for (auto in : std::vector<array>{x, xs}) {
    auto y = conv2d(in, w, {1, 2}, {1, 0});
    auto ref = ref_conv2d(in.to_vector<double>(), w.to_vector<double>(), c, &OH, &OW);
    EXPECT_TRUE(all_close(y, ref, 1e-4, 1e-4));
  }
}

TEST(Conv, Errors) {
  auto x = ones({1, 5, 5, 4});
  auto w = ones({2, 3, 3, 4});
  auto starts = [](const std::string& m, const char* p) { return m.rfind(p, 0) == 0; };
  EXPECT_TRUE(starts(error_message([&] { conv2d(ones({5, 5, 4}), w); }), "[conv2d]"));
  EXPECT_TRUE(starts(error_message([&] { conv2d(x, ones({2, 3, 4})); }), "[conv2d]"));
  EXPECT_TRUE(starts(error_message([&] { conv2d(x, ones({2, 3, 3, 3})); }), "[conv2d]"));     // channel mismatch
  EXPECT_TRUE(starts(error_message([&] { conv2d(x, ones({3, 3, 3, 2}), {1, 1}, {0, 0}, {1, 1}, 2); }), "[conv2d]"));  // Cout % groups
  EXPECT_TRUE(starts(error_message([&] { conv2d(x, ones({2, 3, 3, 3}), {1, 1}, {0, 0}, {1, 1}, 3); }), "[conv2d]"));  // Cin % groups
  EXPECT_TRUE(starts(error_message([&] { conv2d(x, w, {0, 1}); }), "[conv2d]"));
  EXPECT_TRUE(starts(error_message([&] { conv2d(x, w, {1, 1}, {-1, 0}); }), "[conv2d]"));
  EXPECT_TRUE(starts(error_message([&] { conv2d(x, w, {1, 1}, {0, 0}, {1, 0}); }), "[conv2d]"));
  EXPECT_TRUE(starts(error_message([&] { conv2d(x, w, {1, 1}, {0, 0}, {1, 1}, 0); }), "[conv2d]"));
  EXPECT_TRUE(starts(error_message([&] { conv2d(x, ones({2, 7, 3, 4})); }), "[conv2d]"));    // kernel too large
  EXPECT_TRUE(starts(error_message([&] { conv2d(x, w, {1, 1}, {0, 0}, {3, 1}); }), "[conv2d]"));  // dilated too large
  EXPECT_TRUE(starts(error_message([&] { conv2d(astype(x, int32), astype(w, int32)); }), "[conv2d]"));
  EXPECT_TRUE(starts(error_message([&] { conv1d(ones({1, 5}), ones({2, 3, 1})); }), "[conv1d]"));
  EXPECT_TRUE(starts(error_message([&] { conv1d(ones({1, 5, 2}), ones({2, 3, 1}), 1, 0, 1, 3); }), "[conv1d]"));
  EXPECT_TRUE(starts(error_message([&] { conv1d(ones({1, 5, 2}), ones({2, 3, 2}), -1); }), "[conv1d]"));
  EXPECT_THROW(conv1d(ones({1, 2, 2}), ones({2, 3, 2})), std::invalid_argument);
}
