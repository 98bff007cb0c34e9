// Accessors of GGUF metadata values.
#include "tessera/io/gguf_value.h"

#include <stdexcept>

namespace tessera {

const char* gguf_type_name(GGUFValueType t) {
  switch (t) {
    case GGUFValueType::UINT8: return "UINT8";
    case GGUFValueType::INT8: return "INT8";
    case GGUFValueType::UINT16: return "UINT16";
    case GGUFValueType::INT16: return "INT16";
    case GGUFValueType::UINT32: return "UINT32";
    case GGUFValueType::INT32: return "INT32";
    case GGUFValueType::FLOAT32: return "FLOAT32";
    case GGUFValueType::BOOL: return "BOOL";
    case GGUFValueType::STRING: return "STRING";
    case GGUFValueType::ARRAY: return "ARRAY";
    case GGUFValueType::UINT64: return "UINT64";
    case GGUFValueType::INT64: return "INT64";
    case GGUFValueType::FLOAT64: return "FLOAT64";
  }
  return "unknown";
}

namespace {
[[noreturn]] void wrong(GGUFValueType t, const char* want) {
  throw std::invalid_argument(std::string("[gguf] metadata value of type ") + gguf_type_name(t) + " is not " + want + ".");
}
}  // namespace

GGUFValue GGUFValue::array(GGUFValueType elem, Array items) {
  GGUFValue v;
  v.type_ = GGUFValueType::ARRAY;
  v.elem_ = elem;
  v.v_ = std::move(items);
  return v;
}

bool GGUFValue::is_integer() const { return std::holds_alternative<uint64_t>(v_) || std::holds_alternative<int64_t>(v_); }

int64_t GGUFValue::as_int() const {
  if (auto* u = std::get_if<uint64_t>(&v_)) {
    if (*u > static_cast<uint64_t>(INT64_MAX)) wrong(type_, "representable as int64");
    return static_cast<int64_t>(*u);
  }
  if (auto* i = std::get_if<int64_t>(&v_)) return *i;
  wrong(type_, "an integer");
}

uint64_t GGUFValue::as_uint() const {
  if (auto* u = std::get_if<uint64_t>(&v_)) return *u;
  if (auto* i = std::get_if<int64_t>(&v_)) {
    if (*i < 0) wrong(type_, "non-negative");
    return static_cast<uint64_t>(*i);
  }
  wrong(type_, "an integer");
}

double GGUFValue::as_float() const {
  if (auto* d = std::get_if<double>(&v_)) return *d;
  if (auto* u = std::get_if<uint64_t>(&v_)) return static_cast<double>(*u);
  if (auto* i = std::get_if<int64_t>(&v_)) return static_cast<double>(*i);
  wrong(type_, "a number");
}

bool GGUFValue::as_bool() const {
  if (auto* b = std::get_if<bool>(&v_)) return *b;
  wrong(type_, "a bool");
}

const std::string& GGUFValue::as_string() const {
  if (auto* s = std::get_if<std::string>(&v_)) return *s;
  wrong(type_, "a string");
}

const GGUFValue::Array& GGUFValue::as_array() const {
  if (auto* a = std::get_if<Array>(&v_)) return *a;
  wrong(type_, "an array");
}

std::vector<std::string> GGUFValue::as_strings() const {
  std::vector<std::string> out;
  for (const auto& x : as_array()) out.push_back(x.as_string());
  return out;
}

std::vector<double> GGUFValue::as_floats() const {
  std::vector<double> out;
  for (const auto& x : as_array()) out.push_back(x.as_float());
  return out;
}

std::vector<int64_t> GGUFValue::as_ints() const {
  std::vector<int64_t> out;
  for (const auto& x : as_array()) out.push_back(x.as_int());
  return out;
}

}  // namespace tessera
