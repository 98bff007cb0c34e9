// Quantization ops: argument checks, flattening to 2-D and building the quantization primitives.
#include "tessera/ops/quantized.h"

#include <stdexcept>

#include "tessera/ops/shape.h"
#include "tessera/primitives/quantized.h"

namespace tessera {

namespace {

void check_bits_group(int group_size, int bits, const char* op) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 5 && bits != 6 && bits != 8) {
    throw std::invalid_argument(std::string("[") + op + "] The requested number of bits " +
                                std::to_string(bits) +
                                " is not supported. The supported bits are 2, 3, 4, 5, 6 and 8.");
  }
  if (group_size != 32 && group_size != 64 && group_size != 128) {
    throw std::invalid_argument(std::string("[") + op + "] The requested group size " +
                                std::to_string(group_size) +
                                " is not supported. The supported group sizes are 32, 64 and 128.");
  }
}

void check_quant_float(Dtype d, const char* what, const char* op) {
  if (d != float32 && d != float16 && d != bfloat16) {
    throw std::invalid_argument(std::string("[") + op + "] " + what +
                                " must be float32, float16 or bfloat16, got " + dtype_name(d) + ".");
  }
}

// Checks w_q/scales/biases against each other; returns the unpacked last dimension.
int check_packed(const array& w_q, const array& scales, const array& biases, int group_size, int bits,
                 const char* op) {
  if (w_q.dtype() != uint32) {
    throw std::invalid_argument(std::string("[") + op + "] The quantized weight must be uint32, got " +
                                dtype_name(w_q.dtype()) + ".");
  }
  if (w_q.ndim() < 2) {
    throw std::invalid_argument(std::string("[") + op +
                                "] The quantized weight must have at least 2 dimensions.");
  }
  if (scales.shape() != biases.shape()) {
    throw std::invalid_argument(std::string("[") + op + "] Scales and biases must have the same shape, got " +
                                shape_str(scales.shape()) + " and " + shape_str(biases.shape()) + ".");
  }
  check_quant_float(scales.dtype(), "scales", op);
  check_quant_float(biases.dtype(), "biases", op);
  int64_t K = static_cast<int64_t>(w_q.shape(-1)) * 32 / bits;
  Shape lead_w(w_q.shape().begin(), w_q.shape().end() - 1);
  Shape lead_s(scales.shape().begin(), scales.shape().end() - 1);
  if (scales.ndim() != w_q.ndim() || lead_w != lead_s ||
      static_cast<int64_t>(scales.shape(-1)) * group_size != K) {
    throw std::invalid_argument(std::string("[") + op + "] Shape of scales and biases " +
                                shape_str(scales.shape()) + " does not match the quantized weight " +
                                shape_str(w_q.shape()) + " with group_size=" + std::to_string(group_size) +
                                " and bits=" + std::to_string(bits) + ".");
  }
  return static_cast<int>(K);
}

int gguf_type_index(GGUFType t) {
  switch (t) {
    case GGUFType::Q4_0:
    case GGUFType::Q4_1:
    case GGUFType::Q8_0:
    case GGUFType::Q4_K:
    case GGUFType::Q5_K:
    case GGUFType::Q6_K:
      return static_cast<int>(t);
  }
  throw std::invalid_argument("[gguf] Unsupported GGUF quantization type id " +
                              std::to_string(static_cast<int>(t)) + ".");
}

}  // namespace

std::vector<array> quantize(const array& w, int group_size, int bits, StreamOrDevice s) {
  auto st = to_stream(s);
  check_bits_group(group_size, bits, "quantize");
  check_quant_float(w.dtype(), "The matrix to be quantized", "quantize");
  if (w.ndim() < 2) {
    throw std::invalid_argument(
        "[quantize] The matrix to be quantized must have at least 2 dimensions but it has only " +
        std::to_string(w.ndim()) + ".");
  }
  ShapeElem K = w.shape(-1);
  if (K % group_size != 0) {
    throw std::invalid_argument(
        "[quantize] The last dimension of the matrix needs to be divisible by the "
        "quantization group size " +
        std::to_string(group_size) +
        ". However the provided "
        "matrix has shape " +
        shape_str(w.shape()) + ".");
  }
  ShapeElem rows = static_cast<ShapeElem>(w.size() / std::max<ShapeElem>(K, 1));
  auto w2 = reshape(w, {rows, K}, st);
  auto outs = array::make_arrays({{rows, K * bits / 32}, {rows, K / group_size}, {rows, K / group_size}},
                                 {uint32, w.dtype(), w.dtype()},
                                 std::make_shared<AffineQuantize>(st, group_size, bits), {w2});
  Shape lead(w.shape().begin(), w.shape().end() - 1), sq = lead, ss = lead;
  sq.push_back(K * bits / 32);
  ss.push_back(K / group_size);
  return {reshape(outs[0], sq, st), reshape(outs[1], ss, st), reshape(outs[2], ss, st)};
}

