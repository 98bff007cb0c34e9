// Bindings of tessera/nn functions and tessera/optimizers as the private tessera.core._nn (used by
// the Python packages tessera.nn and tessera.optimizers, which hold the user-facing classes).
#include <nanobind/stl/function.h>
#include <nanobind/stl/unordered_map.h>

#include <numeric>
#include <stdexcept>

#include "tessera/io.h"
#include "tessera/nn.h"
#include "tessera/optimizers.h"
#include "tessera/transforms.h"
#include "utils.h"

using namespace tessera;
namespace opt = tessera::optimizers;
namespace ls = tessera::nn::losses;

namespace {

// Python tree (dict with str keys / list / tuple / array / None) <-> tessera::Tree.
Tree to_tree(nb::handle h) {
  if (h.is_none()) return Tree();
  if (nb::isinstance<array>(h)) return Tree(nb::cast<array>(h));
  if (nb::isinstance<nb::dict>(h)) {
    Tree::Dict d;
    for (auto [k, v] : nb::borrow<nb::dict>(h)) {
      if (!nb::isinstance<nb::str>(k)) throw std::invalid_argument("[nn] tree dict keys must be strings.");
      d.emplace_back(nb::cast<std::string>(k), to_tree(v));
    }
    return Tree(std::move(d));
  }
  if (nb::isinstance<nb::list>(h) || nb::isinstance<nb::tuple>(h)) {
    Tree::List l;
    for (nb::handle v : h) l.push_back(to_tree(v));
    return Tree(std::move(l));
  }
  throw std::invalid_argument("[nn] tree leaves must be arrays (got " +
                              nb::cast<std::string>(nb::str(h.type())) + ").");
}

nb::object from_tree(const Tree& t) {
  if (t.is_none()) return nb::none();
  if (t.is_array()) return nb::cast(t.as_array());
  if (t.is_list()) {
    nb::list l;
    for (const auto& v : t.as_list()) l.append(from_tree(v));
    return l;
  }
  nb::dict d;
  for (const auto& [k, v] : t.as_dict()) d[nb::str(k.c_str())] = from_tree(v);
  return d;
}

std::optional<array> opt_array(const std::optional<ArrayLike>& a) {
  if (!a) return std::nullopt;
  return txpy::to_array(*a);
}

// A learning rate from Python: a float or a callable step -> float. The callable is borrowed (the Python
// wrapper keeps it alive), so no reference cycle hides inside the C++ optimizer.
opt::LearningRate to_lr(nb::handle h) {
  if (PyCallable_Check(h.ptr())) {
    nb::handle fn = h;
    return opt::Schedule([fn](int step) {
      nb::gil_scoped_acquire gil;
      return nb::cast<float>(nb::float_(fn(step)));
    });
  }
  return nb::cast<float>(nb::float_(h));
}

std::unordered_map<std::string, array> to_array_map(const nb::dict& d) {
  std::unordered_map<std::string, array> m;
  for (auto [k, v] : d) m.emplace(nb::cast<std::string>(k), txpy::to_array(v));
  return m;
}

void bind_activations(nb::module_& m) {
  using F = array (*)(const array&);
  auto one = [&](const char* name, F f, const char* doc) {
    m.def(name, [f](const ArrayLike& x) { return f(txpy::to_array(x)); }, "x"_a, doc);
  };
  one("relu", nn::relu, "max(x, 0).");
  one("relu6", nn::relu6, "min(max(x, 0), 6).");
  one("selu", nn::selu, "1.0507 * elu(x, 1.67326).");
  one("gelu", nn::gelu, "x (1 + erf(x / sqrt 2)) / 2.");
  one("gelu_approx", nn::gelu_approx, "x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).");
  one("gelu_fast_approx", nn::gelu_fast_approx, "x sigmoid(1.702 x).");
  one("silu", nn::silu, "x sigmoid(x).");
  one("sigmoid", nn::sigmoid, "1 / (1 + e^-x).");
  one("tanh", nn::tanh, "Hyperbolic tangent.");
  one("softplus", nn::softplus, "log(1 + e^x).");
  one("softsign", nn::softsign, "x / (1 + |x|).");
  one("mish", nn::mish, "x tanh(softplus(x)).");
  one("hardswish", nn::hardswish, "x min(max(x + 3, 0), 6) / 6.");
  one("log_sigmoid", nn::log_sigmoid, "-softplus(-x).");
  m.def("leaky_relu", [](const ArrayLike& x, float s) { return nn::leaky_relu(txpy::to_array(x), s); }, "x"_a,
        "negative_slope"_a = 0.01f, "max(negative_slope * x, x).");
  m.def("elu", [](const ArrayLike& x, float a) { return nn::elu(txpy::to_array(x), a); }, "x"_a, "alpha"_a = 1.0f,
        "x > 0 ? x : alpha (e^x - 1).");
  m.def("celu", [](const ArrayLike& x, float a) { return nn::celu(txpy::to_array(x), a); }, "x"_a, "alpha"_a = 1.0f,
        "max(x, 0) + alpha (e^(min(x, 0) / alpha) - 1).");
  m.def("hard_tanh", [](const ArrayLike& x, float lo, float hi) { return nn::hard_tanh(txpy::to_array(x), lo, hi); },
        "x"_a, "min_val"_a = -1.0f, "max_val"_a = 1.0f, "clip(x, min_val, max_val).");
  m.def("step", [](const ArrayLike& x, float t) { return nn::step(txpy::to_array(x), t); }, "x"_a, "threshold"_a = 0.0f,
        "int32: 1 where x > threshold, else 0.");
  m.def("glu", [](const ArrayLike& x, int axis) { return nn::glu(txpy::to_array(x), axis); }, "x"_a, "axis"_a = -1,
        "a sigmoid(b) with (a, b) the halves of x along axis.");
  m.def("prelu", [](const ArrayLike& x, const ArrayLike& a) { return nn::prelu(txpy::to_array(x), txpy::to_array(a)); },
        "x"_a, "alpha"_a, "max(0, x) + alpha min(0, x).");
}

void bind_losses(nb::module_& m) {
  m.def("cross_entropy",
        [](const ArrayLike& logits, const ArrayLike& targets, std::optional<ArrayLike> w, int axis, float ls_,
           const std::string& red) {
          return ls::cross_entropy(txpy::to_array(logits), txpy::to_array(targets), opt_array(w), axis, ls_, red);
        },
        "logits"_a, "targets"_a, "weights"_a = nb::none(), "axis"_a = -1, "label_smoothing"_a = 0.0f,
        "reduction"_a = "none", "Cross entropy of logits and class indices or probabilities.");
  m.def("binary_cross_entropy",
        [](const ArrayLike& in, const ArrayLike& t, std::optional<ArrayLike> w, bool with_logits, const std::string& red) {
          return ls::binary_cross_entropy(txpy::to_array(in), txpy::to_array(t), opt_array(w), with_logits, red);
        },
        "inputs"_a, "targets"_a, "weights"_a = nb::none(), "with_logits"_a = true, "reduction"_a = "mean",
        "Binary cross entropy of logits (or probabilities) and targets.");
  m.def("l1_loss",
        [](const ArrayLike& p, const ArrayLike& t, const std::string& red) {
          return ls::l1_loss(txpy::to_array(p), txpy::to_array(t), red);
        },
        "predictions"_a, "targets"_a, "reduction"_a = "mean", "Mean absolute error.");
  m.def("mse_loss",
        [](const ArrayLike& p, const ArrayLike& t, const std::string& red) {
          return ls::mse_loss(txpy::to_array(p), txpy::to_array(t), red);
        },
        "predictions"_a, "targets"_a, "reduction"_a = "mean", "Mean squared error.");
  m.def("smooth_l1_loss",
        [](const ArrayLike& p, const ArrayLike& t, float beta, const std::string& red) {
          return ls::smooth_l1_loss(txpy::to_array(p), txpy::to_array(t), beta, red);
        },
        "predictions"_a, "targets"_a, "beta"_a = 1.0f, "reduction"_a = "mean",
        "|d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta.");
  m.def("huber_loss",
        [](const ArrayLike& p, const ArrayLike& t, float delta, const std::string& red) {
          return ls::huber_loss(txpy::to_array(p), txpy::to_array(t), delta, red);
        },
        "inputs"_a, "targets"_a, "delta"_a = 1.0f, "reduction"_a = "none", "Huber loss.");
  m.def("nll_loss",
        [](const ArrayLike& p, const ArrayLike& t, int axis, const std::string& red) {
          return ls::nll_loss(txpy::to_array(p), txpy::to_array(t), axis, red);
        },
        "inputs"_a, "targets"_a, "axis"_a = -1, "reduction"_a = "none", "Negative log likelihood of log-probabilities.");
  m.def("kl_div_loss",
        [](const ArrayLike& p, const ArrayLike& t, int axis, const std::string& red) {
          return ls::kl_div_loss(txpy::to_array(p), txpy::to_array(t), axis, red);
        },
        "inputs"_a, "targets"_a, "axis"_a = -1, "reduction"_a = "none", "KL divergence of log-probabilities.");
  m.def("cosine_similarity_loss",
        [](const ArrayLike& a, const ArrayLike& b, int axis, float eps, const std::string& red) {
          return ls::cosine_similarity_loss(txpy::to_array(a), txpy::to_array(b), axis, eps, red);
        },
        "x1"_a, "x2"_a, "axis"_a = 1, "eps"_a = 1e-8f, "reduction"_a = "none", "Cosine similarity along axis.");
}

// The layers' math (tessera/nn/functional.h), called by the tessera.nn Module classes.
void bind_layers(nb::module_& m) {
  namespace F = nn::functional;
  using OA = std::optional<array>;
  auto X = [](const ArrayLike& x) { return txpy::to_array(x); };
  m.def(
      "linear", [X](const ArrayLike& x, const array& w, OA b) { return F::linear(X(x), w, b); }, "x"_a,
      "weight"_a, "bias"_a.none() = nb::none(), "x (..., in) @ weight (out, in)^T + bias (out,).");
  m.def(
      "embedding", [X](const ArrayLike& idx, const array& w) { return F::embedding(X(idx), w); }, "indices"_a,
      "weight"_a, "weight (num_embeddings, dims) rows at integer indices -> (..., dims).");
  m.def(
      "group_norm",
      [X](const ArrayLike& x, int groups, OA w, OA b, float eps, bool torch) {
        return F::group_norm(X(x), groups, w, b, eps, torch);
      },
      "x"_a, "num_groups"_a, "weight"_a.none() = nb::none(), "bias"_a.none() = nb::none(), "eps"_a = 1e-5f,
      "pytorch_compatible"_a = false,
      "x (batch, ..., dims) normalized per (batch, group): channel c in group c % num_groups (MLX) or "
      "c // (dims / num_groups) (pytorch_compatible), then * weight + bias.");
  m.def(
      "batch_norm",
      [X](const ArrayLike& x, OA w, OA b, OA rm, OA rv, bool training, float momentum, float eps) {
        auto r = F::batch_norm(X(x), w, b, rm, rv, training, momentum, eps);
        return nb::make_tuple(r.y, r.running_mean ? nb::cast(*r.running_mean) : nb::none(),
                              r.running_var ? nb::cast(*r.running_var) : nb::none());
      },
      "x"_a, "weight"_a.none() = nb::none(), "bias"_a.none() = nb::none(),
      "running_mean"_a.none() = nb::none(), "running_var"_a.none() = nb::none(), "training"_a = true,
      "momentum"_a = 0.1f, "eps"_a = 1e-5f,
      "(y, new running_mean or None, new running_var or None): x (N, ..., C) normalized per feature.");
  m.def(
      "dropout", [X](const ArrayLike& x, float p, OA key) { return F::dropout(X(x), p, key); }, "x"_a, "p"_a,
      "key"_a.none() = nb::none(), "Zeroes elements with probability p and scales the rest by 1 / (1 - p).");
  m.def(
      "conv1d",
      [X](const ArrayLike& x, const array& w, OA b, int stride, int padding, int dilation, int groups) {
        return F::conv1d(X(x), w, b, stride, padding, dilation, groups);
      },
      "x"_a, "weight"_a, "bias"_a.none() = nb::none(), "stride"_a = 1, "padding"_a = 0, "dilation"_a = 1,
      "groups"_a = 1, "x (N, L, C_in), weight (C_out, K, C_in / groups) -> (N, L_out, C_out) + bias.");
  using P = std::pair<int, int>;
  m.def(
      "conv2d",
      [X](const ArrayLike& x, const array& w, OA b, P stride, P padding, P dilation, int groups) {
        return F::conv2d(X(x), w, b, stride, padding, dilation, groups);
      },
      "x"_a, "weight"_a, "bias"_a.none() = nb::none(), "stride"_a = P{1, 1}, "padding"_a = P{0, 0},
      "dilation"_a = P{1, 1}, "groups"_a = 1,
      "x (N, H, W, C_in), weight (C_out, KH, KW, C_in / groups) -> (N, H_out, W_out, C_out) + bias.");
  using V = std::vector<int>;
  m.def(
      "max_pool",
      [X](const ArrayLike& x, const V& k, V s, const V& p) { return F::max_pool(X(x), k, std::move(s), p); },
      "x"_a, "kernel_size"_a, "stride"_a = V{}, "padding"_a = V{}, "Max over windows of x (N, *spatial, C).");
  m.def(
      "avg_pool",
      [X](const ArrayLike& x, const V& k, V s, const V& p) { return F::avg_pool(X(x), k, std::move(s), p); },
      "x"_a, "kernel_size"_a, "stride"_a = V{}, "padding"_a = V{},
      "Mean over windows of x (N, *spatial, C), zero padding counted.");
  m.def("pool_strides", &F::pool_strides, "who"_a, "kernel_size"_a, "stride"_a, "padding"_a,
        "Checks pooling arguments; the strides with 0 meaning kernel_size.");
  m.def(
      "attention_heads",
      [X](const ArrayLike& q, const ArrayLike& k, const ArrayLike& v, int heads,
          std::optional<ArrayLike> mask, const std::string& mode) {
        return F::attention_heads(X(q), X(k), X(v), heads, opt_array(mask), mode);
      },
      "queries"_a, "keys"_a, "values"_a, "num_heads"_a, "mask"_a.none() = nb::none(), "mask_mode"_a = "",
      "Projected queries (B, L, H dk), keys (B, S, H dk), values (B, S, H dv) -> (B, L, H dv) per-head "
      "attention.");
  m.def(
      "multi_head_attention",
      [X](const ArrayLike& q, const ArrayLike& k, const ArrayLike& v, int heads, const array& wq,
          const array& wk, const array& wv, const array& wo, OA bq, OA bk, OA bv, OA bo,
          std::optional<ArrayLike> mask, const std::string& mode) {
        F::AttentionWeights w{wq, wk, wv, wo, bq, bk, bv, bo};
        return F::multi_head_attention(X(q), X(k), X(v), heads, w, opt_array(mask), mode);
      },
      "queries"_a, "keys"_a, "values"_a, "num_heads"_a, "query_weight"_a, "key_weight"_a, "value_weight"_a,
      "out_weight"_a, "query_bias"_a.none() = nb::none(), "key_bias"_a.none() = nb::none(),
      "value_bias"_a.none() = nb::none(), "out_bias"_a.none() = nb::none(), "mask"_a.none() = nb::none(),
      "mask_mode"_a = "", "MultiHeadAttention from its projection weights (out, in).");
  m.def("additive_causal_mask", &F::additive_causal_mask, "N"_a, "dtype"_a = float32,
        "(N, N): 0 on and below the diagonal, the dtype's lowest value above.");
  m.def(
      "transformer_encoder_layer", &F::transformer_encoder_layer, "x"_a, "attention"_a, "mlp"_a, "ln1"_a,
      "ln2"_a, "dropout"_a, "norm_first"_a = true,
      "Residual attention + MLP block from callables (self-attention, mlp, norms, dropout) of (..., dims).");
  m.def(
      "quantized_linear",
      [X](const ArrayLike& x, const array& wq, const array& s, const array& b, OA bias, int gs, int bits) {
        return F::quantized_linear(X(x), wq, s, b, bias, gs, bits);
      },
      "x"_a, "weight"_a, "scales"_a, "biases"_a, "bias"_a.none() = nb::none(), "group_size"_a = 64,
      "bits"_a = 4, "x (..., in) @ W^T (+ bias) with W quantized (out, in * bits / 32).");
  m.def(
      "quantized_embedding",
      [X](const ArrayLike& idx, const array& wq, const array& s, const array& b, int gs, int bits) {
        return F::quantized_embedding(X(idx), wq, s, b, gs, bits);
      },
      "indices"_a, "weight"_a, "scales"_a, "biases"_a, "group_size"_a = 64, "bits"_a = 4,
      "Rows of a quantized table at integer indices, dequantized -> (..., dims).");
}

void bind_init(nb::module_& m) {
  m.def("init_constant", [](const array& a, float v, Dtype d) { return nn::init::constant(v, d)(a); }, "a"_a, "value"_a,
        "dtype"_a, "An array of a's shape filled with value.");
  m.def("init_normal", [](const array& a, float mean, float std, Dtype d) { return nn::init::normal(mean, std, d)(a); },
        "a"_a, "mean"_a, "std"_a, "dtype"_a, "Normal samples of a's shape.");
  m.def("init_uniform", [](const array& a, float lo, float hi, Dtype d) { return nn::init::uniform(lo, hi, d)(a); },
        "a"_a, "low"_a, "high"_a, "dtype"_a, "Uniform samples of a's shape.");
  m.def("init_identity", [](const array& a, Dtype d) { return nn::init::identity(d)(a); }, "a"_a, "dtype"_a,
        "The identity matrix of a's (square) shape.");
  m.def("init_glorot", [](const array& a, float gain, bool uniform, Dtype d) { return nn::init::Glorot{uniform, d}(a, gain); },
        "a"_a, "gain"_a, "uniform"_a, "dtype"_a, "Glorot (Xavier) initialization.");
  m.def("init_he",
        [](const array& a, const std::string& mode, float gain, bool uniform, Dtype d) {
          return nn::init::He{uniform, d}(a, mode, gain);
        },
        "a"_a, "mode"_a, "gain"_a, "uniform"_a, "dtype"_a, "He (Kaiming) initialization.");
}

void bind_optimizers(nb::module_& m) {
  nb::class_<opt::Optimizer>(m, "Optimizer", "The C++ optimizer behind tessera.optimizers classes.")
      .def("init", [](opt::Optimizer& o, nb::handle params) { o.init(to_tree(params)); }, "parameters"_a,
           "Creates missing per-parameter state.")
      .def("apply_gradients",
           [](opt::Optimizer& o, nb::handle g, nb::handle p) { return from_tree(o.apply_gradients(to_tree(g), to_tree(p))); },
           "gradients"_a, "parameters"_a, "New parameter values (the gradients' structure).")
      .def_prop_ro("step", &opt::Optimizer::step, "Number of updates done.")
      .def_prop_ro("learning_rate", &opt::Optimizer::learning_rate, "The current learning rate.")
      .def("set_learning_rate", [](opt::Optimizer& o, nb::handle lr) { o.set_learning_rate(to_lr(lr)); }, "lr"_a,
           "Sets a float or a schedule.")
      .def("state", [](const opt::Optimizer& o) { return from_tree(o.state()); }, "The state tree.")
      .def("set_state", [](opt::Optimizer& o, nb::handle s) { o.set_state(to_tree(s)); }, "state"_a,
           "Restores a state tree.")
      .def("state_arrays", &opt::Optimizer::state_arrays, "All state arrays.");
  using P = std::pair<float, float>;
  m.def("SGD", [](nb::handle lr, float mom, float wd, float damp, bool nest) -> opt::Optimizer* {
    return new opt::SGD(to_lr(lr), mom, wd, damp, nest);
  }, "learning_rate"_a, "momentum"_a, "weight_decay"_a, "dampening"_a, "nesterov"_a, nb::rv_policy::take_ownership, "SGD.");
  m.def("Adam", [](nb::handle lr, P b, float eps, bool bc) -> opt::Optimizer* {
    return new opt::Adam(to_lr(lr), b, eps, bc);
  }, "learning_rate"_a, "betas"_a, "eps"_a, "bias_correction"_a, nb::rv_policy::take_ownership, "Adam.");
  m.def("AdamW", [](nb::handle lr, P b, float eps, float wd, bool bc) -> opt::Optimizer* {
    return new opt::AdamW(to_lr(lr), b, eps, wd, bc);
  }, "learning_rate"_a, "betas"_a, "eps"_a, "weight_decay"_a, "bias_correction"_a, nb::rv_policy::take_ownership, "AdamW.");
  m.def("Adamax", [](nb::handle lr, P b, float eps) -> opt::Optimizer* {
    return new opt::Adamax(to_lr(lr), b, eps);
  }, "learning_rate"_a, "betas"_a, "eps"_a, nb::rv_policy::take_ownership, "Adamax.");
  m.def("Lion", [](nb::handle lr, P b, float wd) -> opt::Optimizer* {
    return new opt::Lion(to_lr(lr), b, wd);
  }, "learning_rate"_a, "betas"_a, "weight_decay"_a, nb::rv_policy::take_ownership, "Lion.");
  m.def("RMSprop", [](nb::handle lr, float alpha, float eps) -> opt::Optimizer* {
    return new opt::RMSprop(to_lr(lr), alpha, eps);
  }, "learning_rate"_a, "alpha"_a, "eps"_a, nb::rv_policy::take_ownership, "RMSprop.");
  m.def("Adagrad", [](nb::handle lr, float eps) -> opt::Optimizer* {
    return new opt::Adagrad(to_lr(lr), eps);
  }, "learning_rate"_a, "eps"_a, nb::rv_policy::take_ownership, "Adagrad.");
  m.def("Adafactor", [](std::optional<float> lr, P eps, float clip, float decay, std::optional<float> b1, float wd,
                        bool scale_p, bool rel, bool warm) -> opt::Optimizer* {
    return new opt::Adafactor(lr, eps, clip, decay, b1, wd, scale_p, rel, warm);
  }, "learning_rate"_a.none(), "eps"_a, "clip_threshold"_a, "decay_rate"_a, "beta_1"_a.none(), "weight_decay"_a,
     "scale_parameter"_a, "relative_step"_a, "warmup_init"_a, nb::rv_policy::take_ownership, "Adafactor.");
  m.def("clip_grad_norm",
        [](nb::handle g, float max_norm) {
          auto [t, n] = opt::clip_grad_norm(to_tree(g), max_norm);
          return nb::make_tuple(from_tree(t), n);
        },
        "grads"_a, "max_norm"_a, "(clipped gradients, total norm).");
  m.def("exponential_decay", &opt::exponential_decay, "init"_a, "decay_rate"_a, "init * decay_rate^step.");
  m.def("step_decay", &opt::step_decay, "init"_a, "decay_rate"_a, "step_size"_a, "init * decay_rate^(step // step_size).");
  m.def("cosine_decay", &opt::cosine_decay, "init"_a, "decay_steps"_a, "end"_a = 0.0f, "Cosine decay to end.");
  m.def("linear_schedule", &opt::linear_schedule, "init"_a, "end"_a, "steps"_a, "Linear warmup from init to end.");
  m.def("join_schedules",
        [](const nb::list& schedules, std::vector<int> boundaries) {
          std::vector<opt::Schedule> s;
          for (nb::handle h : schedules) s.push_back(std::get<opt::Schedule>(to_lr(h)));
          return opt::join_schedules(std::move(s), std::move(boundaries));
        },
        "schedules"_a, "boundaries"_a, "schedules[i + 1](step - boundaries[i]) from boundaries[i] on.");
}

}  // namespace

