// Registry of weight-file formats by extension.
#include "tessera/nn/weights_io.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <mutex>
#include <stdexcept>

#include "tessera/io/npz.h"
#include "tessera/io/safetensors.h"

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
FlatTree sorted_flat(const std::unordered_map<std::string, array>& m) {
  FlatTree flat(m.begin(), m.end());
  std::sort(flat.begin(), flat.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return flat;
}
std::unordered_map<std::string, array> to_map(const FlatTree& flat) { return {flat.begin(), flat.end()}; }

// Built-in formats: safetensors (memory-mapped) and npz, as MLX's load_weights/save_weights.
std::map<std::string, Format> builtin_formats() {
  std::map<std::string, Format> r;
  r[".safetensors"] = Format{[](const std::string& p) { return sorted_flat(load_safetensors(p).first); },
                             [](const std::string& p, const FlatTree& w) { save_safetensors(p, to_map(w)); }};
  r[".npz"] = Format{[](const std::string& p) { return sorted_flat(load_npz(p)); },
                     [](const std::string& p, const FlatTree& w) { savez(p, to_map(w)); }};
  return r;
}
std::map<std::string, Format>& registry() {
  static std::map<std::string, Format> r = builtin_formats();
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
