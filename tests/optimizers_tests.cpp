// Tests of tessera::optimizers: each update rule against hand-written float64 step sequences (3 steps),
// schedules, clip_grad_norm, state save/restore, model updates and bad arguments.
#include <cmath>
#include <functional>
#include <numbers>

#include "tessera/nn.h"
#include "tessera/optimizers.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;
namespace opt = tessera::optimizers;

namespace {

const std::vector<double> kP0{0.5, -1.0, 2.0, 0.25, -0.75, 1.5};
const std::vector<std::vector<double>> kGrads{{0.1, -0.2, 0.3, 0.0, 1.0, -0.5},
                                              {-0.4, 0.1, 0.2, 0.05, 0.8, -0.1},
                                              {0.2, 0.3, -0.6, -0.1, 0.5, 0.4}};

// Runs 3 steps on the parameter {"w": (2, 3)} and compares every step with ref(p, g, t) (t = 1, 2, 3),
// which updates p in place from its own state.
void check_steps(opt::Optimizer& o, const std::function<void(std::vector<double>&, const std::vector<double>&, int)>& ref,
                 double rtol = 1e-5, double atol = 1e-6) {
  std::vector<double> p = kP0;
  Tree params = Tree::dict();
  params["w"] = array(kP0, {2, 3}, float32);
  for (int t = 1; t <= 3; ++t) {
    Tree g = Tree::dict();
    g["w"] = array(kGrads[t - 1], {2, 3}, float32);
    params = o.apply_gradients(g, params);
    ref(p, kGrads[t - 1], t);
    ASSERT_TRUE(all_close(params.at("w").as_array(), p, rtol, atol)) << o.name() << " step " << t;
    EXPECT_EQ(o.step(), t);
  }
}

}  // namespace

TEST(Optimizers, SGDVariants) {
  {  // plain: p -= lr g
    opt::SGD o(0.1f);
    check_steps(o, [](auto& p, auto& g, int) {
      for (size_t i = 0; i < p.size(); ++i) p[i] -= 0.1 * g[i];
    });
  }
  {  // momentum 0.9, dampening 0.1, weight decay 0.01: g' = g + wd p; v = 0.9 v + 0.9 g'; p -= lr v
    opt::SGD o(0.1f, 0.9f, 0.01f, 0.1f);
    std::vector<double> v(6, 0.0);
    check_steps(o, [&](auto& p, auto& g, int) {
      for (size_t i = 0; i < p.size(); ++i) {
        double gg = g[i] + 0.01 * p[i];
        v[i] = 0.9 * v[i] + 0.9 * gg;
        p[i] -= 0.1 * v[i];
      }
    });
  }
  {  // nesterov: v = 0.9 v + g; p -= lr (g + 0.9 v)
    opt::SGD o(0.1f, 0.9f, 0.0f, 0.0f, true);
    std::vector<double> v(6, 0.0);
    check_steps(o, [&](auto& p, auto& g, int) {
      for (size_t i = 0; i < p.size(); ++i) {
        v[i] = 0.9 * v[i] + g[i];
        p[i] -= 0.1 * (g[i] + 0.9 * v[i]);
      }
    });
  }
  EXPECT_THROW(opt::SGD(0.1f, 0.0f, 0.0f, 0.0f, true), std::invalid_argument);
  EXPECT_THROW(opt::SGD(0.1f, 0.9f, 0.0f, 0.5f, true), std::invalid_argument);
}

