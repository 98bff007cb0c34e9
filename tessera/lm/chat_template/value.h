// Jinja value model with Python semantics (undefined, none, bool, int, float, str, list/tuple, dict, callable).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace tessera::lm::jinja {

struct Value;
struct ListData;
struct DictData;
struct CallArgs;
class Evaluator;

using Function = std::function<Value(Evaluator&, CallArgs&)>;

struct CallableData {
  std::string name;
  Function fn;
};

enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Callable };

struct Value {
  Kind kind = Kind::Undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0.0;
  std::string s;  // String payload; for Undefined, the hint used in error messages
  std::shared_ptr<ListData> list;
  std::shared_ptr<DictData> dict;
  std::shared_ptr<CallableData> fn;

  Value() = default;
  static Value undefined(std::string hint = {}) { Value v; v.s = std::move(hint); return v; }
  static Value none() { Value v; v.kind = Kind::None; return v; }
  static Value boolean(bool x) { Value v; v.kind = Kind::Bool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Kind::Int; v.i = x; return v; }
  static Value number(double x) { Value v; v.kind = Kind::Float; v.f = x; return v; }
  static Value string(std::string x) { Value v; v.kind = Kind::String; v.s = std::move(x); return v; }
  static Value new_list(std::vector<Value> items = {}, bool tuple = false);
  static Value new_dict(bool is_namespace = false);
  static Value function(std::string name, Function fn);

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  bool is_list() const { return kind == Kind::List; }
  bool is_dict() const { return kind == Kind::Dict; }
  bool is_callable() const { return kind == Kind::Callable; }
  double as_double() const { return kind == Kind::Float ? f : kind == Kind::Int ? double(i) : b ? 1.0 : 0.0; }
  int64_t as_int() const { return kind == Kind::Int ? i : kind == Kind::Bool ? (b ? 1 : 0) : int64_t(f); }

  bool truthy() const;
  std::string type_name() const;  // Python type name: 'str', 'int', 'dict', ...
};

struct ListData {
  std::vector<Value> items;
  bool tuple = false;
};

// Insertion-ordered dict with string keys (Python dict semantics for chat-template data).
struct DictData {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;
  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value v);
};

// Positional and keyword call arguments.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  // Argument by position or keyword name (keyword wins); undefined when absent.
  Value get(size_t pos, const std::string& name) const;
  bool has(size_t pos, const std::string& name) const;
};

// Python str(): None -> "None", True -> "True", lists/dicts as repr, undefined -> "".
std::string to_str(const Value& v);
// Python repr().
std::string repr(const Value& v);
// Python float repr (shortest round-trip digits, 1e+16 / 1e-05 style exponents).
std::string float_repr(double d);
// Python ==.
bool equals(const Value& a, const Value& b);
// Python <; throws for unorderable types. Returns -1/0/1.
int compare(const Value& a, const Value& b);
// Python `needle in haystack`.
bool contains(const Value& haystack, const Value& needle);
// Items of an iterable (list, tuple, dict keys, string characters); undefined iterates as empty.
std::vector<Value> iterate(const Value& v);
// Number of UTF-8 code points.
size_t utf8_length(const std::string& s);
std::vector<std::string> utf8_chars(const std::string& s);

Value from_json(const nlohmann::ordered_json& j);
// json.dumps(v, ensure_ascii=False, indent=indent, separators=..., sort_keys=...); indent < 0 means None.
std::string dump_json(const Value& v, int indent, bool sort_keys = false, const std::string* item_sep = nullptr,
                      const std::string* key_sep = nullptr);

// Error helpers: every message starts with "[chat_template] ".
[[noreturn]] void fail(const std::string& msg);

}  // namespace tessera::lm::jinja
