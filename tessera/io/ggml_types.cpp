// The table of GGML tensor types tessera reads and writes (sizes from the GGUF/ggml block layouts).
#include "tessera/io/ggml_types.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace tessera {

namespace {

struct Row {
  GGMLType type;
  GGMLTypeTraits traits;
};

constexpr size_t QK_K = 256;
const Row kTable[] = {
    {GGMLType::F32, {1, 4, "F32"}},
    {GGMLType::F16, {1, 2, "F16"}},
    {GGMLType::Q4_0, {32, 2 + 16, "Q4_0"}},
    {GGMLType::Q4_1, {32, 2 + 2 + 16, "Q4_1"}},
    {GGMLType::Q5_0, {32, 2 + 4 + 16, "Q5_0"}},
    {GGMLType::Q5_1, {32, 2 + 2 + 4 + 16, "Q5_1"}},
    {GGMLType::Q8_0, {32, 2 + 32, "Q8_0"}},
    {GGMLType::Q2_K, {QK_K, QK_K / 16 + QK_K / 4 + 2 + 2, "Q2_K"}},
    {GGMLType::Q3_K, {QK_K, QK_K / 8 + QK_K / 4 + 12 + 2, "Q3_K"}},
    {GGMLType::Q4_K, {QK_K, 2 + 2 + 12 + QK_K / 2, "Q4_K"}},
    {GGMLType::Q5_K, {QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2, "Q5_K"}},
    {GGMLType::Q6_K, {QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, "Q6_K"}},
    {GGMLType::Q8_K, {QK_K, 4 + QK_K + QK_K / 8, "Q8_K"}},
    {GGMLType::IQ4_NL, {32, 2 + 16, "IQ4_NL"}},
    {GGMLType::IQ4_XS, {QK_K, 2 + 2 + QK_K / 64 + QK_K / 2, "IQ4_XS"}},
    {GGMLType::I8, {1, 1, "I8"}},
    {GGMLType::I16, {1, 2, "I16"}},
    {GGMLType::I32, {1, 4, "I32"}},
    {GGMLType::I64, {1, 8, "I64"}},
    {GGMLType::F64, {1, 8, "F64"}},
    {GGMLType::BF16, {1, 2, "BF16"}},
};

const Row* find(uint32_t t) {
  for (const auto& r : kTable) {
    if (static_cast<uint32_t>(r.type) == t) return &r;
  }
  return nullptr;
}

}  // namespace

const GGMLTypeTraits& ggml_traits(GGMLType t) {
  const Row* r = find(static_cast<uint32_t>(t));
  if (!r) throw std::invalid_argument("[gguf] unsupported tensor type " + std::to_string(static_cast<uint32_t>(t)) + ".");
  return r->traits;
}

bool ggml_is_supported(uint32_t t) { return find(t) != nullptr; }

bool ggml_is_quantized(GGMLType t) { return ggml_traits(t).block_size > 1; }

GGMLType ggml_type_from_name(const std::string& name) {
  std::string up = name;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  for (const auto& r : kTable) {
    if (up == r.traits.name) return r.type;
  }
  throw std::invalid_argument("[gguf] unknown tensor type name '" + name + "'.");
}

}  // namespace tessera
