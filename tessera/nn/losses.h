// Loss functions (MLX's mlx.nn.losses, same formulas and defaults). reduction: "none", "mean" or "sum"
// (anything else throws "[losses] ...").
#pragma once

#include <optional>
#include <string>

#include "tessera/array.h"

namespace tessera::nn::losses {

// logits (..., C, ...); targets: class indices (logits' shape without `axis`) or probabilities
// (logits' shape). loss = logsumexp(logits) - score, with label smoothing
// logsumexp - (1 - ls) * score - ls * mean(logits). weights: the loss's shape (0 drops an element).
array cross_entropy(const array& logits, const array& targets, const std::optional<array>& weights = std::nullopt,
                    int axis = -1, float label_smoothing = 0.0f, const std::string& reduction = "none");
// with_logits: log(1 + e^x) - x t; else -(t log(p) + (1 - t) log(1 - p)) with logs clipped at -100.
array binary_cross_entropy(const array& inputs, const array& targets,
                           const std::optional<array>& weights = std::nullopt, bool with_logits = true,
                           const std::string& reduction = "mean");
array l1_loss(const array& predictions, const array& targets, const std::string& reduction = "mean");
array mse_loss(const array& predictions, const array& targets, const std::string& reduction = "mean");
// |d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta.
array smooth_l1_loss(const array& predictions, const array& targets, float beta = 1.0f,
                     const std::string& reduction = "mean");
// 0.5 min(|d|, delta)^2 + delta (|d| - min(|d|, delta)).
array huber_loss(const array& inputs, const array& targets, float delta = 1.0f, const std::string& reduction = "none");
// inputs: log-probabilities; -inputs[target] along axis.
array nll_loss(const array& inputs, const array& targets, int axis = -1, const std::string& reduction = "none");
// inputs, targets: log-probabilities; sum(e^t (t - x)) along axis.
array kl_div_loss(const array& inputs, const array& targets, int axis = -1, const std::string& reduction = "none");
// sum(x1 x2) / max(|x1| |x2|, eps) along axis.
array cosine_similarity_loss(const array& x1, const array& x2, int axis = 1, float eps = 1e-8f,
                             const std::string& reduction = "none");

}  // namespace tessera::nn::losses