TEST(Optimizers, AdamFamily) {
  {  // Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr m / (sqrt(v) + eps)
    opt::Adam o(0.01f, {0.9f, 0.999f}, 1e-8f);
    std::vector<double> m(6, 0.0), v(6, 0.0);
    check_steps(o, [&](auto& p, auto& g, int) {
      for (size_t i = 0; i < p.size(); ++i) {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        p[i] -= 0.01 * m[i] / (std::sqrt(v[i]) + 1e-8);
      }
    }, 1e-5, 1e-5);
  }
  {  // Adam with bias correction: p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)
    opt::Adam o(0.01f, {0.8f, 0.99f}, 1e-6f, true);
    std::vector<double> m(6, 0.0), v(6, 0.0);
    check_steps(o, [&](auto& p, auto& g, int t) {
      for (size_t i = 0; i < p.size(); ++i) {
        m[i] = 0.8 * m[i] + 0.2 * g[i];
        v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i];
        p[i] -= 0.01 / (1 - std::pow(0.8, t)) * m[i] / (std::sqrt(v[i]) / std::sqrt(1 - std::pow(0.99, t)) + 1e-6);
      }
    }, 1e-5, 1e-5);
  }
  {  // AdamW: p *= 1 - lr wd, then Adam
    opt::AdamW o(0.01f, {0.9f, 0.999f}, 1e-8f, 0.1f);
    std::vector<double> m(6, 0.0), v(6, 0.0);
    check_steps(o, [&](auto& p, auto& g, int) {
      for (size_t i = 0; i < p.size(); ++i) {
        p[i] *= 1 - 0.01 * 0.1;
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        p[i] -= 0.01 * m[i] / (std::sqrt(v[i]) + 1e-8);
      }
    }, 1e-5, 1e-5);
  }
  {  // Adamax: v = max(b2 v, |g|); p -= lr m / (v + eps)
    opt::Adamax o(0.02f, {0.9f, 0.99f}, 1e-8f);
    std::vector<double> m(6, 0.0), v(6, 0.0);
    check_steps(o, [&](auto& p, auto& g, int) {
      for (size_t i = 0; i < p.size(); ++i) {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = std::max(0.99 * v[i], std::abs(g[i]));
        p[i] -= 0.02 * m[i] / (v[i] + 1e-8);
      }
    }, 1e-5, 1e-5);
  }
}

TEST(Optimizers, AdaptiveAndLion) {
  {  // RMSprop: v = a v + (1-a) g^2; p -= lr g / (sqrt(v) + eps)
    opt::RMSprop o(0.01f, 0.9f, 1e-8f);
    std::vector<double> v(6, 0.0);
    check_steps(o, [&](auto& p, auto& g, int) {
      for (size_t i = 0; i < p.size(); ++i) {
        v[i] = 0.9 * v[i] + 0.1 * g[i] * g[i];
        p[i] -= 0.01 * g[i] / (std::sqrt(v[i]) + 1e-8);
      }
    }, 1e-5, 1e-5);
  }
  {  // Adagrad: v += g^2; p -= lr g / (sqrt(v) + eps)
    opt::Adagrad o(0.1f, 1e-8f);
    std::vector<double> v(6, 0.0);
    check_steps(o, [&](auto& p, auto& g, int) {
      for (size_t i = 0; i < p.size(); ++i) {
        v[i] += g[i] * g[i];
        p[i] -= 0.1 * g[i] / (std::sqrt(v[i]) + 1e-8);
      }
    }, 1e-5, 1e-5);
  }
  {  // Lion: c = b1 m + (1-b1) g; m = b2 m + (1-b2) g; p = p (1 - lr wd) - lr sign(c)
    opt::Lion o(0.01f, {0.9f, 0.99f}, 0.1f);
    std::vector<double> m(6, 0.0);
    check_steps(o, [&](auto& p, auto& g, int) {
      for (size_t i = 0; i < p.size(); ++i) {
        double c = 0.9 * m[i] + 0.1 * g[i];
        m[i] = 0.99 * m[i] + 0.01 * g[i];
        p[i] = p[i] * (1 - 0.01 * 0.1) - 0.01 * ((c > 0) - (c < 0));
      }
    }, 1e-5, 1e-6);
  }
}

