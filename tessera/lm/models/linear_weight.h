// A model's linear (or embedding) weight: dense, MLX affine-quantized or raw GGUF blocks, applied as x W^T.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/array.h"
#include "tessera/ops/quantized.h"

namespace tessera::lm {

using WeightMap = std::unordered_map<std::string, array>;

// How a WeightMap stores a (out, in) weight under prefix P (e.g. "model.layers.0.mlp.up_proj"):
//   dense:  P.weight (out, in) floating;
//   affine: P.weight (out, in * bits / 32) uint32, P.scales and P.biases (out, in / group_size)
//           (the MLX / MLX-LM layout; bits and group_size follow from the shapes and `in`);
//   gguf:   P.weight (out, in / block * block_bytes) uint8 raw ggml blocks and P.gguf_type, an int32
//           scalar holding the ggml type id (tessera's own in-memory marker, never saved).
class LinearWeight {
 public:
  enum class Kind { Dense, Affine, GGUF };

  LinearWeight() = default;
  // w: (out, in) floating.
  static LinearWeight dense(const array& w);
  // w_q (out, in * bits / 32) uint32; scales, biases (out, in / group_size).
  static LinearWeight affine(const array& w_q, const array& scales, const array& biases, int group_size,
                             int bits);
  // blocks (out, in / block * bytes) uint8.
  static LinearWeight gguf(const array& blocks, GGUFType type, int in_features);

  // Weights of one input stacked along their outputs, so that one matmul computes them all (q/k/v,
  // gate/up): (sum of out, in). nullopt when their kinds, input sizes, dtypes, bits, group sizes or GGUF
  // types differ, or one is empty.
  static std::optional<LinearWeight> stacked(const std::vector<LinearWeight>& parts);
  bool empty() const { return !w_.has_value(); }

  // x: (..., in) -> (..., out) = x W^T.
  array apply(const array& x) const;
  // Rows of W for integer ids of any shape -> (..., in), dequantized (embedding lookup).
  array rows(const array& ids) const;
  // The whole (out, in) weight as a dense array (dequantized if needed; dtype of the scales, float32 for
  // GGUF blocks, the weight's own dtype when dense).
  array to_dense() const;

  Kind kind() const { return kind_; }
  int in_features() const { return in_; }
  int out_features() const { return out_; }
  int bits() const { return bits_; }
  int group_size() const { return group_size_; }
  GGUFType gguf_type() const { return gguf_type_; }

 private:
  Kind kind_ = Kind::Dense;
  int in_ = 0, out_ = 0;
  std::optional<array> w_;      // dense (out, in) / affine w_q / gguf blocks
  std::optional<array> w_t_;    // dense only: the (in, out) transposed view, evaluated
  std::optional<array> scales_, biases_;
  int group_size_ = 0, bits_ = 0;
  GGUFType gguf_type_ = GGUFType::Q8_0;
};

// The weight under `prefix` (see above), checked to be (out, in) in its layout; throws
// "[<area>] missing weight ..." / "... has shape ..." otherwise.
LinearWeight linear_weight_from(const WeightMap& weights, const std::string& prefix, int out, int in,
                                const std::string& area);

// True when `prefix` is stored quantized (affine or GGUF blocks) in weights.
bool is_quantized_weight(const WeightMap& weights, const std::string& prefix);

// The bits and group size of an affine weight from its shapes: w_q (..., in * bits / 32), scales
// (..., in / group_size). Throws "[quantize] ..." when they do not give a supported pair.
std::pair<int, int> affine_bits_and_group(const array& w_q, const array& scales, int in_features);

}  // namespace tessera::lm
