// GGUF v2/v3 read (memory-mapped; raw blocks or dequantized arrays) and streaming write with quantization.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tessera/array.h"
#include "tessera/io/bytes.h"
#include "tessera/io/ggml_types.h"
#include "tessera/io/gguf_value.h"

namespace tessera {

// One tensor as stored: its GGML type, tessera (row-major) shape, and its raw bytes as a uint8
// array [nbytes] pointing into the file mapping (blocks for quantized types).
struct GGUFTensor {
  GGMLType type;
  Shape shape;  // GGUF lists dims innermost first; this is the reversed, row-major shape
  array data;
};

struct GGUFFile {
  uint32_t version{3};
  size_t alignment{32};
  GGUFMetadata metadata;
  std::vector<std::pair<std::string, GGUFTensor>> tensors;  // file order
};

// Parses the header and tensor infos; tensor data stay in the mapping (lazy).
// Throws "[gguf] ..." on malformed files.
GGUFFile load_gguf_file(const std::string& path);
GGUFFile load_gguf_file(std::shared_ptr<const io::Bytes> bytes);

// The tensor as an array: plain types (F32, F16, BF16, F64, I8..I64) zero-copy in their own dtype;
// block types dequantized (multithreaded) to `dtype` (float32, float16 or bfloat16).
array gguf_to_array(const GGUFTensor& t, Dtype dtype = float32);

// Arrays (block types dequantized to `dtype`) and metadata, as MLX's load_gguf.
using GGUFLoad = std::pair<std::unordered_map<std::string, array>, GGUFMetadata>;
GGUFLoad load_gguf(const std::string& path, Dtype dtype = float32);

// Encodes a floating array as `type` (block types need the last dim to be a multiple of the block
// size; plain types convert with astype).
GGUFTensor gguf_quantize(const array& a, GGMLType type);

// Target types when saving arrays. A tensor named in `types` gets that type (error if impossible).
// Otherwise `default_type`, when set, applies to floating tensors with ndim >= 2 whose last dim is a
// multiple of its block size (as llama.cpp keeps norms and biases unquantized); all other tensors
// keep their own dtype (float32 -> F32, float16 -> F16, bfloat16 -> BF16, float64 -> F64,
// int8..int64 -> I8..I64; unsigned, bool and complex dtypes are refused).
struct GGUFSaveOptions {
  std::optional<GGMLType> default_type;
  std::unordered_map<std::string, GGMLType> types;
};

// Writes GGUF v3: header, metadata (general.alignment, if given, sets the alignment), tensor infos,
// then each tensor encoded and written one at a time. Tensors are stored in name order.
void save_gguf(const std::string& path, const std::unordered_map<std::string, array>& arrays,
               const GGUFMetadata& metadata = {}, const GGUFSaveOptions& options = {});
// Writes already encoded tensors (e.g. from load_gguf_file) in the given order.
void save_gguf(const std::string& path, const std::vector<std::pair<std::string, GGUFTensor>>& tensors,
               const GGUFMetadata& metadata = {});

}  // namespace tessera
