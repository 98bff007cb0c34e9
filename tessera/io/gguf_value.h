// GGUF metadata values: a typed tree (scalars, strings, arrays incl. nested) keeping the GGUF type.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace tessera {

enum class GGUFValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
const char* gguf_type_name(GGUFValueType t);

class GGUFValue {
 public:
  using Array = std::vector<GGUFValue>;

  GGUFValue() : GGUFValue(uint32_t{0}) {}
  GGUFValue(uint8_t v) : type_(GGUFValueType::UINT8), v_(uint64_t{v}) {}     // NOLINT
  GGUFValue(int8_t v) : type_(GGUFValueType::INT8), v_(int64_t{v}) {}        // NOLINT
  GGUFValue(uint16_t v) : type_(GGUFValueType::UINT16), v_(uint64_t{v}) {}   // NOLINT
  GGUFValue(int16_t v) : type_(GGUFValueType::INT16), v_(int64_t{v}) {}      // NOLINT
  GGUFValue(uint32_t v) : type_(GGUFValueType::UINT32), v_(uint64_t{v}) {}   // NOLINT
  GGUFValue(int32_t v) : type_(GGUFValueType::INT32), v_(int64_t{v}) {}      // NOLINT
  GGUFValue(uint64_t v) : type_(GGUFValueType::UINT64), v_(v) {}             // NOLINT
  GGUFValue(int64_t v) : type_(GGUFValueType::INT64), v_(v) {}               // NOLINT
  GGUFValue(float v) : type_(GGUFValueType::FLOAT32), v_(double{v}) {}       // NOLINT
  GGUFValue(double v) : type_(GGUFValueType::FLOAT64), v_(v) {}              // NOLINT
  GGUFValue(bool v) : type_(GGUFValueType::BOOL), v_(v) {}                   // NOLINT
  GGUFValue(std::string v) : type_(GGUFValueType::STRING), v_(std::move(v)) {}  // NOLINT
  GGUFValue(const char* v) : GGUFValue(std::string(v)) {}                    // NOLINT
  // An array whose elements all have type `elem` (checked when written).
  static GGUFValue array(GGUFValueType elem, Array items);
  template <typename T>
  static GGUFValue array_of(const std::vector<T>& items) {
    Array a;
    a.reserve(items.size());
    for (const auto& x : items) a.emplace_back(x);
    return array(GGUFValue(T{}).type(), std::move(a));
  }

  GGUFValueType type() const { return type_; }
  GGUFValueType array_type() const { return elem_; }  // element type of an ARRAY
  bool is_array() const { return type_ == GGUFValueType::ARRAY; }
  bool is_string() const { return type_ == GGUFValueType::STRING; }
  bool is_integer() const;  // any (un)signed integer type
  bool is_float() const { return type_ == GGUFValueType::FLOAT32 || type_ == GGUFValueType::FLOAT64; }

  // Conversions; throw "[gguf] ..." when the type does not fit.
  int64_t as_int() const;
  uint64_t as_uint() const;
  double as_float() const;  // any number
  bool as_bool() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  std::vector<std::string> as_strings() const;  // an array of strings
  std::vector<double> as_floats() const;        // an array of numbers
  std::vector<int64_t> as_ints() const;         // an array of integers

  bool operator==(const GGUFValue& o) const { return type_ == o.type_ && elem_ == o.elem_ && v_ == o.v_; }

 private:
  GGUFValueType type_;
  GGUFValueType elem_{GGUFValueType::UINT8};
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> v_;
};

using GGUFMetadata = std::map<std::string, GGUFValue>;

}  // namespace tessera