array dequantize(const array& w_q, const array& scales, const array& biases, int group_size, int bits,
                 StreamOrDevice s) {
  auto st = to_stream(s);
  check_bits_group(group_size, bits, "dequantize");
  int K = check_packed(w_q, scales, biases, group_size, bits, "dequantize");
  Dtype dt = scales.dtype();
  ShapeElem rows = static_cast<ShapeElem>(scales.size() / std::max<ShapeElem>(scales.shape(-1), 1));
  auto wq2 = reshape(w_q, {rows, w_q.shape(-1)}, st);
  auto sc2 = reshape(scales, {rows, scales.shape(-1)}, st);
  auto bi2 = reshape(astype(biases, dt, st), {rows, scales.shape(-1)}, st);
  array out({rows, K}, dt, std::make_shared<AffineDequantize>(st, group_size, bits), {wq2, sc2, bi2});
  Shape shape(w_q.shape().begin(), w_q.shape().end() - 1);
  shape.push_back(K);
  return reshape(out, shape, st);
}

array quantized_matmul(const array& x, const array& w_q, const array& scales, const array& biases,
                       bool transpose, int group_size, int bits, StreamOrDevice s) {
  auto st = to_stream(s);
  check_bits_group(group_size, bits, "quantized_matmul");
  int packed_last = check_packed(w_q, scales, biases, group_size, bits, "quantized_matmul");
  if (x.ndim() < 1) throw std::invalid_argument("[quantized_matmul] x must have at least 1 dimension.");
  Dtype dt = promote_types(x.dtype(), scales.dtype());
  check_quant_float(dt, "The inputs", "quantized_matmul");
  const int wr = w_q.ndim() - 2;  // batch dims of the weight
  ShapeElem K = transpose ? packed_last : w_q.shape(-2);
  ShapeElem N = transpose ? w_q.shape(-2) : packed_last;
  if (x.shape(-1) != K) {
    throw std::invalid_argument("[quantized_matmul] The last dimension of x " + shape_str(x.shape()) +
                                " does not match the weight's input size " + std::to_string(K) + " (weight " +
                                shape_str(w_q.shape()) + ", transpose=" + (transpose ? "true" : "false") +
                                ").");
  }
  bool w_batched = false;
  for (int d = 0; d < wr; ++d) w_batched = w_batched || w_q.shape(d) != 1;
  if (!w_batched) {
    // One weight matrix: every leading dim of x is a row; the result keeps x's leading dims (and
    // any size-1 batch dims of the weight beyond them, as broadcasting would).
    auto w2 = [&](const array& a) { return wr ? reshape(a, {a.shape(-2), a.shape(-1)}, st) : a; };
    ShapeElem M = static_cast<ShapeElem>(x.size() / std::max<ShapeElem>(K, 1));
    auto x2 = reshape(astype(x, dt, st), {M, K}, st);
    array out({M, N}, dt, std::make_shared<QuantizedMatmul>(st, transpose, group_size, bits),
              {x2, w2(w_q), astype(w2(scales), dt, st), astype(w2(biases), dt, st)});
    Shape shape(x.shape().begin(), x.shape().end() - 1);
    shape.push_back(N);
    while (static_cast<int>(shape.size()) < wr + 2) shape.insert(shape.begin(), 1);
    return reshape(out, shape, st);
  }
  // Batched weight (..., R, C): x (..., M, K); the batch dims broadcast as numpy's.
  if (x.ndim() < 2) {
    throw std::invalid_argument("[quantized_matmul] With a batched weight " + shape_str(w_q.shape()) +
                                ", x must have at least 2 dimensions (..., M, K), got " + shape_str(x.shape()) +
                                ".");
  }
  const int xr = x.ndim() - 2, nb = std::max(xr, wr);
  Shape batch(nb);
  for (int d = 0; d < nb; ++d) {
    int xd = d - (nb - xr), wd = d - (nb - wr);
    ShapeElem a = xd >= 0 ? x.shape(xd) : 1, b = wd >= 0 ? w_q.shape(wd) : 1;
    if (a != b && a != 1 && b != 1) {
      throw std::invalid_argument("[quantized_matmul] The batch dimensions of x " + shape_str(x.shape()) +
                                  " and of the quantized weight " + shape_str(w_q.shape()) +
                                  " cannot be broadcast together.");
    }
    batch[d] = a == 1 ? b : a;
  }
  // Equal ranks for the primitive: leading size-1 dims where an operand has fewer batch dims.
  auto lead = [&](const array& a, int r) {
    if (r == nb) return a;
    std::vector<int> axes(nb - r);
    for (int i = 0; i < nb - r; ++i) axes[i] = i;
    return expand_dims(a, axes, st);
  };
  Shape shape = batch;
  shape.push_back(x.shape(-2));
  shape.push_back(N);
  return array(shape, dt, std::make_shared<QuantizedMatmul>(st, transpose, group_size, bits),
               {lead(astype(x, dt, st), xr), lead(w_q, wr), lead(astype(scales, dt, st), wr),
                lead(astype(biases, dt, st), wr)});
}

