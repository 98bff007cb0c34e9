// nn::functional (the one implementation of the layers' math) against float64 loop references, the C++
// layers against their functional forms with the same weights, gradients against finite differences.
#include <cmath>
#include <limits>

#include "attention_reference.h"
#include "tessera/nn.h"
#include "test_utils.h"

namespace tessera {
namespace {

namespace F = nn::functional;
using testing::all_close;
using testing::random_array;

std::vector<double> vals(const array& a) { return astype(a, float64).to_vector<double>(); }

// x (M, K) row-major times w (N, K)^T plus b (N,) or nothing, in float64.
std::vector<double> linear_ref(const std::vector<double>& x, const std::vector<double>& w,
                               const std::vector<double>& b, int M, int K, int N) {
  std::vector<double> y(static_cast<size_t>(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double acc = b.empty() ? 0.0 : b[n];
      for (int k = 0; k < K; ++k) acc += x[m * K + k] * w[n * K + k];
      y[m * N + n] = acc;
    }
  return y;
}

TEST(NnFunctional, LinearAndEmbedding) {
  auto x = random_array({2, 3, 5}, float32, -1, 1, 1);
  auto w = random_array({4, 5}, float32, -1, 1, 2);
  auto b = random_array({4}, float32, -1, 1, 3);
  EXPECT_TRUE(all_close(F::linear(x, w, b), linear_ref(vals(x), vals(w), vals(b), 6, 5, 4), 1e-5, 1e-6));
  EXPECT_TRUE(all_close(F::linear(x, w), linear_ref(vals(x), vals(w), {}, 6, 5, 4), 1e-5, 1e-6));
  // The layer with the same weights gives the same output.
  nn::Linear lin(5, 4);
  lin.update(FlatTree{{"weight", w}, {"bias", b}});
  EXPECT_TRUE(all_close(lin(x), vals(F::linear(x, w, b)), 0, 0));
  EXPECT_THROW(F::linear(x, transpose(w)), std::invalid_argument);
  EXPECT_THROW(F::linear(x, reshape(w, {20})), std::invalid_argument);

  auto table = random_array({6, 3}, float32, -1, 1, 4);
  auto idx = array({5, 0, 2, 2}, {2, 2}, int32);
  auto tv = vals(table);
  std::vector<double> ref;
  for (int i : {5, 0, 2, 2})
    for (int d = 0; d < 3; ++d) ref.push_back(tv[i * 3 + d]);
  auto e = F::embedding(idx, table);
  EXPECT_EQ(e.shape(), (Shape{2, 2, 3}));
  EXPECT_TRUE(all_close(e, ref, 0, 0));
  EXPECT_THROW(F::embedding(array({1.0f}), table), std::invalid_argument);
  EXPECT_THROW(F::embedding(idx, reshape(table, {18})), std::invalid_argument);
}

TEST(NnFunctional, GroupNormWithoutAffineBothGroupings) {
  // x (B=2, L=3, C=6), 3 groups, no weight/bias.
  auto x = random_array({2, 3, 6}, float32, -2, 2, 5);
  auto xv = vals(x);
  for (bool torch : {false, true}) {
    std::vector<double> ref(xv.size());
    for (int b = 0; b < 2; ++b)
      for (int g = 0; g < 3; ++g) {
        auto in = [&](int c) { return torch ? c / 2 == g : c % 3 == g; };
        double m = 0, v = 0, n = 0;
        for (int i = 0; i < 18; ++i)
          if (in(i % 6)) m += xv[b * 18 + i], n += 1;
        m /= n;
        for (int i = 0; i < 18; ++i)
          if (in(i % 6)) v += std::pow(xv[b * 18 + i] - m, 2) / n;
        for (int i = 0; i < 18; ++i)
          if (in(i % 6)) ref[b * 18 + i] = (xv[b * 18 + i] - m) / std::sqrt(v + 1e-5);
      }
    EXPECT_TRUE(all_close(F::group_norm(x, 3, std::nullopt, std::nullopt, 1e-5f, torch), ref, 1e-4, 1e-5))
        << "pytorch_compatible " << torch;
  }
  EXPECT_THROW(F::group_norm(x, 4, std::nullopt, std::nullopt), std::invalid_argument);
  EXPECT_THROW(F::group_norm(reshape(x, {36}), 3, std::nullopt, std::nullopt), std::invalid_argument);
}

TEST(NnFunctional, BatchNormReturnsUpdatedRunningStatistics) {
  auto x = random_array({4, 2, 3}, float32, -1, 3, 6);
  auto xv = vals(x);
  std::vector<double> m(3, 0), v(3, 0);
  for (size_t i = 0; i < xv.size(); ++i) m[i % 3] += xv[i] / 8;
  for (size_t i = 0; i < xv.size(); ++i) v[i % 3] += std::pow(xv[i] - m[i % 3], 2) / 8;
  auto rm = array({0.5f, -1.0f, 0.0f}), rv = array({2.0f, 1.0f, 0.5f});
  auto r = F::batch_norm(x, std::nullopt, std::nullopt, rm, rv, true, 0.25f, 1e-5f);
  ASSERT_TRUE(r.running_mean && r.running_var);
  std::vector<double> rm_ref{0.75 * 0.5 + 0.25 * m[0], -0.75 + 0.25 * m[1], 0.25 * m[2]};
  std::vector<double> rv_ref{1.5 + 0.25 * v[0], 0.75 + 0.25 * v[1], 0.375 + 0.25 * v[2]};
  EXPECT_TRUE(all_close(*r.running_mean, rm_ref, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(*r.running_var, rv_ref, 1e-5, 1e-6));
  std::vector<double> y_ref(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) y_ref[i] = (xv[i] - m[i % 3]) / std::sqrt(v[i % 3] + 1e-5);
  EXPECT_TRUE(all_close(r.y, y_ref, 1e-4, 1e-5));
  // Eval: the running statistics, nothing returned to update.
  auto e = F::batch_norm(x, array({2.0f, 1.0f, 1.0f}), array({0.0f, 0.0f, 1.0f}), rm, rv, false);
  EXPECT_FALSE(e.running_mean.has_value());
  std::vector<double> rmv{0.5, -1, 0}, rvv{2, 1, 0.5}, wv{2, 1, 1}, bv{0, 0, 1};
  for (size_t i = 0; i < xv.size(); ++i) {
    int c = i % 3;
    y_ref[i] = (xv[i] - rmv[c]) / std::sqrt(rvv[c] + 1e-5) * wv[c] + bv[c];
  }
  EXPECT_TRUE(all_close(e.y, y_ref, 1e-4, 1e-5));
  // The layer in training mode updates its running statistics through the same function.
  nn::BatchNorm bn(3, 1e-5f, 0.25f);
  bn.update(FlatTree{{"running_mean", rm}, {"running_var", rv}});
  EXPECT_TRUE(all_close(bn(x), vals(r.y), 0, 0));
  EXPECT_TRUE(all_close(bn.get_array("running_mean"), rm_ref, 1e-5, 1e-6));
  EXPECT_THROW(F::batch_norm(x, std::nullopt, std::nullopt, rm, std::nullopt, true), std::invalid_argument);
  EXPECT_THROW(F::batch_norm(x, array({1.0f, 1.0f}), std::nullopt, std::nullopt, std::nullopt, true),
               std::invalid_argument);
}

TEST(NnFunctional, DropoutWithKeyIsReproducibleAndScaled) {
  auto x = ones({4000});
  auto key = random::key(7);
  auto a = F::dropout(x, 0.25f, key), b = F::dropout(x, 0.25f, key);
  auto av = vals(a);
  EXPECT_EQ(av, vals(b));
  int zeros_n = 0;
  for (double v : av) {
    EXPECT_TRUE(v == 0.0 || std::abs(v - 1.0 / 0.75) < 1e-6) << v;
    zeros_n += v == 0.0;
  }
  EXPECT_GT(zeros_n, 850);
  EXPECT_LT(zeros_n, 1150);
  EXPECT_EQ(F::dropout(array({1, 2}), 0.5f, key).dtype(), float32);
  EXPECT_THROW(F::dropout(x, 1.0f), std::invalid_argument);
  EXPECT_THROW(F::dropout(x, -0.1f), std::invalid_argument);
}

TEST(NnFunctional, ConvolutionAddsBiasAndMatchesTheLayer) {
  random::seed(3);
  nn::Conv1d c1(2, 3, 3, 1, 1);
  auto bias = array({0.5f, -1.0f, 2.0f});
  c1.update(FlatTree{{"bias", bias}});
  auto x = random_array({1, 5, 2}, float32, -1, 1, 8);
  auto w = c1.get_array("weight");
  auto xv = vals(x), wv = vals(w);
  std::vector<double> ref;
  for (int l = 0; l < 5; ++l)
    for (int o = 0; o < 3; ++o) {
      double acc = vals(bias)[o];
      for (int k = 0; k < 3; ++k) {
        int p = l - 1 + k;
        if (p < 0 || p >= 5) continue;
        for (int c = 0; c < 2; ++c) acc += xv[p * 2 + c] * wv[(o * 3 + k) * 2 + c];
      }
      ref.push_back(acc);
    }
  EXPECT_TRUE(all_close(F::conv1d(x, w, bias, 1, 1), ref, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(c1(x), ref, 1e-5, 1e-6));
  nn::Conv2d c2(2, 4, 3, 2, 1);
  auto x2 = random_array({2, 5, 5, 2}, float32, -1, 1, 9);
  EXPECT_TRUE(all_close(c2(x2), vals(F::conv2d(x2, c2.get_array("weight"), c2.get_array("bias"), {2, 2}, {1, 1})),
                        0, 0));
}

TEST(NnFunctional, PoolingArgumentsAndValues) {
  EXPECT_EQ(F::pool_strides("P", {3, 2}, {}, {1, 0}), (std::vector<int>{3, 2}));
  EXPECT_EQ(F::pool_strides("P", {3, 2}, {0, 1}, {}), (std::vector<int>{3, 1}));
  auto msg = testing::error_message([] { F::pool_strides("MaxPool1d", {2}, {1}, {2}); });
  EXPECT_EQ(msg.rfind("[nn] MaxPool1d", 0), 0u) << msg;
  EXPECT_THROW(F::pool_strides("P", {2, 2}, {1}, {}), std::invalid_argument);
  EXPECT_THROW(F::pool_strides("P", {0}, {}, {}), std::invalid_argument);
  auto x = array({1.0f, 5.0f, -2.0f, 3.0f, 0.0f}, {1, 5, 1});
  EXPECT_TRUE(all_close(F::max_pool(x, {3}, {2}, {1}), {5, 5, 3}, 0, 0));
  EXPECT_TRUE(all_close(F::avg_pool(x, {2}), {3, 0.5}, 1e-6, 0));
  EXPECT_THROW(F::max_pool(x, {6}), std::invalid_argument);
  EXPECT_THROW(F::avg_pool(reshape(x, {5, 1}), {2}), std::invalid_argument);
}

TEST(NnFunctional, MultiHeadAttentionFromWeightsMatchesFloat64AndTheLayer) {
  int B = 2, L = 4, S = 5, D = 6, H = 3, hd = 2;
  auto q_in = random_array({B, L, D}, float32, -1, 1, 10);
  auto kv_in = random_array({B, S, D}, float32, -1, 1, 11);
  F::AttentionWeights w{random_array({D, D}, float32, -0.5, 0.5, 12), random_array({D, D}, float32, -0.5, 0.5, 13),
                        random_array({D, D}, float32, -0.5, 0.5, 14), random_array({D, D}, float32, -0.5, 0.5, 15),
                        random_array({D}, float32, -0.5, 0.5, 16),    std::nullopt,
                        random_array({D}, float32, -0.5, 0.5, 17),    random_array({D}, float32, -0.5, 0.5, 18)};
  auto mask = F::additive_causal_mask(S);  // (S, S): broadcast as (L=4 rows of the first 4) below
  mask = slice(mask, {1, 0}, {S, S});       // (4, 5): query i attends keys j <= i + 1
  auto out = F::multi_head_attention(q_in, kv_in, kv_in, H, w, mask);
  // float64: project, split heads (B, H, L, hd), attend, merge, project out.
  auto q = linear_ref(vals(q_in), vals(w.query), vals(*w.query_bias), B * L, D, D);
  auto k = linear_ref(vals(kv_in), vals(w.key), {}, B * S, D, D);
  auto v = linear_ref(vals(kv_in), vals(w.value), vals(*w.value_bias), B * S, D, D);
  auto heads = [&](const std::vector<double>& t, int len) {
    std::vector<double> r(t.size());
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < len; ++i)
        for (int h = 0; h < H; ++h)
          for (int d = 0; d < hd; ++d) r[((b * H + h) * len + i) * hd + d] = t[(b * len + i) * D + h * hd + d];
    return r;
  };
  std::vector<double> add(static_cast<size_t>(B) * H * L * S);
  auto mv = vals(mask);
  for (size_t i = 0; i < add.size(); ++i) add[i] = mv[i % (L * S)];
  auto o = testing::reference_attention(heads(q, L), heads(k, S), heads(v, S), add, B, H, H, L, S, hd,
                                        1.0 / std::sqrt(double(hd)), false);
  std::vector<double> merged(static_cast<size_t>(B) * L * D);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < L; ++i)
        for (int d = 0; d < hd; ++d) merged[(b * L + i) * D + h * hd + d] = o[((b * H + h) * L + i) * hd + d];
  auto ref = linear_ref(merged, vals(w.out), vals(*w.out_bias), B * L, D, D);
  EXPECT_TRUE(all_close(out, ref, 1e-4, 1e-5));
  // The layer (bias on) with the same weights (key bias zero).
  nn::MultiHeadAttention mha(D, H, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, true);
  mha.update(FlatTree{{"query_proj.weight", w.query},
                      {"query_proj.bias", *w.query_bias},
                      {"key_proj.weight", w.key},
                      {"key_proj.bias", zeros({D})},
                      {"value_proj.weight", w.value},
                      {"value_proj.bias", *w.value_bias},
                      {"out_proj.weight", w.out},
                      {"out_proj.bias", *w.out_bias}});
  EXPECT_TRUE(all_close(mha(q_in, kv_in, kv_in, mask), ref, 1e-4, 1e-5));
  EXPECT_THROW(F::attention_heads(q_in, kv_in, kv_in, 4), std::invalid_argument);
  EXPECT_THROW(F::attention_heads(q_in, kv_in, kv_in, 3, std::nullopt, "banded"), std::invalid_argument);
  EXPECT_THROW(F::attention_heads(reshape(q_in, {8, 6}), kv_in, kv_in, 3), std::invalid_argument);
  EXPECT_THROW(F::additive_causal_mask(3, int32), std::invalid_argument);
}

TEST(NnFunctional, TransformerEncoderLayerWiring) {
  auto x = random_array({1, 2, 3}, float32, -1, 1, 19);
  auto xv = vals(x);
  auto attention = [](const array& y) { return multiply(y, array(2.0f)); };
  auto mlp = [](const array& y) { return add(y, array(1.0f)); };
  auto ln1 = [](const array& y) { return multiply(y, array(0.5f)); };
  auto ln2 = [](const array& y) { return multiply(y, array(3.0f)); };
  auto id = [](const array& y) { return y; };
  std::vector<double> pre, post;
  for (double v : xv) {
    double h = v + 2 * 0.5 * v;             // x + attn(ln1 x)
    pre.push_back(h + 3 * h + 1);           // h + mlp(ln2 h)
    double g = 0.5 * (v + 2 * v);           // ln1(x + attn x)
    post.push_back(3 * (g + g + 1));        // ln2(g + mlp g)
  }
  EXPECT_TRUE(all_close(F::transformer_encoder_layer(x, attention, mlp, ln1, ln2, id, true), pre, 1e-6, 1e-6));
  EXPECT_TRUE(all_close(F::transformer_encoder_layer(x, attention, mlp, ln1, ln2, id, false), post, 1e-6, 1e-6));
  EXPECT_THROW(F::transformer_encoder_layer(x, nullptr, mlp, ln1, ln2, id), std::invalid_argument);
}

TEST(NnFunctional, QuantizedLinearAndEmbeddingMatchDequantizedWeights) {
  auto w = random_array({8, 64}, float32, -1, 1, 20);
  auto q = quantize(w, 32, 4);
  auto wd = dequantize(q[0], q[1], q[2], 32, 4);
  auto x = random_array({3, 64}, float32, -1, 1, 21);
  auto b = random_array({8}, float32, -1, 1, 22);
  auto ref = linear_ref(vals(x), vals(wd), vals(b), 3, 64, 8);
  EXPECT_TRUE(all_close(F::quantized_linear(x, q[0], q[1], q[2], b, 32, 4), ref, 1e-4, 1e-4));
  auto idx = array({7, 1});
  auto wdv = vals(wd);
  std::vector<double> rows(wdv.begin() + 7 * 64, wdv.begin() + 8 * 64);
  rows.insert(rows.end(), wdv.begin() + 64, wdv.begin() + 128);
  EXPECT_TRUE(all_close(F::quantized_embedding(idx, q[0], q[1], q[2], 32, 4), rows, 1e-6, 1e-6));
  EXPECT_THROW(F::quantized_embedding(array({1.5f}), q[0], q[1], q[2], 32, 4), std::invalid_argument);
}

TEST(NnFunctional, GradientsMatchFiniteDifferences) {
  // d/dw of sum(group_norm(linear(x, w, b), weight=g) * r) in float64 against central differences.
  auto x = random_array({2, 3, 4}, float64, -1, 1, 23);
  auto w = random_array({4, 4}, float64, -1, 1, 24);
  auto b = random_array({4}, float64, -1, 1, 25);
  auto g = random_array({4}, float64, 0.5, 1.5, 26);
  auto r = random_array({2, 3, 4}, float64, -1, 1, 27);
  auto loss = [&](const std::vector<array>& p) {
    auto y = F::group_norm(F::linear(p[0], p[1], p[2]), 2, p[3], std::nullopt, 1e-5f);
    return std::vector<array>{sum(multiply(y, r))};
  };
  auto [outs, grads] = value_and_grad(VecFn(loss), {0, 1, 2, 3})({x, w, b, g});
  std::vector<array> params{x, w, b, g};
  for (size_t p = 0; p < params.size(); ++p) {
    auto base = vals(params[p]);
    auto gv = vals(grads[p]);
    for (size_t i = 0; i < base.size(); i += 3) {
      auto plus = base, minus = base;
      plus[i] += 1e-6;
      minus[i] -= 1e-6;
      auto with = [&](const std::vector<double>& v) {
        auto ps = params;
        ps[p] = array(v, params[p].shape(), float64);
        return loss(ps)[0].item<double>();
      };
      double fd = (with(plus) - with(minus)) / 2e-6;
      EXPECT_NEAR(gv[i], fd, 1e-5 + 1e-5 * std::abs(fd)) << "param " << p << " entry " << i;
    }
  }
}

TEST(NnFunctional, StepActivation) {
  auto y = nn::step(array({-1.0f, 0.0f, 0.5f, 2.0f}), 0.25f);
  EXPECT_EQ(y.dtype(), int32);
  EXPECT_EQ(y.to_vector<int>(), (std::vector<int>{0, 0, 1, 1}));
  EXPECT_EQ(nn::step(array({-2, 0, 3})).to_vector<int>(), (std::vector<int>{0, 0, 1}));
}

}  // namespace
}  // namespace tessera