TEST(Optimizers, Adafactor) {
  // Defaults: relative step, scale_parameter, eps (1e-30, 1e-3), clip 1, decay -0.8, no beta_1.
  // (2, 3) parameter: factored row (2,) / col (3,) second moments.
  opt::Adafactor o;
  std::vector<double> row(2, 0.0), col(3, 0.0);
  auto rms = [](const std::vector<double>& x) {
    double s = 0;
    for (double v : x) s += v * v;
    return std::sqrt(s / x.size());
  };
  check_steps(o, [&](auto& p, auto& g, int t) {
    double lr = std::max(1e-3, rms(p)) * std::min(1e-2, 1 / std::sqrt(static_cast<double>(t)));
    double beta2 = 1 - std::pow(t, -0.8);
    std::vector<double> u(6);
    for (int i = 0; i < 6; ++i) u[i] = g[i] * g[i] + 1e-30;
    for (int r = 0; r < 2; ++r) row[r] = beta2 * row[r] + (1 - beta2) * (u[r * 3] + u[r * 3 + 1] + u[r * 3 + 2]) / 3;
    for (int c = 0; c < 3; ++c) col[c] = beta2 * col[c] + (1 - beta2) * (u[c] + u[3 + c]) / 2;
    double row_mean = (row[0] + row[1]) / 2;
    std::vector<double> upd(6);
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 3; ++c) upd[r * 3 + c] = 1 / std::sqrt(row[r] / row_mean) / std::sqrt(col[c]) * g[r * 3 + c];
    double denom = std::max(1.0, rms(upd) / 1.0);
    for (int i = 0; i < 6; ++i) p[i] -= lr * upd[i] / denom;
  }, 1e-4, 1e-6);

  // 1-D parameter with beta_1 and weight decay, fixed learning rate.
  opt::Adafactor o1(0.05f, {1e-30f, 1e-3f}, 1.0f, -0.8f, 0.9f, 0.1f, false, false);
  std::vector<double> v(3, 0.0), ea(3, 0.0), p{1.0, -2.0, 0.5};
  Tree params = Tree::dict();
  params["b"] = array(p, {3}, float32);
  for (int t = 1; t <= 3; ++t) {
    std::vector<double> g{kGrads[t - 1][0], kGrads[t - 1][1], kGrads[t - 1][2]};
    Tree gt = Tree::dict();
    gt["b"] = array(g, {3}, float32);
    params = o1.apply_gradients(gt, params);
    double beta2 = 1 - std::pow(t, -0.8);
    std::vector<double> upd(3);
    for (int i = 0; i < 3; ++i) {
      v[i] = beta2 * v[i] + (1 - beta2) * (g[i] * g[i] + 1e-30);
      upd[i] = g[i] / std::sqrt(v[i]);
    }
    double denom = std::max(1.0, rms(upd));
    for (int i = 0; i < 3; ++i) {
      ea[i] = 0.9 * ea[i] + 0.1 * 0.05 * upd[i] / denom;
      p[i] = p[i] - 0.1 * 0.05 * p[i] - ea[i];
    }
    ASSERT_TRUE(all_close(params.at("b").as_array(), p, 1e-4, 1e-6)) << "step " << t;
  }
  EXPECT_THROW(opt::Adafactor(std::nullopt, {1e-30f, 1e-3f}, 1.0f, -0.8f, std::nullopt, 0.0f, true, false),
               std::invalid_argument);
}

TEST(Optimizers, Schedules) {
  EXPECT_NEAR(opt::exponential_decay(0.1f, 0.9f)(5), 0.1 * std::pow(0.9, 5), 1e-7);
  EXPECT_NEAR(opt::step_decay(0.1f, 0.5f, 3)(7), 0.1 * 0.25, 1e-7);
  EXPECT_NEAR(opt::step_decay(0.1f, 0.5f, 3)(2), 0.1, 1e-7);
  auto cd = opt::cosine_decay(0.1f, 10, 0.01f);
  EXPECT_NEAR(cd(0), 0.1, 1e-7);
  EXPECT_NEAR(cd(4), 0.01 + 0.5 * (1 + std::cos(std::numbers::pi * 0.4)) * 0.09, 1e-7);
  EXPECT_NEAR(cd(20), 0.01, 1e-7);
  auto ls = opt::linear_schedule(0.0f, 1.0f, 4);
  EXPECT_NEAR(ls(1), 0.25, 1e-7);
  EXPECT_NEAR(ls(10), 1.0, 1e-7);
  auto joined = opt::join_schedules({opt::linear_schedule(0.0f, 0.1f, 5), opt::cosine_decay(0.1f, 10)}, {5});
  EXPECT_NEAR(joined(3), 0.06, 1e-7);
  EXPECT_NEAR(joined(5), 0.1, 1e-7);
  EXPECT_NEAR(joined(10), 0.05 * (1 + std::cos(std::numbers::pi * 0.5)), 1e-7);
  EXPECT_THROW(opt::join_schedules({opt::linear_schedule(0.0f, 0.1f, 5)}, {5}), std::invalid_argument);
  EXPECT_THROW(opt::step_decay(0.1f, 0.5f, 0), std::invalid_argument);

  // An optimizer evaluates its schedule at step 0, 1, 2 (before incrementing).
  opt::SGD o(opt::exponential_decay(1.0f, 0.5f));
  std::vector<double> p = kP0;
  check_steps(o, [&](auto& pp, auto& g, int t) {
    for (size_t i = 0; i < pp.size(); ++i) pp[i] -= std::pow(0.5, t - 1) * g[i];
  });
  EXPECT_NEAR(o.learning_rate(), 0.25, 1e-7);
  EXPECT_NEAR(o.state().at("learning_rate").as_array().item<float>(), 0.25, 1e-7);
}