void init_nn(nb::module_& m) {
  auto n = m.def_submodule("_nn", "Private: C++ pieces of tessera.nn and tessera.optimizers.");
  bind_activations(n);
  bind_losses(n);
  bind_layers(n);
  bind_init(n);
  bind_optimizers(n);
  // fn(list of arrays) -> list of arrays (first: scalar loss); gradients of the loss w.r.t. every input.
  n.def("value_and_grad_flat",
        [](nb::callable fn, const std::vector<array>& primals) {
          VecFn f = [fn](const std::vector<array>& xs) {
            nb::object r = fn(nb::cast(xs));
            return nb::cast<std::vector<array>>(r);
          };
          std::vector<int> argnums(primals.size());
          std::iota(argnums.begin(), argnums.end(), 0);
          auto [outs, grads] = value_and_grad(f, argnums)(primals);
          return nb::make_tuple(outs, grads);
        },
        "fn"_a, "primals"_a, "(fn(primals), d fn(primals)[0] / d primals).");
  n.def("load", [](const std::string& path) { return load(path); }, "path"_a, "Arrays of a file by extension.");
  n.def("save_safetensors",
        [](const std::string& path, const nb::dict& arrays, std::optional<std::unordered_map<std::string, std::string>> meta) {
          save_safetensors(path, to_array_map(arrays), meta.value_or(StringMap{}));
        },
        "path"_a, "arrays"_a, "metadata"_a = nb::none(), "Writes a .safetensors file.");
  n.def("savez", [](const std::string& path, const nb::dict& arrays) { savez(path, to_array_map(arrays)); }, "path"_a,
        "arrays"_a, "Writes an .npz archive.");
}
