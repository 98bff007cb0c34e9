// Loss functions written with tessera ops.
#include "tessera/nn/losses.h"

#include <stdexcept>

#include "tessera/ops.h"

namespace tessera::nn::losses {

namespace {
array reduce(const array& loss, const std::string& reduction) {
  if (reduction == "mean") return mean(loss);
  if (reduction == "sum") return sum(loss);
  if (reduction == "none") return loss;
  throw std::invalid_argument("[losses] invalid reduction \"" + reduction + "\": must be 'none', 'mean', or 'sum'.");
}
array s(double v, const array& like) {
  return array(v, is_floating_point(like.dtype()) ? like.dtype() : float32);
}
void same_shape(const char* who, const array& a, const array& b) {
  if (a.shape() != b.shape()) {
    throw std::invalid_argument(std::string("[losses] ") + who + ": shapes " + shape_str(a.shape()) + " and " +
                                shape_str(b.shape()) + " differ.");
  }
}
int norm_axis(int axis, int ndim) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim) throw std::invalid_argument("[losses] axis " + std::to_string(axis) + " out of range.");
  return a;
}
array apply_weights(const array& loss, const std::optional<array>& weights) {
  if (!weights) return loss;
  if (weights->shape() != loss.shape()) {
    throw std::invalid_argument("[losses] weights shape " + shape_str(weights->shape()) +
                                " does not match the loss shape " + shape_str(loss.shape()) + ".");
  }
  return multiply(loss, *weights);
}
}  // namespace

array cross_entropy(const array& logits, const array& targets, const std::optional<array>& weights, int axis,
                    float label_smoothing, const std::string& reduction) {
  if (label_smoothing < 0.0f || label_smoothing >= 1.0f) {
    throw std::invalid_argument("[losses] label smoothing must be in [0, 1), got " + std::to_string(label_smoothing));
  }
  int ax = norm_axis(axis, logits.ndim());
  bool as_probs = targets.ndim() == logits.ndim();
  array score = targets;
  if (as_probs) {
    same_shape("cross_entropy", logits, targets);
    score = sum(multiply(logits, targets), ax);
  } else {
    Shape want = logits.shape();
    want.erase(want.begin() + ax);
    if (targets.shape() != want) {
      throw std::invalid_argument("[losses] cross_entropy: targets shape " + shape_str(targets.shape()) +
                                  " does not match logits shape " + shape_str(logits.shape()) + " without axis.");
    }
    if (is_floating_point(targets.dtype())) {
      throw std::invalid_argument("[losses] cross_entropy: class-index targets must be integers.");
    }
    score = squeeze(take_along_axis(logits, expand_dims(targets, ax), ax), std::vector<int>{ax});
  }
  auto lse = logsumexp(logits, ax);
  array loss = lse;
  if (label_smoothing > 0.0f) {
    auto adjusted = multiply(s(1.0 - label_smoothing, score), score);
    auto smoothed = multiply(negative(mean(logits, ax)), s(label_smoothing, score));
    loss = add(subtract(lse, adjusted), smoothed);
  } else {
    loss = subtract(lse, score);
  }
  return reduce(apply_weights(loss, weights), reduction);
}

array binary_cross_entropy(const array& inputs, const array& targets, const std::optional<array>& weights,
                           bool with_logits, const std::string& reduction) {
  same_shape("binary_cross_entropy", inputs, targets);
  array loss = inputs;
  if (with_logits) {
    loss = subtract(logaddexp(s(0, inputs), inputs), multiply(inputs, targets));
  } else {
    auto lo = s(-100, inputs);
    auto log_p = clip(log(inputs), lo, std::nullopt);
    auto log_q = clip(log(subtract(s(1, inputs), inputs)), lo, std::nullopt);
    loss = negative(add(multiply(targets, log_p), multiply(subtract(s(1, targets), targets), log_q)));
  }
  return reduce(apply_weights(loss, weights), reduction);
}

array l1_loss(const array& predictions, const array& targets, const std::string& reduction) {
  same_shape("l1_loss", predictions, targets);
  return reduce(abs(subtract(predictions, targets)), reduction);
}

array mse_loss(const array& predictions, const array& targets, const std::string& reduction) {
  same_shape("mse_loss", predictions, targets);
  return reduce(square(subtract(predictions, targets)), reduction);
}

array smooth_l1_loss(const array& predictions, const array& targets, float beta, const std::string& reduction) {
  same_shape("smooth_l1_loss", predictions, targets);
  auto d = abs(subtract(predictions, targets));
  auto b = s(beta, d);
  auto loss = where(less(d, b), divide(multiply(s(0.5, d), square(d)), b), subtract(d, multiply(s(0.5, d), b)));
  return reduce(loss, reduction);
}

array huber_loss(const array& inputs, const array& targets, float delta, const std::string& reduction) {
  auto err = abs(subtract(inputs, targets));
  auto quad = minimum(err, s(delta, err));
  auto lin = subtract(err, quad);
  auto loss = add(multiply(s(0.5, quad), square(quad)), multiply(s(delta, lin), lin));
  return reduce(loss, reduction);
}

array nll_loss(const array& inputs, const array& targets, int axis, const std::string& reduction) {
  int ax = norm_axis(axis, inputs.ndim());
  auto picked = squeeze(take_along_axis(inputs, expand_dims(targets, ax), ax), std::vector<int>{ax});
  return reduce(negative(picked), reduction);
}

array kl_div_loss(const array& inputs, const array& targets, int axis, const std::string& reduction) {
  same_shape("kl_div_loss", inputs, targets);
  return reduce(sum(multiply(exp(targets), subtract(targets, inputs)), axis), reduction);
}

array cosine_similarity_loss(const array& x1, const array& x2, int axis, float eps, const std::string& reduction) {
  auto n1 = sqrt(sum(square(x1), axis));
  auto n2 = sqrt(sum(square(x2), axis));
  auto num = sum(multiply(x1, x2), axis);
  auto den = maximum(multiply(n1, n2), s(eps, n1));
  return reduce(divide(num, den), reduction);
}

}  // namespace tessera::nn::losses
