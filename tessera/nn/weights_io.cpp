// Registry of weight-file formats by extension.
#include "tessera/nn/weights_io.h"

#include <map>
#include <mutex>
#include <stdexcept>

namespace tessera::nn {

namespace {
struct Format {
  WeightsLoader load;
  WeightsSaver save;
};
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, Format>& registry() {
  static std::map<std::string, Format> r;
  return r;
}
Format lookup(const std::string& path) {
  auto dot = path.rfind('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot);
  std::lock_guard lock(registry_mutex());
  auto it = registry().find(ext);
  if (it == registry().end()) {
    throw std::invalid_argument("[Module] no weights format registered for \"" + path +
                                "\" (expected a registered extension such as .safetensors or .npz).");
  }
  return it->second;
}
}  // namespace

void register_weights_format(const std::string& extension, WeightsLoader loader, WeightsSaver saver) {
  std::lock_guard lock(registry_mutex());
  registry()[extension] = Format{std::move(loader), std::move(saver)};
}

FlatTree load_weights_file(const std::string& path) {
  auto f = lookup(path);
  if (!f.load) throw std::invalid_argument("[Module] format of \"" + path + "\" cannot be loaded.");
  return f.load(path);
}

void save_weights_file(const std::string& path, const FlatTree& weights) {
  auto f = lookup(path);
  if (!f.save) throw std::invalid_argument("[Module] format of \"" + path + "\" cannot be saved.");
  f.save(path, weights);
}

}  // namespace tessera::nn
