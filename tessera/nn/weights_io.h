// Weight-file formats for Module::load_weights/save_weights by extension: .safetensors and .npz built in
// (tessera/io), others registered by the user.
#pragma once

#include <functional>
#include <string>

#include "tessera/tree.h"

namespace tessera::nn {

using WeightsLoader = std::function<FlatTree(const std::string& path)>;
using WeightsSaver = std::function<void(const std::string& path, const FlatTree& weights)>;

// extension: with the dot, e.g. ".safetensors". Replaces an earlier registration.
void register_weights_format(const std::string& extension, WeightsLoader loader, WeightsSaver saver);
// Dispatch on the path's extension; an unknown extension throws std::invalid_argument "[Module] ...".
FlatTree load_weights_file(const std::string& path);
void save_weights_file(const std::string& path, const FlatTree& weights);

}  // namespace tessera::nn
