// nn::Sequential.
#include "tessera/nn/containers.h"

namespace tessera::nn {

Sequential::Sequential(std::vector<ModulePtr> layers) { register_modules("layers", std::move(layers)); }

const std::vector<ModulePtr>& Sequential::layers() const {
  for (auto& [k, v] : entries()) {
    if (k == "layers") return std::get<std::vector<ModulePtr>>(v);
  }
  throw std::out_of_range("[Module] Sequential has no layers.");
}

array Sequential::operator()(const array& x) {
  array y = x;
  for (auto& m : layers()) y = (*m)(y);
  return y;
}

}  // namespace tessera::nn