int gguf_block_size(GGUFType type) {
  gguf_type_index(type);
  return (type == GGUFType::Q4_K || type == GGUFType::Q5_K || type == GGUFType::Q6_K) ? 256 : 32;
}

int gguf_block_bytes(GGUFType type) {
  switch (type) {
    case GGUFType::Q4_0:
      return 18;
    case GGUFType::Q4_1:
      return 20;
    case GGUFType::Q8_0:
      return 34;
    case GGUFType::Q4_K:
      return 144;
    case GGUFType::Q5_K:
      return 176;
    case GGUFType::Q6_K:
      return 210;
  }
  return gguf_type_index(type);  // throws
}

std::string gguf_type_name(GGUFType type) {
  switch (type) {
    case GGUFType::Q4_0:
      return "Q4_0";
    case GGUFType::Q4_1:
      return "Q4_1";
    case GGUFType::Q8_0:
      return "Q8_0";
    case GGUFType::Q4_K:
      return "Q4_K";
    case GGUFType::Q5_K:
      return "Q5_K";
    case GGUFType::Q6_K:
      return "Q6_K";
  }
  return std::to_string(gguf_type_index(type));
}

namespace {
// Checks blocks (..., K / block * bytes) uint8 for K values per row; returns the row count.
ShapeElem check_blocks(const array& blocks, GGUFType type, int64_t K, const char* op) {
  int bs = gguf_block_size(type), bb = gguf_block_bytes(type);
  if (blocks.dtype() != uint8) {
    throw std::invalid_argument(std::string("[") + op + "] GGUF blocks must be uint8, got " +
                                dtype_name(blocks.dtype()) + ".");
  }
  if (blocks.ndim() < 1)
    throw std::invalid_argument(std::string("[") + op + "] GGUF blocks must be at least 1-D.");
  if (K <= 0 || K % bs != 0) {
    throw std::invalid_argument(std::string("[") + op + "] The row size " + std::to_string(K) +
                                " is not a positive multiple of the " + gguf_type_name(type) +
                                " block size " + std::to_string(bs) + ".");
  }
  if (static_cast<int64_t>(blocks.shape(-1)) != K / bs * bb) {
    throw std::invalid_argument(std::string("[") + op + "] " + gguf_type_name(type) + " rows of " +
                                std::to_string(K) + " values need " + std::to_string(K / bs * bb) +
                                " bytes, but the blocks have shape " + shape_str(blocks.shape()) + ".");
  }
  return static_cast<ShapeElem>(blocks.size() / std::max<ShapeElem>(blocks.shape(-1), 1));
}
}  // namespace

array gguf_quantized_matmul(const array& x, const array& w_blocks, GGUFType type, int K, StreamOrDevice s) {
  auto st = to_stream(s);
  if (w_blocks.ndim() != 2) {
    throw std::invalid_argument(
        "[gguf_quantized_matmul] The block matrix must be 2-D (N, bytes per row), got " +
        shape_str(w_blocks.shape()) + ".");
  }
  ShapeElem N = check_blocks(w_blocks, type, K, "gguf_quantized_matmul");
  if (x.ndim() < 1 || x.shape(-1) != K) {
    throw std::invalid_argument("[gguf_quantized_matmul] The last dimension of x " + shape_str(x.shape()) +
                                " must be K = " + std::to_string(K) + ".");
  }
  check_quant_float(x.dtype(), "x", "gguf_quantized_matmul");
  ShapeElem M = static_cast<ShapeElem>(x.size() / K);
  auto x2 = reshape(astype(x, float32, st), {M, K}, st);
  array out({M, N}, float32, std::make_shared<GGUFMatmul>(st, type), {x2, w_blocks});
  Shape shape(x.shape().begin(), x.shape().end() - 1);
  shape.push_back(N);
  return astype(reshape(out, shape, st), x.dtype(), st);
}

array gguf_dequantize(const array& blocks, GGUFType type, const Shape& shape, StreamOrDevice s) {
  auto st = to_stream(s);
  if (shape.empty()) throw std::invalid_argument("[gguf_dequantize] The output shape must not be empty.");
  ShapeElem rows = check_blocks(blocks, type, shape.back(), "gguf_dequantize");
  if (static_cast<size_t>(rows) * shape.back() != shape_size(shape)) {
    throw std::invalid_argument("[gguf_dequantize] Blocks of shape " + shape_str(blocks.shape()) +
                                " do not hold a tensor of shape " + shape_str(shape) + ".");
  }
  auto b2 = reshape(blocks, {rows, blocks.shape(-1)}, st);
  array out({rows, shape.back()}, float32, std::make_shared<GGUFDequantize>(st, type), {b2});
  return reshape(out, shape, st);
}

}  // namespace tessera
