// vjp/jvp rules of the quantization primitives. Dequantization w = scales * q + biases (per group) is
// linear in scales and biases; the packed integers get no gradient. Quantizing rounds to integers, whose
// derivative is zero almost everywhere: it has no rule (a clear error; stop_gradient it or use a
// straight-through estimator).
#include <optional>

#include "tessera/primitives/quantized.h"
#include "tessera/transforms/rules_common.h"

namespace tessera {

namespace {
// Cotangents of scales and biases (..., rows, K / gs) from the cotangent of the dequantized w (..., rows, K).
std::pair<array, array> dequantize_vjp(const array& w_q, const array& scales, const array& cw, int gs, int bits) {
  auto q = dequantize(w_q, ones_like(scales), zeros_like(scales), gs, bits);  // the integers, as floats
  Shape grouped = scales.shape();
  grouped.push_back(gs);
  return {sum(reshape(multiply(astype(cw, q.dtype()), q), grouped), -1), sum(reshape(astype(cw, q.dtype()), grouped), -1)};
}
// The cotangents for argnums from the known ones; the packed integers (input `packed`) have none.
std::vector<array> select(const char* name, int packed, const std::vector<int>& argnums,
                          const std::vector<array>& primals, const std::vector<std::pair<int, array>>& known) {
  std::vector<array> r;
  for (int a : argnums) {
    if (a == packed) {
      throw std::invalid_argument(std::string("[") + name + "] The packed quantized weight (argument " +
                                  std::to_string(a) + ") has no gradient; scales and biases do.");
    }
    bool found = false;
    for (auto& [i, g] : known) {
      if (i == a) {
        r.push_back(g);
        found = true;
        break;
      }
    }
    if (!found) r.push_back(zeros_like(primals[a]));
  }
  return r;
}
[[noreturn]] void no_quantize_rule(const char* what) {
  throw std::invalid_argument(std::string("[AffineQuantize] ") + what +
                              " is not implemented: rounding to integers has a zero derivative almost everywhere. "
                              "Wrap quantize in stop_gradient, or use a straight-through estimator (x + "
                              "stop_gradient(dequantize(quantize(x)) - x)).");
}
}  // namespace

std::vector<array> AffineQuantize::vjp(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&,
                                       const std::vector<array>&) {
  no_quantize_rule("vjp");
}
std::vector<array> AffineQuantize::jvp(const std::vector<array>&, const std::vector<array>&, const std::vector<int>&) {
  no_quantize_rule("jvp");
}

// Inputs: w_q (rows, packed) uint32, scales, biases (rows, K / gs); out (rows, K).
std::vector<array> AffineDequantize::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                         const std::vector<int>& argnums, const std::vector<array>&) {
  auto [cs, cb] = dequantize_vjp(primals[0], primals[1], cotangents[0], group_size_, bits_);
  return select(name(), 0, argnums, primals, {{1, cs}, {2, cb}});
}
std::vector<array> AffineDequantize::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                         const std::vector<int>& argnums) {
  // Linear in (scales, biases): the tangent is the dequantization with the tangents in their place.
  return {dequantize(primals[0], rules::tangent_of(1, primals, tangents, argnums),
                     rules::tangent_of(2, primals, tangents, argnums), group_size_, bits_)};
}

// Inputs: x (M, K), w_q, scales, biases; out = x @ W^T (transpose) or x @ W, W = dequantize(w_q, ...).
// Batched (all inputs (batch..., rows, cols), size-1 batch dims broadcast): cotangents are summed back
// over the broadcast dims.
std::vector<array> QuantizedMatmul::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                        const std::vector<int>& argnums, const std::vector<array>&) {
  const array &x = primals[0], &c = cotangents[0];
  std::vector<std::pair<int, array>> known;
  for (int a : argnums) {
    if (a == 0) {
      // d/dx (x @ W^T) = c @ W: the same weight with the transpose flag flipped.
      auto cx = quantized_matmul(c, primals[1], primals[2], primals[3], !transpose_, group_size_, bits_);
      known.emplace_back(0, rules::sum_to_shape(cx, x.shape()));
    }
  }
  bool weights = false;
  for (int a : argnums) weights = weights || a == 2 || a == 3;
  if (weights) {
    auto cw = transpose_ ? matmul(rules::mT(c), x) : matmul(rules::mT(x), c);  // W's shape (broadcast)
    Shape ws = primals[2].shape();
    ws.back() = cw.shape(-1);
    cw = rules::sum_to_shape(cw, ws);
    auto [cs, cb] = dequantize_vjp(primals[1], primals[2], cw, group_size_, bits_);
    known.emplace_back(2, cs);
    known.emplace_back(3, cb);
  }
  return select(name(), 1, argnums, primals, known);
}
std::vector<array> QuantizedMatmul::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                        const std::vector<int>& argnums) {
  std::optional<array> out;
  auto acc = [&](const array& t) { out = out ? add(*out, t) : t; };
  for (size_t j = 0; j < argnums.size(); ++j) {
    if (argnums[j] == 0) {
      acc(quantized_matmul(tangents[j], primals[1], primals[2], primals[3], transpose_, group_size_, bits_));
    }
  }
  bool weights = false;
  for (int a : argnums) weights = weights || a == 2 || a == 3;
  if (weights) {
    auto dw = dequantize(primals[1], rules::tangent_of(2, primals, tangents, argnums),
                         rules::tangent_of(3, primals, tangents, argnums), group_size_, bits_);
    acc(matmul(primals[0], transpose_ ? rules::mT(dw) : dw));
  }
  if (!out) return {zeros_like(rules::current_outputs(name())[0])};
  return {*out};
}

// Inputs: x (M, K) float32, blocks (N, bytes); out = x @ W^T with W = gguf_dequantize(blocks) (N, K).
std::vector<array> GGUFMatmul::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<std::pair<int, array>> known;
  const array& x = primals[0];
  for (int a : argnums) {
    if (a == 0) {
      auto w = gguf_dequantize(primals[1], type_, {cotangents[0].shape(-1), x.shape(-1)});
      known.emplace_back(0, matmul(cotangents[0], w));
    }
  }
  return select(name(), 1, argnums, primals, known);
}
std::vector<array> GGUFMatmul::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                   const std::vector<int>& argnums) {
  for (size_t j = 0; j < argnums.size(); ++j) {
    if (argnums[j] == 0) return {gguf_quantized_matmul(tangents[j], primals[1], type_, primals[0].shape(-1))};
  }
  return {zeros_like(rules::current_outputs(name())[0])};
}

}  // namespace tessera
