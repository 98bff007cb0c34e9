// Bindings for tessera/fast.h as tessera.core.fast: rms_norm, layer_norm, rope, attention, and
// cuda_kernel (custom CUDA kernels, called like MLX's metal_kernel).
#include "utils.h"

using namespace tessera;
using txpy::to_array;

namespace {

std::optional<array> opt_array(const std::optional<ArrayLike>& a) {
  if (!a) return std::nullopt;
  return to_array(*a);
}

// A (name, value) template argument: value a bool, an int or a Dtype.
fast::TemplateArg template_value(const std::string& name, nb::handle v) {
  if (nb::isinstance<nb::bool_>(v)) return nb::cast<bool>(v);
  if (nb::isinstance<nb::int_>(v)) return nb::cast<int>(v);
  if (nb::isinstance<Dtype>(v)) return nb::cast<Dtype>(v);
  throw nb::type_error(("[cuda_kernel] template argument '" + name + "' must be a bool, an int or a Dtype.").c_str());
}

std::tuple<int, int, int> dims3(const std::vector<int>& v, const char* what) {
  if (v.size() != 3) throw std::invalid_argument(std::string("[cuda_kernel] ") + what + " must have 3 entries.");
  return {v[0], v[1], v[2]};
}

// The callable returned by fast.cuda_kernel.
struct CudaKernel {
  fast::CudaKernelFunction fn;
  std::vector<array> call(const std::vector<ArrayLike>& inputs, const std::vector<std::vector<int>>& output_shapes,
                          const std::vector<Dtype>& output_dtypes, const std::vector<int>& grid,
                          const std::vector<int>& threadgroup,
                          const std::optional<std::vector<std::pair<std::string, nb::object>>>& tmpl,
                          std::optional<float> init_value, bool verbose, StreamOrDevice s) const {
    std::vector<array> ins;
    for (auto& a : inputs) ins.push_back(to_array(a));
    std::vector<Shape> shapes;
    for (auto& sh : output_shapes) shapes.emplace_back(sh.begin(), sh.end());
    std::vector<std::pair<std::string, fast::TemplateArg>> targs;
    if (tmpl) {
      for (auto& [n, v] : *tmpl) targs.emplace_back(n, template_value(n, v));
    }
    return fn(ins, shapes, output_dtypes, dims3(grid, "grid"), dims3(threadgroup, "threadgroup"), targs, init_value,
              verbose, s);
  }
};

}  // namespace

void init_fast(nb::module_& m) {
  auto f = m.def_submodule("fast", "Fused operations (MLX's mlx.core.fast).");
  f.def("rms_norm",
        [](const ArrayLike& x, std::optional<ArrayLike> w, float eps, StreamOrDevice s) {
          return fast::rms_norm(to_array(x), opt_array(w), eps, s);
        },
        "x"_a, "weight"_a.none(), "eps"_a, TX_STREAM, "x * rsqrt(mean(x^2, -1) + eps) * weight.");
  f.def("layer_norm",
        [](const ArrayLike& x, std::optional<ArrayLike> w, std::optional<ArrayLike> b, float eps, StreamOrDevice s) {
          return fast::layer_norm(to_array(x), opt_array(w), opt_array(b), eps, s);
        },
        "x"_a, "weight"_a.none(), "bias"_a.none(), "eps"_a, TX_STREAM,
        "Layer normalization over the last axis, then * weight + bias.");
  f.def("rope",
        [](const ArrayLike& a, int dims, bool traditional, std::optional<float> base, float scale, const ArrayLike& offset,
           std::optional<ArrayLike> freqs, StreamOrDevice s) {
          array x = to_array(a);
          if (txpy::is_python_scalar(offset.obj)) {
            return fast::rope(x, dims, traditional, base, scale, nb::cast<int>(offset.obj), opt_array(freqs), s);
          }
          return fast::rope(x, dims, traditional, base, scale, to_array(offset), opt_array(freqs), s);
        },
        "a"_a, "dims"_a, nb::kw_only(), "traditional"_a, "base"_a.none(), "scale"_a, "offset"_a,
        "freqs"_a = nb::none(), "stream"_a = nb::none(),
        "Rotary position embedding of the first ``dims`` features of a (..., L, D).");
  f.def("scaled_dot_product_attention",
        [](const ArrayLike& q, const ArrayLike& k, const ArrayLike& v, float scale, nb::handle mask, StreamOrDevice s) {
          array qq = to_array(q), kk = to_array(k), vv = to_array(v);
          if (mask.is_none()) return fast::scaled_dot_product_attention(qq, kk, vv, scale, "", std::nullopt, s);
          if (nb::isinstance<nb::str>(mask)) {
            return fast::scaled_dot_product_attention(qq, kk, vv, scale, nb::cast<std::string>(mask), std::nullopt, s);
          }
          return fast::scaled_dot_product_attention(qq, kk, vv, scale, to_array(mask), s);
        },
        "q"_a, "k"_a, "v"_a, nb::kw_only(), "scale"_a, "mask"_a.none() = nb::none(), "stream"_a = nb::none(),
        nb::sig("def scaled_dot_product_attention(q: tessera.core.array, k: tessera.core.array, v: tessera.core.array, *, scale: float, "
                "mask: str | tessera.core.array | None = None, stream: tessera.core.Stream | tessera.core.Device | None = None) -> tessera.core.array"),
        "softmax(q k^T * scale + mask) v; mask 'causal', a boolean keep-mask or an additive mask.");

  nb::class_<CudaKernel>(f, "CudaKernel", "A custom CUDA kernel made by fast.cuda_kernel; call it to run it.")
      .def("__call__", &CudaKernel::call, nb::kw_only(), "inputs"_a, "output_shapes"_a, "output_dtypes"_a, "grid"_a,
           "threadgroup"_a, "template"_a = nb::none(), "init_value"_a = nb::none(), "verbose"_a = false,
           "stream"_a = nb::none(),
           "Runs the kernel: grid counts threads (not blocks) per dimension; returns the list of outputs.");
  f.def("cuda_kernel",
        [](const std::string& name, const std::vector<std::string>& input_names,
           const std::vector<std::string>& output_names, const std::string& source, const std::string& header,
           bool ensure_row_contiguous, int shared_memory) {
          return CudaKernel{fast::cuda_kernel(name, input_names, output_names, source, header, ensure_row_contiguous,
                                              shared_memory)};
        },
        "name"_a, "input_names"_a, "output_names"_a, "source"_a, "header"_a = "", "ensure_row_contiguous"_a = true,
        "shared_memory"_a = 0,
        "A custom CUDA kernel compiled at run time by NVRTC (MLX's fast.cuda_kernel); source is the body of the\n"
        "kernel, whose signature tessera generates from the input and output names.");
}
