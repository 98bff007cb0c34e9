// Bindings for tessera/ops/quantized.h (mx.quantize / dequantize / quantized_matmul) and tessera.core.lm's
// convert() (the C++ behind `tessera convert` and python -m tessera.lm.convert).
#include <nanobind/stl/function.h>

#include "tessera/lm/convert.h"
#include "tessera/ops/quantized.h"
#include "utils.h"

using namespace tessera;
using txpy::to_array;

void init_quantized(nb::module_& m) {
  m.def("quantize",
        [](const ArrayLike& w, int group_size, int bits, StreamOrDevice s) {
          auto q = quantize(to_array(w), group_size, bits, s);
          return nb::make_tuple(q[0], q[1], q[2]);
        },
        "w"_a, "group_size"_a = 64, "bits"_a = 4, TX_STREAM,
        "Affine quantization along the last axis: (w_q uint32, scales, biases), as mx.quantize.");
  m.def("dequantize",
        [](const ArrayLike& w, const ArrayLike& scales, const ArrayLike& biases, int group_size, int bits,
           StreamOrDevice s) { return dequantize(to_array(w), to_array(scales), to_array(biases), group_size, bits, s); },
        "w"_a, "scales"_a, "biases"_a, "group_size"_a = 64, "bits"_a = 4, TX_STREAM, "Inverse of quantize.");
  m.def("quantized_matmul",
        [](const ArrayLike& x, const ArrayLike& w, const ArrayLike& scales, const ArrayLike& biases, bool transpose,
           int group_size, int bits, StreamOrDevice s) {
          return quantized_matmul(to_array(x), to_array(w), to_array(scales), to_array(biases), transpose,
                                  group_size, bits, s);
        },
        "x"_a, "w"_a, "scales"_a, "biases"_a, "transpose"_a = true, "group_size"_a = 64, "bits"_a = 4, TX_STREAM,
        "x @ W^T (transpose) or x @ W with W given quantized, as mx.quantized_matmul.");

  nb::module_ lm = nb::borrow<nb::module_>(m.attr("lm"));
  lm.def(
      "convert",
      [](const std::string& input, const std::string& output, std::optional<Dtype> dtype, bool quantize,
         int q_bits, int q_group_size, const std::string& q_recipe, bool dequantize, const std::string& tokenizer,
         double max_shard_gb, std::function<void(const std::string&)> progress) {
        lm::ConvertOptions o;
        o.dtype = dtype;
        o.quantize = quantize || !q_recipe.empty();
        o.quantization.bits = q_bits;
        o.quantization.group_size = q_group_size;
        o.quantization.recipe = q_recipe;
        o.dequantize = dequantize;
        o.tokenizer_path = tokenizer;
        o.max_shard_bytes = static_cast<int64_t>(max_shard_gb * double(int64_t{1} << 30));
        if (progress) o.progress = progress;
        lm::convert(input, output, o);
      },
      "input"_a, "output"_a, "dtype"_a = nb::none(), "quantize"_a = false, "q_bits"_a = 4, "q_group_size"_a = 64,
      "q_recipe"_a = "", "dequantize"_a = false, "tokenizer"_a = "", "max_shard_gb"_a = 5.0,
      "progress"_a = nb::none(), "Converts a model to a Hugging Face style directory or a GGUF file.");
}
