// GGML tensor types used by GGUF: ids, block sizes and names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

enum class GGMLType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ4_NL = 20,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

struct GGMLTypeTraits {
  size_t block_size;  // elements per block (1 for plain types)
  size_t type_size;   // bytes per block
  const char* name;
};

// Traits of a supported type; throws "[gguf] unsupported tensor type N" otherwise.
const GGMLTypeTraits& ggml_traits(GGMLType t);
bool ggml_is_supported(uint32_t t);
bool ggml_is_quantized(GGMLType t);  // a block type (block_size > 1)
GGMLType ggml_type_from_name(const std::string& name);  // "Q4_K", "F16", ... (case-insensitive)

}  // namespace tessera
