// Format-independent load by file extension (.safetensors, .npy, .npz, .gguf).
#pragma once

#include <string>
#include <unordered_map>

#include "tessera/array.h"
#include "tessera/io/gguf_value.h"

namespace tessera {

struct LoadResult {
  std::unordered_map<std::string, array> arrays;
  std::unordered_map<std::string, std::string> metadata;  // safetensors "__metadata__"
  GGUFMetadata gguf_metadata;                             // GGUF key/values, types kept
};

// Dispatches on the extension. An .npy file gives one entry named "" (or use load_npy).
// A directory or *.index.json loads a sharded safetensors checkpoint.
// Block-quantized GGUF tensors are dequantized to float32. Throws "[load] ..." on unknown extensions.
std::unordered_map<std::string, array> load(const std::string& path);
LoadResult load_with_metadata(const std::string& path);

}  // namespace tessera
