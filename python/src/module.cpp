// The tessera.core extension module: calls each area's init_* (one .cpp per C++ header).
#include <nanobind/nanobind.h>

namespace nb = nanobind;

void init_array(nb::module_& m);
void init_memory(nb::module_& m);

NB_MODULE(core, m) {
  m.doc() = "tessera.core: lazy arrays on CPU and CUDA with MLX's API.";
  init_array(m);
  init_memory(m);
}
