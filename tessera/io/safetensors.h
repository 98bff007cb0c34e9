// safetensors read (memory-mapped, lazy, sharded checkpoints) and streaming write.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "tessera/array.h"
#include "tessera/io/bytes.h"

namespace tessera {

using StringMap = std::unordered_map<std::string, std::string>;
using ArrayMap = std::unordered_map<std::string, array>;
// Arrays and the "__metadata__" string map, as MLX's SafetensorsLoad.
using SafetensorsLoad = std::pair<ArrayMap, StringMap>;

// Maps the file; arrays point into the mapping (which stays alive while any array does), so no
// tensor data is read until used. F8_E4M3 / F8_E5M2 tensors are converted to float32 (eagerly).
// Throws "[safetensors] ..." on malformed files.
SafetensorsLoad load_safetensors(const std::string& path);
// Same over bytes already in memory (used for fuzzing and tests).
SafetensorsLoad load_safetensors(std::shared_ptr<const io::Bytes> bytes);

// A sharded checkpoint: a directory (with model.safetensors.index.json, or else every *.safetensors
// file in it) or the path of an *.index.json file. Metadata of all shards are merged.
SafetensorsLoad load_safetensors_dir(const std::string& path);

// Streams the header then each tensor's data (non-contiguous arrays are copied one at a time).
// Tensors are stored by decreasing element size, then name, so all are aligned in the file.
// "__metadata__" cannot name a tensor.
void save_safetensors(const std::string& path, const ArrayMap& arrays, const StringMap& metadata = {});

}  // namespace tessera
