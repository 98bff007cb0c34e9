// Tests of tessera::nn and the tree utilities: parameter trees, module state, layers against float64
// references, initializers, losses, nn::value_and_grad.
#include <filesystem>
#include <cmath>
#include <map>
#include <numbers>

#include "tessera/nn.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

std::vector<double> vals(array a) { return a.to_vector<double>(); }

std::vector<std::string> keys_of(const Tree& t) {
  std::vector<std::string> out;
  for (auto& [k, a] : tree_flatten(t)) out.push_back(k);
  return out;
}

// y[r, o] = sum_i x[r, i] w[o, i] + b[o].
std::vector<double> ref_linear(const std::vector<double>& x, const std::vector<double>& w,
                               const std::vector<double>* b, int rows, int in, int out) {
  std::vector<double> y(rows * out);
  for (int r = 0; r < rows; ++r) {
    for (int o = 0; o < out; ++o) {
      double acc = b ? (*b)[o] : 0.0;
      for (int i = 0; i < in; ++i) acc += x[r * in + i] * w[o * in + i];
      y[r * out + o] = acc;
    }
  }
  return y;
}

}  // namespace

TEST(TreeUtils, FlattenUnflattenMap) {
  Tree t = Tree::dict();
  t["w"] = array({1.0f, 2.0f});
  Tree layers = Tree::list();
  Tree l0 = Tree::dict();
  l0["weight"] = array({3.0f});
  layers.push_back(l0);
  layers.push_back(Tree::dict());  // a module without parameters
  Tree l2 = Tree::dict();
  l2["bias"] = array({4.0f});
  layers.push_back(l2);
  t["layers"] = layers;
  auto flat = tree_flatten(t);
  EXPECT_EQ(keys_of(t), (std::vector<std::string>{"w", "layers.0.weight", "layers.2.bias"}));
  EXPECT_EQ(tree_flatten(t, "model")[1].first, "model.layers.0.weight");

  auto back = tree_unflatten(flat);
  ASSERT_TRUE(back.is_dict());
  ASSERT_TRUE(back.at("layers").is_list());
  // Index 1 carried nothing: it comes back as an empty dict (as MLX).
  EXPECT_EQ(back.at("layers").size(), 3u);
  EXPECT_TRUE(back.at("layers").at(1).is_dict());
  EXPECT_EQ(back.at("layers").at(1).size(), 0u);
  EXPECT_EQ(keys_of(back), keys_of(t));
  EXPECT_THROW(tree_unflatten({{"a.0", array(1.0f)}, {"a.99999", array(2.0f)}}), std::invalid_argument);
  auto l = tree_unflatten({{"a.1", array(2.0f)}, {"a.0", array(1.0f)}, {"b.c", array(3.0f)}});
  ASSERT_TRUE(l.at("a").is_list());
  EXPECT_EQ(l.at("a").at(0).as_array().item<float>(), 1.0f);
  EXPECT_EQ(l.at("a").at(1).as_array().item<float>(), 2.0f);
  EXPECT_EQ(l.at("b").at("c").as_array().item<float>(), 3.0f);
  EXPECT_THROW(tree_unflatten({{"a", array(1.0f)}, {"a.b", array(2.0f)}}), std::invalid_argument);
  EXPECT_THROW(tree_unflatten({{"a..b", array(1.0f)}}), std::invalid_argument);

  auto doubled = tree_map([](const array& a) { return multiply(a, array(2.0f)); }, t);
  EXPECT_EQ(keys_of(doubled), keys_of(t));
  EXPECT_TRUE(all_close(doubled.at("layers").at(2).at("bias").as_array(), {8.0}));
  auto summed = tree_map([](const array& a, const array& b) { return add(a, b); }, t, doubled);
  EXPECT_TRUE(all_close(summed.at("w").as_array(), {3.0, 6.0}));
  Tree missing = Tree::dict();
  missing["w"] = array({1.0f, 2.0f});
  EXPECT_THROW(tree_map([](const array& a, const array& b) { return a; }, t, missing), std::invalid_argument);
  EXPECT_THROW(t.at("nope"), std::out_of_range);
  EXPECT_THROW(t.as_list(), std::invalid_argument);
}