TEST(Optimizers, ClipGradNorm) {
  Tree g = Tree::dict();
  g["a"] = array({3.0f, 4.0f});
  g["b"] = Tree(Tree::List{Tree(array({12.0f}, {1, 1}))});
  auto [clipped, norm] = opt::clip_grad_norm(g, 6.5f);
  EXPECT_NEAR(norm.item<float>(), 13.0, 1e-5);
  double s = 6.5 / (13.0 + 1e-6);
  EXPECT_TRUE(all_close(clipped.at("a").as_array(), {3 * s, 4 * s}, 1e-6));
  EXPECT_TRUE(all_close(clipped.at("b").at(0).as_array(), {12 * s}, 1e-6));
  auto [same, norm2] = opt::clip_grad_norm(g, 20.0f);
  EXPECT_TRUE(all_close(same.at("a").as_array(), {3.0, 4.0}));
  EXPECT_NEAR(norm2.item<float>(), 13.0, 1e-5);
}

TEST(Optimizers, StateSaveRestoreAndModelUpdate) {
  auto run_step = [](opt::Optimizer& o, Tree params, int t) {
    Tree g = Tree::dict();
    g["w"] = array(kGrads[t], {2, 3}, float32);
    return o.apply_gradients(g, params);
  };
  opt::Adam a(0.01f);
  Tree params = Tree::dict();
  params["w"] = array(kP0, {2, 3}, float32);
  params = run_step(a, params, 0);
  params = run_step(a, params, 1);
  auto st = a.state();
  std::vector<std::string> keys;
  for (auto& [k, v] : tree_flatten(st)) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"step", "learning_rate", "w.m", "w.v"}));
  EXPECT_EQ(st.at("step").as_array().item<int>(), 2);
  opt::Adam b(0.5f);
  b.set_state(st);
  EXPECT_EQ(b.step(), 2);
  auto pa = run_step(a, params, 2), pb = run_step(b, params, 2);
  EXPECT_EQ(pa.at("w").as_array().to_vector<float>(), pb.at("w").as_array().to_vector<float>());
  EXPECT_THROW(b.set_state(Tree::dict()["x"]), std::invalid_argument);

  // update(model, grads) on a Linear; a gradient without a parameter throws.
  random::seed(9);
  nn::Linear lin(3, 2);
  auto w0 = lin.get_array("weight").to_vector<double>();
  Tree grads = Tree::dict();
  grads["weight"] = ones({2, 3});
  opt::SGD sgd(0.5f);
  sgd.update(lin, grads);
  auto w1 = lin.get_array("weight").to_vector<double>();
  for (size_t i = 0; i < w0.size(); ++i) EXPECT_NEAR(w1[i], w0[i] - 0.5, 1e-6);
  Tree stray = Tree::dict();
  stray["gamma"] = ones({2});
  auto msg = error_message([&] { sgd.update(lin, stray); });
  EXPECT_EQ(msg.rfind("[optimizers]", 0), 0u) << msg;
  Tree wrong = Tree::dict();
  wrong["weight"] = ones({3, 2});
  EXPECT_THROW(sgd.update(lin, wrong), std::invalid_argument);
}
