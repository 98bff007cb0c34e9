// nn::MaxPool/AvgPool 1d/2d, nn::BatchNorm and nn::TransformerEncoderLayer against float64 loop
// references (pooling, batch norm) and a float64 composition of plain ops (the encoder layer).
#include <cmath>
#include <limits>
#include <map>

#include "tessera/nn.h"
#include "test_utils.h"

namespace tessera {
namespace {

using testing::all_close;
using testing::random_array;

// x (N, H, W, C) row-major; windows of k, stride s, padding p per spatial axis (p pads -inf / 0).
std::vector<double> pool_reference(const std::vector<double>& x, int N, int H, int W, int C, std::pair<int, int> k,
                                   std::pair<int, int> s, std::pair<int, int> p, bool is_max) {
  int OH = (H + 2 * p.first - k.first) / s.first + 1, OW = (W + 2 * p.second - k.second) / s.second + 1;
  std::vector<double> out;
  for (int n = 0; n < N; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow)
        for (int c = 0; c < C; ++c) {
          double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
          for (int i = 0; i < k.first; ++i)
            for (int j = 0; j < k.second; ++j) {
              int h = oh * s.first + i - p.first, w = ow * s.second + j - p.second;
              bool inside = h >= 0 && h < H && w >= 0 && w < W;
              double v = inside ? x[((n * H + h) * W + w) * C + c] : (is_max ? -INFINITY : 0.0);
              acc = is_max ? std::max(acc, v) : acc + v;
            }
          out.push_back(is_max ? acc : acc / (k.first * k.second));
        }
  return out;
}

TEST(NnPooling, Pool2dMatchesLoops) {
  auto x = random_array({2, 7, 6, 3}, float64, -1, 1, 1);
  auto xv = x.to_vector<double>();
  for (bool is_max : {true, false}) {
    for (auto [k, s, p] : std::vector<std::tuple<std::pair<int, int>, std::pair<int, int>, std::pair<int, int>>>{
             {{2, 2}, {0, 0}, {0, 0}}, {{3, 2}, {2, 1}, {1, 0}}, {{3, 3}, {2, 2}, {1, 1}}}) {
      SCOPED_TRACE(std::to_string(is_max) + " k " + std::to_string(k.first) + "x" + std::to_string(k.second));
      std::pair<int, int> st = s.first == 0 ? k : s;
      array y = is_max ? nn::MaxPool2d(k, s, p)(x) : nn::AvgPool2d(k, s, p)(x);
      int OH = (7 + 2 * p.first - k.first) / st.first + 1, OW = (6 + 2 * p.second - k.second) / st.second + 1;
      EXPECT_EQ(y.shape(), (Shape{2, OH, OW, 3}));
      EXPECT_TRUE(all_close(y, pool_reference(xv, 2, 7, 6, 3, k, st, p, is_max), 1e-12, 1e-12));
    }
  }
}

TEST(NnPooling, Pool1dMatchesLoopsAndDifferentiates) {
  auto x = random_array({2, 9, 2}, float64, -1, 1, 2);
  auto xv = x.to_vector<double>();
  // A 1-d pool is a 2-d pool with W = 1.
  EXPECT_TRUE(all_close(nn::MaxPool1d(3, 2, 1)(x), pool_reference(xv, 2, 9, 1, 2, {3, 1}, {2, 1}, {1, 0}, true)));
  EXPECT_TRUE(all_close(nn::AvgPool1d(2)(x), pool_reference(xv, 2, 9, 1, 2, {2, 1}, {2, 1}, {0, 0}, false)));
  nn::MaxPool1d pool(2);
  auto g = grad(std::function<array(const array&)>([&](const array& a) { return sum(pool(a)); }))(
      array({1.0, 3.0, 2.0, 0.0}, {1, 4, 1}));
  EXPECT_TRUE(all_close(g, {0, 1, 1, 0}));
  EXPECT_THROW(nn::MaxPool1d(2, 0, 2), std::invalid_argument);
  EXPECT_THROW(nn::AvgPool1d(0), std::invalid_argument);
  EXPECT_THROW(pool(zeros({2, 3})), std::invalid_argument);
  EXPECT_THROW(nn::MaxPool1d(5)(zeros({1, 3, 1})), std::invalid_argument);
  EXPECT_TRUE(tree_flatten(nn::AvgPool2d({2, 2}).parameters()).empty());
}

TEST(NnBatchNorm, TrainingUpdatesRunningStatsAndEvalUsesThem) {
  const int N = 4, L = 5, C = 3;
  auto x = add(multiply(random_array({N, L, C}, float64, -1, 1, 3), array(2.0)), array(1.0));
  auto xv = x.to_vector<double>();
  std::vector<double> m(C, 0), v(C, 0);
  for (size_t i = 0; i < xv.size(); ++i) m[i % C] += xv[i] / (N * L);
  for (size_t i = 0; i < xv.size(); ++i) v[i % C] += (xv[i] - m[i % C]) * (xv[i] - m[i % C]) / (N * L);
  nn::BatchNorm bn(C, 1e-5f, 0.25f);
  bn.update(FlatTree{{"weight", array({1.0, 2.0, 0.5}, {3})}, {"bias", array({0.0, -1.0, 3.0}, {3})}});
  std::vector<double> w{1.0, 2.0, 0.5}, b{0.0, -1.0, 3.0};
  std::vector<double> want;
  for (size_t i = 0; i < xv.size(); ++i) {
    int c = i % C;
    want.push_back((xv[i] - m[c]) / std::sqrt(v[c] + 1e-5) * w[c] + b[c]);
  }
  EXPECT_TRUE(all_close(bn(x), want, 1e-5, 1e-6));
  std::vector<double> rm, rv;
  for (int c = 0; c < C; ++c) {
    rm.push_back(0.25 * m[c]);
    rv.push_back(0.75 + 0.25 * v[c]);
  }
  EXPECT_TRUE(all_close(bn.get_array("running_mean"), rm, 1e-6, 1e-7));
  EXPECT_TRUE(all_close(bn.get_array("running_var"), rv, 1e-6, 1e-7));
  std::vector<std::string> trainable;
  for (auto& [k, a] : tree_flatten(bn.trainable_parameters())) trainable.push_back(k);
  EXPECT_EQ(trainable, (std::vector<std::string>{"weight", "bias"}));
  bn.eval();
  auto x2 = random_array({2, C}, float64, -1, 1, 4);
  auto x2v = x2.to_vector<double>();
  std::vector<double> want2;
  for (size_t i = 0; i < x2v.size(); ++i) {
    int c = i % C;
    want2.push_back((x2v[i] - rm[c]) / std::sqrt(rv[c] + 1e-5) * w[c] + b[c]);
  }
  EXPECT_TRUE(all_close(bn(x2), want2, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(bn.get_array("running_mean"), rm, 1e-6, 1e-7));  // eval leaves them
  EXPECT_THROW(bn(zeros({2, 4})), std::invalid_argument);
  EXPECT_THROW(nn::BatchNorm(0), std::invalid_argument);
}

// The encoder layer written with plain float64 ops from the layer's own weights.
array encoder_reference(nn::TransformerEncoderLayer& layer, const array& x, const std::optional<array>& mask,
                        bool norm_first, int heads) {
  std::map<std::string, array> p;
  for (auto& [k, a] : tree_flatten(layer.parameters())) p.emplace(k, astype(a, float64));
  auto lin = [&](const array& t, const std::string& name, bool bias) {
    auto y = matmul(t, transpose(p.at(name + ".weight")));
    return bias ? add(y, p.at(name + ".bias")) : y;
  };
  auto ln = [&](const array& t, const std::string& name) {
    auto m = mean(t, -1, true);
    auto c = subtract(t, m);
    auto v = mean(multiply(c, c), -1, true);
    return add(multiply(divide(c, sqrt(add(v, array(1e-5)))), p.at(name + ".weight")), p.at(name + ".bias"));
  };
  auto mha = [&](const array& t) {
    int B = t.shape(0), L = t.shape(1), D = t.shape(2);
    auto split = [&](const array& a) { return transpose(reshape(a, {B, L, heads, D / heads}), {0, 2, 1, 3}); };
    auto q = split(lin(t, "attention.query_proj", false)), k = split(lin(t, "attention.key_proj", false)),
         v = split(lin(t, "attention.value_proj", false));
    auto s = divide(matmul(q, swapaxes(k, -1, -2)), array(std::sqrt(static_cast<double>(D / heads))));
    if (mask) s = add(s, astype(*mask, float64));
    auto e = exp(subtract(s, max(s, -1, true)));
    auto o = matmul(divide(e, sum(e, -1, true)), v);
    return lin(reshape(transpose(o, {0, 2, 1, 3}), {B, L, D}), "attention.out_proj", false);
  };
  auto mlp = [&](const array& t) {
    return lin(maximum(lin(t, "linear1", true), array(0.0)), "linear2", true);
  };
  if (norm_first) {
    auto h = add(x, mha(ln(x, "ln1")));
    return add(h, mlp(ln(h, "ln2")));
  }
  auto h = ln(add(x, mha(x)), "ln1");
  return ln(add(h, mlp(h)), "ln2");
}

TEST(NnTransformer, EncoderLayerMatchesPlainOps) {
  for (bool norm_first : {true, false}) {
    for (bool masked : {false, true}) {
      SCOPED_TRACE(std::string(norm_first ? "norm_first" : "norm_last") + (masked ? " masked" : ""));
      nn::TransformerEncoderLayer layer(8, 2, 12, 0.0f, nullptr, norm_first);
      layer.apply([](const array& a) { return astype(a, float64); });
      auto x = random_array({2, 5, 8}, float64, -1, 1, 5);
      std::optional<array> mask;
      if (masked) mask = astype(nn::MultiHeadAttention::create_additive_causal_mask(5), float64);
      auto got = layer(x, mask);
      auto want = encoder_reference(layer, x, mask, norm_first, 2);
      ASSERT_EQ(got.shape(), (Shape{2, 5, 8}));
      EXPECT_TRUE(all_close(got, want.to_vector<double>(), 1e-6, 1e-6));  // the fused kernels round some steps
    }
  }
  std::vector<std::string> keys;
  nn::TransformerEncoderLayer layer(8, 2);
  for (auto& [k, a] : tree_flatten(layer.parameters())) keys.push_back(k);
  EXPECT_EQ(layer.get_module("linear1")->get_array("weight").shape(), (Shape{32, 8}));
  EXPECT_EQ(keys.size(), 4u + 4u + 4u);  // 4 attention projections, 2 LayerNorms x 2, 2 Linears x 2
  EXPECT_THROW(nn::TransformerEncoderLayer(8, 3), std::invalid_argument);
}

TEST(NnTransformer, EncoderStackRunsAndTrains) {
  nn::TransformerEncoder enc(2, 8, 2);
  enc.apply([](const array& a) { return astype(a, float64); });
  auto x = random_array({2, 4, 8}, float64, -1, 1, 6);
  auto y = enc(x);
  // The stack is the layers in order, then the final LayerNorm (mean 0 per position).
  auto layers = std::get<std::vector<nn::ModulePtr>>(enc.entries()[0].second);
  ASSERT_EQ(layers.size(), 2u);
  auto h = (*enc.get_module("ln"))((*layers[1])((*layers[0])(x)));
  EXPECT_TRUE(all_close(y, h.to_vector<double>(), 1e-12, 1e-12));
  EXPECT_TRUE(all_close(abs(mean(y, -1)), std::vector<double>(8, 0.0), 0, 1e-9));
}

}  // namespace
}  // namespace tessera