TEST(NnModule, ParameterNamesAsMLX) {
  random::seed(0);
  nn::Sequential seq({std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>(),
                      std::make_shared<nn::Linear>(8, 2, false)});
  EXPECT_EQ(keys_of(seq.parameters()),
            (std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.2.weight"}));
  auto p = seq.parameters();
  EXPECT_EQ(p.at("layers").at(0).at("weight").as_array().shape(), (Shape{8, 4}));
  EXPECT_EQ(p.at("layers").at(2).at("weight").as_array().shape(), (Shape{2, 8}));
  EXPECT_TRUE(p.at("layers").at(1).is_dict());
  EXPECT_EQ(p.at("layers").at(1).size(), 0u);

  nn::MultiHeadAttention mha(16, 4, std::nullopt, 12, std::nullopt, 8, 10, true);
  EXPECT_EQ(keys_of(mha.parameters()),
            (std::vector<std::string>{"query_proj.weight", "query_proj.bias", "key_proj.weight", "key_proj.bias",
                                      "value_proj.weight", "value_proj.bias", "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(mha.get_module("key_proj")->get_array("weight").shape(), (Shape{16, 12}));
  EXPECT_EQ(mha.get_module("value_proj")->get_array("weight").shape(), (Shape{8, 12}));
  EXPECT_EQ(mha.get_module("out_proj")->get_array("weight").shape(), (Shape{10, 8}));

  EXPECT_EQ(keys_of(nn::LayerNorm(4).parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(keys_of(nn::LayerNorm(4, 1e-5f, false).parameters()).size(), 0u);
  EXPECT_EQ(keys_of(nn::Conv2d(3, 5, 3).parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(nn::Conv2d(4, 6, {3, 2}, {1, 1}, {0, 0}, {1, 1}, 2).get_array("weight").shape(), (Shape{6, 3, 2, 2}));
  EXPECT_EQ(nn::Conv1d(4, 6, 5).get_array("weight").shape(), (Shape{6, 5, 4}));
  EXPECT_EQ(nn::Embedding(10, 3).get_array("weight").shape(), (Shape{10, 3}));
  EXPECT_EQ(nn::PReLU(3).get_array("weight").to_vector<float>(), (std::vector<float>{0.25f, 0.25f, 0.25f}));

  // Module tree navigation.
  EXPECT_EQ(seq.children().size(), 3u);
  EXPECT_EQ(seq.children()[2].first, "layers.2");
  auto named = seq.named_modules();
  ASSERT_EQ(named.size(), 4u);
  EXPECT_EQ(named[0].first, "");
  EXPECT_EQ(named[3].first, "layers.2");
  EXPECT_EQ(mha.leaf_modules().size(), 4u);
  EXPECT_EQ(mha.leaf_modules()[0].first, "query_proj");
  // Private names are stored but are not parameters.
  nn::Module m;
  m.register_array("_cache", zeros({2}));
  m.register_array("w", zeros({2}));
  EXPECT_EQ(keys_of(m.parameters()), (std::vector<std::string>{"w"}));
  EXPECT_THROW(m.get_array("v"), std::out_of_range);
  EXPECT_THROW(m.get_module("w"), std::out_of_range);
  EXPECT_THROW(m(zeros({2})), std::invalid_argument);
}

TEST(NnModule, FreezeUnfreezeAndTrainable) {
  random::seed(1);
  nn::Sequential seq({std::make_shared<nn::Linear>(3, 3), std::make_shared<nn::Linear>(3, 2)});
  EXPECT_EQ(keys_of(seq.trainable_parameters()).size(), 4u);
  seq.freeze();
  EXPECT_EQ(keys_of(seq.trainable_parameters()).size(), 0u);
  EXPECT_EQ(keys_of(seq.parameters()).size(), 4u);
  seq.unfreeze(true, std::vector<std::string>{"bias"});
  EXPECT_EQ(keys_of(seq.trainable_parameters()), (std::vector<std::string>{"layers.0.bias", "layers.1.bias"}));
  seq.unfreeze();
  seq.layers()[0]->freeze();
  EXPECT_EQ(keys_of(seq.trainable_parameters()), (std::vector<std::string>{"layers.1.weight", "layers.1.bias"}));
  seq.unfreeze();
  seq.freeze(true, std::vector<std::string>{"weight"});
  EXPECT_EQ(keys_of(seq.trainable_parameters()), (std::vector<std::string>{"layers.0.bias", "layers.1.bias"}));
  seq.unfreeze();
  seq.freeze(false);  // not recursive: Sequential itself has no arrays
  EXPECT_EQ(keys_of(seq.trainable_parameters()).size(), 4u);
  auto msg = error_message([&] { seq.freeze(true, std::vector<std::string>{"nope"}, true); });
  EXPECT_EQ(msg.rfind("[Module]", 0), 0u) << msg;
}

TEST(NnModule, UpdateAndLoadWeights) {
  random::seed(2);
  nn::Sequential seq({std::make_shared<nn::Linear>(2, 2), std::make_shared<nn::Linear>(2, 1)});
  seq.update(FlatTree{{"layers.1.bias", array({5.0f})}});
  EXPECT_TRUE(all_close(seq.layers()[1]->get_array("bias"), {5.0}));
  auto msg = error_message([&] { seq.update(FlatTree{{"layers.1.gamma", array({5.0f})}}); });
  EXPECT_EQ(msg.rfind("[Module]", 0), 0u) << msg;
  EXPECT_NO_THROW(seq.update(FlatTree{{"layers.1.gamma", array({5.0f})}}, false));
  EXPECT_THROW(seq.update(FlatTree{{"extra.w", array({5.0f})}}), std::invalid_argument);
  Tree bad = Tree::dict();
  bad["layers"] = Tree::dict();
  EXPECT_THROW(seq.update(bad), std::invalid_argument);

  // load_weights: strict checks names and shapes.
  auto weights = tree_flatten(seq.parameters());
  for (auto& [k, a] : weights) a = full(a.shape(), 0.5f);
  seq.load_weights(weights);
  EXPECT_TRUE(all_close(seq.layers()[0]->get_array("weight"), {0.5, 0.5, 0.5, 0.5}));
  auto missing = weights;
  missing.pop_back();
  EXPECT_THROW(seq.load_weights(missing), std::invalid_argument);
  EXPECT_NO_THROW(seq.load_weights(missing, false));
  auto wrong = weights;
  wrong[0].second = zeros({3, 2});
  msg = error_message([&] { seq.load_weights(wrong); });
  EXPECT_NE(msg.find("shape"), std::string::npos) << msg;
  auto extra = weights;
  extra.emplace_back("layers.5.weight", zeros({1}));
  EXPECT_THROW(seq.load_weights(extra), std::invalid_argument);

  // Files go through a registered format (here an in-memory one).
  static std::map<std::string, FlatTree> store;
  nn::register_weights_format(
      ".memtest", [](const std::string& p) { return store.at(p); },
      [](const std::string& p, const FlatTree& w) { store[p] = w; });
  seq.save_weights("a.memtest");
  EXPECT_EQ(store["a.memtest"].size(), 4u);
  nn::Sequential other({std::make_shared<nn::Linear>(2, 2), std::make_shared<nn::Linear>(2, 1)});
  other.load_weights("a.memtest");
  EXPECT_TRUE(all_close(other.layers()[1]->get_array("bias"), {0.5}));
  // Built-in formats: safetensors and npz files round trip through tessera/io.
  for (std::string ext : {".safetensors", ".npz"}) {
    auto path = (std::filesystem::temp_directory_path() / ("nn_weights_test" + ext)).string();
    seq.save_weights(path);
    nn::Sequential from_file({std::make_shared<nn::Linear>(2, 2), std::make_shared<nn::Linear>(2, 1)});
    from_file.load_weights(path);
    EXPECT_TRUE(all_close(from_file.layers()[1]->get_array("bias"), {0.5})) << ext;
    EXPECT_TRUE(all_close(from_file.layers()[0]->get_array("weight"), vals(seq.layers()[0]->get_array("weight"))))
        << ext;
    std::filesystem::remove(path);
  }
  msg = error_message([&] { other.load_weights("w.unknownformat"); });
  EXPECT_EQ(msg.rfind("[Module]", 0), 0u) << msg;

  // apply casts every parameter.
  other.apply([](const array& a) { return astype(a, float16); });
  EXPECT_EQ(other.layers()[0]->get_array("weight").dtype(), float16);
}

TEST(NnModule, TrainEvalAndDropout) {
  nn::Sequential seq({std::make_shared<nn::Linear>(4, 4), std::make_shared<nn::Dropout>(0.25f)});
  EXPECT_TRUE(seq.training());
  seq.eval();
  EXPECT_FALSE(seq.training());
  EXPECT_FALSE(seq.layers()[1]->training());
  auto& drop = *seq.layers()[1];
  auto x = ones({200, 50});
  EXPECT_TRUE(all_close(drop(x), std::vector<double>(10000, 1.0)));
  seq.train();
  EXPECT_TRUE(seq.layers()[1]->training());
  auto y = vals(drop(x));
  int zeros_count = 0;
  for (double v : y) {
    if (v == 0.0) ++zeros_count;
    else EXPECT_NEAR(v, 1.0 / 0.75, 1e-6);
  }
  EXPECT_NEAR(zeros_count / 10000.0, 0.25, 0.02);
  // A keyed Dropout is reproducible and advances its key.
  nn::Dropout a(0.5f, random::key(7)), b(0.5f, random::key(7));
  auto a1 = vals(a(x)), b1 = vals(b(x)), a2 = vals(a(x));
  EXPECT_EQ(a1, b1);
  EXPECT_NE(a1, a2);
  EXPECT_EQ(vals(a(x, random::key(3))), vals(b(x, random::key(3))));
  EXPECT_THROW(nn::Dropout(1.0f), std::invalid_argument);
  EXPECT_THROW(nn::Dropout(-0.1f), std::invalid_argument);
}

TEST(NnLayers, LinearAndEmbedding) {
  random::seed(3);
  nn::Linear lin(5, 3);
  auto x = random_array({2, 4, 5}, float32, -1, 1, 11);
  auto w = vals(lin.get_array("weight")), b = vals(lin.get_array("bias"));
  // MLX init: uniform(-1/sqrt(in), 1/sqrt(in)).
  for (double v : w) EXPECT_LE(std::abs(v), 1.0 / std::sqrt(5.0));
  EXPECT_TRUE(all_close(lin(x), ref_linear(vals(x), w, &b, 8, 5, 3), 1e-5, 1e-5));
  nn::Linear nobias(5, 3, false);
  EXPECT_TRUE(all_close(nobias(x), ref_linear(vals(x), vals(nobias.get_array("weight")), nullptr, 8, 5, 3), 1e-5,
                        1e-5));

  nn::Embedding emb(7, 4);
  auto ew = vals(emb.get_array("weight"));
  auto idx = array({3, 0, 6, 3}, {2, 2}, int32);
  auto e = emb(idx);
  EXPECT_EQ(e.shape(), (Shape{2, 2, 4}));
  std::vector<double> expect;
  for (int i : {3, 0, 6, 3}) {
    for (int d = 0; d < 4; ++d) expect.push_back(ew[i * 4 + d]);
  }
  EXPECT_TRUE(all_close(e, expect));
  auto h = random_array({3, 4}, float32, -1, 1, 12);
  EXPECT_TRUE(all_close(emb.as_linear(h), ref_linear(vals(h), ew, nullptr, 3, 4, 7), 1e-5, 1e-5));
  EXPECT_THROW(emb(array({1.0f})), std::invalid_argument);
}

TEST(NnLayers, Norms) {
  int D = 6;
  auto x = random_array({3, D}, float32, -2, 2, 13);
  auto xv = vals(x);
  nn::RMSNorm rms(D, 1e-5f);
  rms.update(FlatTree{{"weight", random_array({D}, float32, 0.5, 1.5, 14)}});
  auto w = vals(rms.get_array("weight"));
  std::vector<double> ref(xv.size());
  for (int r = 0; r < 3; ++r) {
    double ss = 0;
    for (int i = 0; i < D; ++i) ss += xv[r * D + i] * xv[r * D + i];
    for (int i = 0; i < D; ++i) ref[r * D + i] = xv[r * D + i] / std::sqrt(ss / D + 1e-5) * w[i];
  }
  EXPECT_TRUE(all_close(rms(x), ref, 1e-4, 1e-5));

  nn::LayerNorm ln(D, 1e-5f);
  ln.update(FlatTree{{"weight", array(w, {D})}, {"bias", random_array({D}, float32, -1, 1, 15)}});
  auto b = vals(ln.get_array("bias"));
  nn::LayerNorm ln_plain(D, 1e-5f, false);
  std::vector<double> ref_ln(xv.size()), ref_plain(xv.size());
  for (int r = 0; r < 3; ++r) {
    double m = 0, v = 0;
    for (int i = 0; i < D; ++i) m += xv[r * D + i] / D;
    for (int i = 0; i < D; ++i) v += (xv[r * D + i] - m) * (xv[r * D + i] - m) / D;
    for (int i = 0; i < D; ++i) {
      ref_plain[r * D + i] = (xv[r * D + i] - m) / std::sqrt(v + 1e-5);
      ref_ln[r * D + i] = ref_plain[r * D + i] * w[i] + b[i];
    }
  }
  EXPECT_TRUE(all_close(ln(x), ref_ln, 1e-4, 1e-5));
  EXPECT_TRUE(all_close(ln_plain(x), ref_plain, 1e-4, 1e-5));

  // GroupNorm: x (B=2, L=3, C=4), 2 groups; MLX groups channels c % 2, PyTorch consecutive channels.
  auto g = random_array({2, 3, 4}, float32, -1, 1, 16);
  auto gv = vals(g);
  for (bool torch : {false, true}) {
    nn::GroupNorm gn(2, 4, 1e-5f, true, torch);
    gn.update(FlatTree{{"weight", array({1.0f, 2.0f, 0.5f, -1.0f})}, {"bias", array({0.0f, 0.1f, 0.2f, 0.3f})}});
    std::vector<double> gw{1, 2, 0.5, -1}, gb{0, 0.1, 0.2, 0.3}, ref_g(gv.size());
    for (int bt = 0; bt < 2; ++bt) {
      for (int grp = 0; grp < 2; ++grp) {
        auto in_group = [&](int c) { return torch ? c / 2 == grp : c % 2 == grp; };
        double m = 0, v = 0, n = 0;
        for (int l = 0; l < 3; ++l)
          for (int c = 0; c < 4; ++c)
            if (in_group(c)) m += gv[bt * 12 + l * 4 + c], n += 1;
        m /= n;
        for (int l = 0; l < 3; ++l)
          for (int c = 0; c < 4; ++c)
            if (in_group(c)) v += std::pow(gv[bt * 12 + l * 4 + c] - m, 2) / n;
        for (int l = 0; l < 3; ++l)
          for (int c = 0; c < 4; ++c)
            if (in_group(c)) {
              int i = bt * 12 + l * 4 + c;
              ref_g[i] = (gv[i] - m) / std::sqrt(v + 1e-5) * gw[c] + gb[c];
            }
      }
    }
    EXPECT_TRUE(all_close(gn(g), ref_g, 1e-4, 1e-5)) << "pytorch_compatible " << torch;
  }
  EXPECT_THROW(nn::GroupNorm(3, 4), std::invalid_argument);
  EXPECT_THROW(nn::GroupNorm(2, 4)(zeros({2, 3, 6})), std::invalid_argument);
}

TEST(NnLayers, Convolutions) {
  random::seed(4);
  // Conv1d: N=2, L=7, Cin=4, Cout=6, K=3, stride 2, padding 1, groups 2.
  nn::Conv1d c1(4, 6, 3, 2, 1, 1, 2);
  c1.update(FlatTree{{"bias", random_array({6}, float32, -1, 1, 17)}});
  auto x = random_array({2, 7, 4}, float32, -1, 1, 18);
  auto xv = vals(x), w = vals(c1.get_array("weight")), b = vals(c1.get_array("bias"));
  int Lout = (7 + 2 - 3) / 2 + 1;
  std::vector<double> ref(2 * Lout * 6);
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < Lout; ++l)
      for (int o = 0; o < 6; ++o) {
        int grp = o / 3;
        double acc = b[o];
        for (int k = 0; k < 3; ++k) {
          int pos = l * 2 - 1 + k;
          if (pos < 0 || pos >= 7) continue;
          for (int ci = 0; ci < 2; ++ci) acc += xv[(n * 7 + pos) * 4 + grp * 2 + ci] * w[(o * 3 + k) * 2 + ci];
        }
        ref[(n * Lout + l) * 6 + o] = acc;
      }
  auto y = c1(x);
  EXPECT_EQ(y.shape(), (Shape{2, Lout, 6}));
  EXPECT_TRUE(all_close(y, ref, 1e-5, 1e-5));

  // Conv2d: N=1, H=5, W=4, Cin=3, Cout=2, K=(3,2), padding (1,0).
  nn::Conv2d c2(3, 2, {3, 2}, {1, 1}, {1, 0});
  auto x2 = random_array({1, 5, 4, 3}, float32, -1, 1, 19);
  auto x2v = vals(x2), w2 = vals(c2.get_array("weight"));
  double lim = std::sqrt(1.0 / (3 * 3 * 2));
  for (double v : w2) EXPECT_LE(std::abs(v), lim);
  int Ho = 5, Wo = 3;
  std::vector<double> ref2(Ho * Wo * 2);
  for (int i = 0; i < Ho; ++i)
    for (int j = 0; j < Wo; ++j)
      for (int o = 0; o < 2; ++o) {
        double acc = 0;
        for (int ki = 0; ki < 3; ++ki)
          for (int kj = 0; kj < 2; ++kj) {
            int r = i - 1 + ki, c = j + kj;
            if (r < 0 || r >= 5) continue;
            for (int ci = 0; ci < 3; ++ci) acc += x2v[(r * 4 + c) * 3 + ci] * w2[((o * 3 + ki) * 2 + kj) * 3 + ci];
          }
        ref2[(i * Wo + j) * 2 + o] = acc;
      }
  EXPECT_TRUE(all_close(c2(x2), ref2, 1e-5, 1e-5));
  EXPECT_THROW(nn::Conv1d(3, 4, 3, 1, 0, 1, 2), std::invalid_argument);
}

TEST(NnLayers, RoPEAndAttention) {
  // RoPE (non-traditional): pairs (i, i + d/2) rotated by (offset + l) * base^(-2i/d).
  int L = 3, D = 8;
  nn::RoPE rope(D, false, 100.0f);
  auto x = random_array({1, 2, L, D}, float32, -1, 1, 20);
  auto xv = vals(x);
  std::vector<double> ref(xv.size());
  int offset = 2;
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < L; ++l)
      for (int i = 0; i < D / 2; ++i) {
        double th = (offset + l) * std::pow(100.0, -2.0 * i / D);
        int base = (h * L + l) * D;
        double a = xv[base + i], b = xv[base + i + D / 2];
        ref[base + i] = a * std::cos(th) - b * std::sin(th);
        ref[base + i + D / 2] = a * std::sin(th) + b * std::cos(th);
      }
  EXPECT_TRUE(all_close(rope(x, offset), ref, 1e-4, 1e-5));
  EXPECT_THROW(nn::RoPE(5), std::invalid_argument);

  // MultiHeadAttention against a float64 loop (2 heads, additive causal mask).
  random::seed(5);
  int B = 2, Lq = 3, E = 4, H = 2, hd = 2;
  nn::MultiHeadAttention mha(E, H, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, true);
  auto q = random_array({B, Lq, E}, float32, -1, 1, 21);
  auto mask = nn::MultiHeadAttention::create_additive_causal_mask(Lq);
  EXPECT_EQ(mask.shape(), (Shape{Lq, Lq}));
  auto mv = vals(mask);
  EXPECT_EQ(mv[0], 0.0);
  EXPECT_EQ(mv[1], static_cast<double>(std::numeric_limits<float>::lowest()));
  auto lin = [&](const char* name, const std::vector<double>& in) {
    auto m = mha.get_module(name);
    auto w = vals(m->get_array("weight")), b = vals(m->get_array("bias"));
    return ref_linear(in, w, &b, B * Lq, E, E);
  };
  auto qv = vals(q);
  auto Q = lin("query_proj", qv), K = lin("key_proj", qv), V = lin("value_proj", qv);
  std::vector<double> attn(B * Lq * E);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < Lq; ++i) {
        std::vector<double> s(Lq);
        double mx = -1e300, z = 0;
        for (int j = 0; j < Lq; ++j) {
          double acc = 0;
          for (int d = 0; d < hd; ++d) acc += Q[(b * Lq + i) * E + h * hd + d] * K[(b * Lq + j) * E + h * hd + d];
          s[j] = j > i ? -1e300 : acc / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        for (auto& v : s) z += (v = std::exp(v - mx));
        for (int d = 0; d < hd; ++d) {
          double acc = 0;
          for (int j = 0; j < Lq; ++j) acc += s[j] / z * V[(b * Lq + j) * E + h * hd + d];
          attn[(b * Lq + i) * E + h * hd + d] = acc;
        }
      }
  auto ow = vals(mha.get_module("out_proj")->get_array("weight"));
  auto ob = vals(mha.get_module("out_proj")->get_array("bias"));
  auto expect = ref_linear(attn, ow, &ob, B * Lq, E, E);
  EXPECT_TRUE(all_close(mha(q, q, q, mask), expect, 1e-4, 1e-5));
  EXPECT_TRUE(all_close(mha(q, q, q, std::string("causal")), expect, 1e-4, 1e-5));
  EXPECT_THROW(nn::MultiHeadAttention(6, 4), std::invalid_argument);
  EXPECT_THROW(mha(q, q, q, std::string("bidirectional")), std::invalid_argument);
}

TEST(NnActivations, MatchFormulas) {
  auto x = array({-3.5, -1.0, -0.2, 0.0, 0.3, 1.0, 2.5, 7.0}, {8}, float32);
  auto xv = vals(x);
  auto check = [&](const char* name, const array& got, double (*f)(double)) {
    std::vector<double> ref;
    for (double v : xv) ref.push_back(f(v));
    EXPECT_TRUE(all_close(got, ref, 1e-5, 1e-6)) << name;
  };
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  (void)sig;
  check("relu", nn::relu(x), [](double v) { return std::max(v, 0.0); });
  check("relu6", nn::relu6(x), [](double v) { return std::min(std::max(v, 0.0), 6.0); });
  check("leaky_relu", nn::leaky_relu(x), [](double v) { return v > 0 ? v : 0.01 * v; });
  check("elu", nn::elu(x), [](double v) { return v > 0 ? v : std::exp(v) - 1; });
  check("selu", nn::selu(x), [](double v) { return 1.0507 * (v > 0 ? v : 1.67326 * (std::exp(v) - 1)); });
  check("celu", nn::celu(x, 2.0f),
        [](double v) { return std::max(v, 0.0) + 2.0 * (std::exp(std::min(v, 0.0) / 2.0) - 1); });
  check("gelu", nn::gelu(x), [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
  check("gelu_approx", nn::gelu_approx(x), [](double v) {
    return 0.5 * v * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (v + 0.044715 * v * v * v)));
  });
  check("gelu_fast_approx", nn::gelu_fast_approx(x), [](double v) { return v / (1 + std::exp(-1.702 * v)); });
  check("silu", nn::silu(x), [](double v) { return v / (1 + std::exp(-v)); });
  check("sigmoid", nn::sigmoid(x), [](double v) { return 1 / (1 + std::exp(-v)); });
  check("tanh", nn::tanh(x), [](double v) { return std::tanh(v); });
  check("softplus", nn::softplus(x), [](double v) { return std::log1p(std::exp(v)); });
  check("softsign", nn::softsign(x), [](double v) { return v / (1 + std::abs(v)); });
  check("mish", nn::mish(x), [](double v) { return v * std::tanh(std::log1p(std::exp(v))); });
  check("hardswish", nn::hardswish(x), [](double v) { return v * std::min(std::max(v + 3, 0.0), 6.0) / 6; });
  check("hard_tanh", nn::hard_tanh(x), [](double v) { return std::min(std::max(v, -1.0), 1.0); });
  check("log_sigmoid", nn::log_sigmoid(x), [](double v) { return -std::log1p(std::exp(-v)); });
  check("GELU fast module", nn::GELU("fast")(x), [](double v) { return v / (1 + std::exp(-1.702 * v)); });
  check("LeakyReLU module", nn::LeakyReLU(0.2f)(x), [](double v) { return v > 0 ? v : 0.2 * v; });
  check("PReLU module", nn::PReLU()(x), [](double v) { return v > 0 ? v : 0.25 * v; });
  auto g = nn::glu(reshape(x, {2, 4}));
  std::vector<double> ref_glu;
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 2; ++i) ref_glu.push_back(xv[r * 4 + i] / (1 + std::exp(-xv[r * 4 + 2 + i])));
  EXPECT_TRUE(all_close(g, ref_glu, 1e-5, 1e-6));
  EXPECT_THROW(nn::GELU("cubic"), std::invalid_argument);
  // 16-bit inputs keep their dtype.
  EXPECT_EQ(nn::silu(astype(x, bfloat16)).dtype(), bfloat16);
}

TEST(NnInit, FansAndDistributions) {
  random::seed(6);
  auto w = zeros({64, 3, 3, 32});
  auto [fi, fo] = nn::init::fan_in_fan_out(w);
  EXPECT_EQ(fi, 32 * 9);
  EXPECT_EQ(fo, 64 * 9);
  EXPECT_THROW(nn::init::fan_in_fan_out(zeros({5})), std::invalid_argument);
  auto stats = [](array a) {
    auto v = vals(a);
    double m = 0, s = 0;
    for (double x : v) m += x / v.size();
    for (double x : v) s += (x - m) * (x - m) / v.size();
    return std::make_pair(m, std::sqrt(s));
  };
  auto big = zeros({400, 300});
  auto [m1, s1] = stats(nn::init::glorot_normal()(big));
  EXPECT_NEAR(m1, 0.0, 0.005);
  EXPECT_NEAR(s1, std::sqrt(2.0 / 700), 0.03 * std::sqrt(2.0 / 700));
  auto gu = vals(nn::init::glorot_uniform()(big, 2.0f));
  double lim = 2.0 * std::sqrt(6.0 / 700), mx = 0;
  for (double v : gu) mx = std::max(mx, std::abs(v));
  EXPECT_LE(mx, lim);
  EXPECT_GT(mx, 0.98 * lim);
  auto [m2, s2] = stats(nn::init::he_normal()(big, "fan_out"));
  EXPECT_NEAR(s2, 1.0 / std::sqrt(400.0), 0.03 / std::sqrt(400.0));
  auto [m3, s3] = stats(nn::init::he_uniform()(big));  // uniform(+-sqrt(3/fan_in)) has std 1/sqrt(fan_in)
  EXPECT_NEAR(s3, 1.0 / std::sqrt(300.0), 0.03 / std::sqrt(300.0));
  EXPECT_THROW(nn::init::he_normal()(big, "fan_avg"), std::invalid_argument);
  auto [m4, s4] = stats(nn::init::normal(2.0f, 0.5f)(big));
  EXPECT_NEAR(m4, 2.0, 0.01);
  EXPECT_NEAR(s4, 0.5, 0.01);
  auto u = vals(nn::init::uniform(-3.0f, -2.0f)(big));
  for (double v : u) ASSERT_TRUE(v >= -3.0 && v < -2.0);
  EXPECT_TRUE(all_close(nn::init::constant(1.5f)(zeros({2, 2})), {1.5, 1.5, 1.5, 1.5}));
  EXPECT_TRUE(all_close(nn::init::identity()(zeros({2, 2})), {1, 0, 0, 1}));
  EXPECT_THROW(nn::init::identity()(zeros({2, 3})), std::invalid_argument);
  EXPECT_EQ(nn::init::normal(0, 1, float16)(big).dtype(), float16);
}

TEST(NnLosses, MatchFormulas) {
  // logits (3, 4), class targets, weights.
  auto logits = random_array({3, 4}, float32, -2, 2, 30);
  auto lv = vals(logits);
  std::vector<int> t{2, 0, 3};
  auto targets = array(std::vector<int>(t), {3}, int32);
  auto lse = [&](int r) {
    double m = -1e300, z = 0;
    for (int c = 0; c < 4; ++c) m = std::max(m, lv[r * 4 + c]);
    for (int c = 0; c < 4; ++c) z += std::exp(lv[r * 4 + c] - m);
    return m + std::log(z);
  };
  std::vector<double> ce, ce_ls;
  for (int r = 0; r < 3; ++r) {
    ce.push_back(lse(r) - lv[r * 4 + t[r]]);
    double mean_l = (lv[r * 4] + lv[r * 4 + 1] + lv[r * 4 + 2] + lv[r * 4 + 3]) / 4;
    ce_ls.push_back(lse(r) - 0.9 * lv[r * 4 + t[r]] - 0.1 * mean_l);
  }
  EXPECT_TRUE(all_close(nn::losses::cross_entropy(logits, targets), ce, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(nn::losses::cross_entropy(logits, targets, std::nullopt, -1, 0.1f), ce_ls, 1e-5, 1e-6));
  // Weights 0 drop an element (ignore index handling).
  auto w = array({1.0f, 0.0f, 2.0f});
  EXPECT_TRUE(all_close(nn::losses::cross_entropy(logits, targets, w, -1, 0.0f, "sum"), {ce[0] + 2 * ce[2]}, 1e-5));
  EXPECT_TRUE(all_close(nn::losses::cross_entropy(logits, targets, std::nullopt, -1, 0.0f, "mean"),
                        {(ce[0] + ce[1] + ce[2]) / 3}, 1e-5));
  // Probability targets, and class axis 0.
  std::vector<double> onehot(12, 0.0);
  for (int r = 0; r < 3; ++r) onehot[r * 4 + t[r]] = 1.0;
  EXPECT_TRUE(all_close(nn::losses::cross_entropy(logits, array(onehot, {3, 4}, float32)), ce, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(nn::losses::cross_entropy(transpose(logits), targets, std::nullopt, 0), ce, 1e-5, 1e-6));
  EXPECT_THROW(nn::losses::cross_entropy(logits, array({1, 2}, {2}, int32)), std::invalid_argument);
  EXPECT_THROW(nn::losses::cross_entropy(logits, targets, std::nullopt, -1, 1.0f), std::invalid_argument);
  EXPECT_THROW(nn::losses::cross_entropy(logits, targets, array({1.0f, 1.0f})), std::invalid_argument);
  EXPECT_THROW(nn::losses::mse_loss(logits, logits, "avg"), std::invalid_argument);

  auto p = random_array({5}, float32, -3, 3, 31), q = random_array({5}, float32, 0, 1, 32);
  auto pv = vals(p), qv = vals(q);
  std::vector<double> bce, bce_p, mse, l1, sl1, hub;
  for (int i = 0; i < 5; ++i) {
    bce.push_back(std::log1p(std::exp(pv[i])) - pv[i] * qv[i]);
    double prob = 1 / (1 + std::exp(-pv[i]));
    bce_p.push_back(-(qv[i] * std::log(prob) + (1 - qv[i]) * std::log(1 - prob)));
    double d = pv[i] - qv[i];
    mse.push_back(d * d);
    l1.push_back(std::abs(d));
    sl1.push_back(std::abs(d) < 0.5 ? 0.5 * d * d / 0.5 : std::abs(d) - 0.25);
    double quad = std::min(std::abs(d), 0.7);
    hub.push_back(0.5 * quad * quad + 0.7 * (std::abs(d) - quad));
  }
  EXPECT_TRUE(all_close(nn::losses::binary_cross_entropy(p, q, std::nullopt, true, "none"), bce, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(nn::losses::binary_cross_entropy(sigmoid(p), q, std::nullopt, false, "none"), bce_p, 1e-4,
                        1e-5));
  EXPECT_TRUE(all_close(nn::losses::mse_loss(p, q, "none"), mse, 1e-5, 1e-6));
  double mse_mean = 0;
  for (double v : mse) mse_mean += v / 5;
  EXPECT_TRUE(all_close(nn::losses::mse_loss(p, q), {mse_mean}, 1e-5));
  EXPECT_TRUE(all_close(nn::losses::l1_loss(p, q, "none"), l1, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(nn::losses::smooth_l1_loss(p, q, 0.5f, "none"), sl1, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(nn::losses::huber_loss(p, q, 0.7f), hub, 1e-5, 1e-6));
  EXPECT_THROW(nn::losses::mse_loss(p, zeros({4})), std::invalid_argument);
  // BCE without logits clips log(0) at -100.
  EXPECT_TRUE(all_close(nn::losses::binary_cross_entropy(array({0.0f}), array({1.0f}), std::nullopt, false), {100.0}));

  // nll / kl on log-probabilities; cosine similarity.
  auto logp = log_softmax(logits, -1);
  auto lpv = vals(logp);
  std::vector<double> nll, kl;
  auto logq = log_softmax(random_array({3, 4}, float32, -1, 1, 33), -1);
  auto lqv = vals(logq);
  for (int r = 0; r < 3; ++r) {
    nll.push_back(-lpv[r * 4 + t[r]]);
    double acc = 0;
    for (int c = 0; c < 4; ++c) acc += std::exp(lqv[r * 4 + c]) * (lqv[r * 4 + c] - lpv[r * 4 + c]);
    kl.push_back(acc);
  }
  EXPECT_TRUE(all_close(nn::losses::nll_loss(logp, targets), nll, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(nn::losses::kl_div_loss(logp, logq), kl, 1e-4, 1e-6));
  std::vector<double> cs;
  for (int r = 0; r < 3; ++r) {
    double dot = 0, n1 = 0, n2 = 0;
    for (int c = 0; c < 4; ++c) {
      dot += lv[r * 4 + c] * lqv[r * 4 + c];
      n1 += lv[r * 4 + c] * lv[r * 4 + c];
      n2 += lqv[r * 4 + c] * lqv[r * 4 + c];
    }
    cs.push_back(dot / std::sqrt(n1 * n2));
  }
  EXPECT_TRUE(all_close(nn::losses::cosine_similarity_loss(logits, logq, 1), cs, 1e-5, 1e-6));
}

TEST(NnValueAndGrad, LinearMseGradients) {
  random::seed(8);
  nn::Linear lin(3, 2);
  auto x = random_array({4, 3}, float32, -1, 1, 40), y = random_array({4, 2}, float32, -1, 1, 41);
  auto w0 = lin.get_array("weight"), b0 = lin.get_array("bias");
  auto fn = nn::value_and_grad(lin, [&](const std::vector<array>& a) {
    return nn::losses::mse_loss(lin(a[0]), a[1], "sum");
  });
  auto [loss, grads] = fn({x, y});
  // Reference: L = sum (x W^T + b - y)^2; dW[o,i] = sum_r 2 e[r,o] x[r,i]; db[o] = sum_r 2 e[r,o].
  auto xv = vals(x), yv = vals(y), wv = vals(w0), bv = vals(b0);
  auto pred = ref_linear(xv, wv, &bv, 4, 3, 2);
  double L = 0;
  std::vector<double> dW(6, 0.0), db(2, 0.0);
  for (int r = 0; r < 4; ++r)
    for (int o = 0; o < 2; ++o) {
      double e = pred[r * 2 + o] - yv[r * 2 + o];
      L += e * e;
      db[o] += 2 * e;
      for (int i = 0; i < 3; ++i) dW[o * 3 + i] += 2 * e * xv[r * 3 + i];
    }
  EXPECT_TRUE(all_close(loss, {L}, 1e-5));
  EXPECT_TRUE(all_close(grads.at("weight").as_array(), dW, 1e-4, 1e-5));
  EXPECT_TRUE(all_close(grads.at("bias").as_array(), db, 1e-4, 1e-5));
  // The model holds its own arrays again.
  EXPECT_EQ(lin.get_array("weight").id(), w0.id());
  // Frozen parameters get no gradient.
  lin.freeze(false, std::vector<std::string>{"bias"});
  auto [loss2, grads2] = fn({x, y});
  EXPECT_EQ(keys_of(grads2), (std::vector<std::string>{"weight"}));
  EXPECT_TRUE(all_close(grads2.at("weight").as_array(), dW, 1e-4, 1e-5));
  // A throwing loss leaves the model intact.
  auto bad = nn::value_and_grad(lin, [&](const std::vector<array>& a) -> array {
    lin(a[0]);
    throw std::runtime_error("boom");
  });
  EXPECT_THROW(bad({x}), std::runtime_error);
  EXPECT_EQ(lin.get_array("weight").id(), w0.id());
}
