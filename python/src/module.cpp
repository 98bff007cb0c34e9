// The tessera.core extension module: calls each area's init_* (one .cpp per C++ area).
#include <nanobind/nanobind.h>

namespace nb = nanobind;

void init_crash_backtrace(nb::module_& m);
void init_device(nb::module_& m);
void init_array(nb::module_& m);
void init_convert(nb::module_& m);
void init_memory(nb::module_& m);
void init_creation(nb::module_& m);
void init_elementwise(nb::module_& m);
void init_reduce(nb::module_& m);
void init_shape(nb::module_& m);
void init_indexing(nb::module_& m);
void init_sort(nb::module_& m);
void init_conv(nb::module_& m);
void init_linalg(nb::module_& m);
void init_fast(nb::module_& m);
void init_random(nb::module_& m);
void init_transforms(nb::module_& m);
void init_io(nb::module_& m);
void init_lm(nb::module_& m);
void init_lm_generation(nb::module_& m);
void init_lm_tools(nb::module_& m);
void init_nn(nb::module_& m);
void init_quantized(nb::module_& m);

NB_MODULE(core, m) {
  init_crash_backtrace(m);
  m.doc() = "tessera.core: lazy arrays on CPU and CUDA with MLX's API.";
  init_device(m);
  init_array(m);
  init_convert(m);
  init_memory(m);
  init_creation(m);
  init_elementwise(m);
  init_reduce(m);
  init_shape(m);
  init_indexing(m);
  init_sort(m);
  init_conv(m);
  init_linalg(m);
  init_fast(m);
  init_random(m);
  init_transforms(m);
  init_io(m);
  init_lm(m);
  init_lm_generation(m);
  init_lm_tools(m);
  init_nn(m);
  init_quantized(m);
}
