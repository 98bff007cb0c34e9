// Extension dispatch for load / load_with_metadata.
#include "tessera/io/load.h"

#include <filesystem>
#include <stdexcept>

#include "tessera/io/gguf.h"
#include "tessera/io/npy.h"
#include "tessera/io/npz.h"
#include "tessera/io/safetensors.h"

namespace tessera {

LoadResult load_with_metadata(const std::string& path) {
  auto ends = [&](const char* s) { return path.ends_with(s); };
  LoadResult r;
  if (ends(".safetensors")) {
    auto [a, m] = load_safetensors(path);
    r.arrays = std::move(a);
    r.metadata = std::move(m);
  } else if (ends(".index.json") || std::filesystem::is_directory(path)) {
    auto [a, m] = load_safetensors_dir(path);
    r.arrays = std::move(a);
    r.metadata = std::move(m);
  } else if (ends(".npy")) {
    r.arrays.emplace("", load_npy(path));
  } else if (ends(".npz")) {
    r.arrays = load_npz(path);
  } else if (ends(".gguf")) {
    auto [a, m] = load_gguf(path);
    r.arrays = std::move(a);
    r.gguf_metadata = std::move(m);
  } else {
    throw std::invalid_argument("[load] unknown file type of '" + path +
                                "' (expected .safetensors, .npy, .npz, .gguf, a directory or *.index.json).");
  }
  return r;
}

std::unordered_map<std::string, array> load(const std::string& path) { return load_with_metadata(path).arrays; }

}  // namespace tessera
