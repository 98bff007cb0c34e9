// Built-in jinja tests (`x is defined`, `is string`, `is equalto 3`, ...) with jinja2 semantics.
#include <cmath>
#include <set>

#include "tessera/lm/chat_template/builtins.h"

namespace tessera::lm::jinja {

bool has_test(const std::string& name) {
  static const std::set<std::string> names = {
      "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string",
      "mapping", "iterable", "sequence", "callable", "sameas", "escaped", "in", "equalto", "eq", "==", "ne", "!=",
      "lt", "<", "lessthan", "le", "<=", "gt", ">", "greaterthan", "ge", ">=", "odd", "even", "divisibleby",
      "lower", "upper", "filter", "test"};
  return names.count(name) > 0;
}

bool apply_test(Evaluator& ev, const std::string& name, const Value& v, CallArgs& args) {
  Value other = args.get(0, "other");
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind == Kind::Bool;
  if (name == "false") return v.kind == Kind::Bool && !v.b;
  if (name == "true") return v.kind == Kind::Bool && v.b;
  if (name == "integer") return v.kind == Kind::Int;
  if (name == "float") return v.kind == Kind::Float;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict() && !v.dict->is_namespace;
  if (name == "iterable") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "lower") return v.is_string() && py_lower(v.s) == v.s;
  if (name == "upper") return v.is_string() && py_upper(v.s) == v.s;
  if (name == "filter") return v.is_string() && has_filter(v.s);
  if (name == "test") return v.is_string() && has_test(v.s);
  if (name == "sameas") {
    if (v.kind != other.kind) return false;
    if (v.is_list()) return v.list == other.list;
    if (v.is_dict()) return v.dict == other.dict;
    if (v.is_callable()) return v.fn == other.fn;
    return equals(v, other);
  }
  if (name == "in") return contains(args.get(0, "seq"), v);
  if (name == "equalto" || name == "eq" || name == "==") return equals(v, other);
  if (name == "ne" || name == "!=") return !equals(v, other);
  if (name == "odd" || name == "even" || name == "divisibleby") {
    ev.require_defined(v);
    if (!v.is_number() || v.kind == Kind::Float) {
      if (name != "divisibleby") ev.error("odd/even test needs an integer");
    }
    if (name == "divisibleby") {
      Value num = args.get(0, "num");
      ev.require_defined(num);
      if (num.as_double() == 0.0) ev.error("integer division or modulo by zero");
      if (v.kind == Kind::Float || num.kind == Kind::Float) return std::fmod(v.as_double(), num.as_double()) == 0.0;
      return v.as_int() % num.as_int() == 0;
    }
    int64_t r = v.as_int() % 2;
    return name == "odd" ? r != 0 : r == 0;
  }
  ev.require_defined(v);
  ev.require_defined(other);
  int c = compare(v, other);
  if (name == "lt" || name == "<" || name == "lessthan") return c < 0;
  if (name == "le" || name == "<=") return c <= 0;
  if (name == "gt" || name == ">" || name == "greaterthan") return c > 0;
  if (name == "ge" || name == ">=") return c >= 0;
  ev.error("no test named '" + name + "'");
}

}  // namespace tessera::lm::jinja
