// Jinja value model: Python truthiness, str/repr, equality, ordering, membership, JSON conversion and dumping.
#include "tessera/lm/chat_template/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace tessera::lm::jinja {

void fail(const std::string& msg) { throw std::runtime_error("[chat_template] " + msg); }

Value Value::new_list(std::vector<Value> items, bool tuple) {
  Value v;
  v.kind = Kind::List;
  v.list = std::make_shared<ListData>();
  v.list->items = std::move(items);
  v.list->tuple = tuple;
  return v;
}

Value Value::new_dict(bool is_namespace) {
  Value v;
  v.kind = Kind::Dict;
  v.dict = std::make_shared<DictData>();
  v.dict->is_namespace = is_namespace;
  return v;
}

Value Value::function(std::string name, Function fn) {
  Value v;
  v.kind = Kind::Callable;
  v.fn = std::make_shared<CallableData>();
  v.fn->name = std::move(name);
  v.fn->fn = std::move(fn);
  return v;
}

bool Value::truthy() const {
  switch (kind) {
    case Kind::Undefined: case Kind::None: return false;
    case Kind::Bool: return b;
    case Kind::Int: return i != 0;
    case Kind::Float: return f != 0.0;
    case Kind::String: return !s.empty();
    case Kind::List: return !list->items.empty();
    case Kind::Dict: return !dict->items.empty();
    case Kind::Callable: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return list->tuple ? "tuple" : "list";
    case Kind::Dict: return dict->is_namespace ? "Namespace" : "dict";
    case Kind::Callable: return "function";
  }
  return "object";
}

const Value* DictData::find(const std::string& key) const {
  for (const auto& kv : items)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

void DictData::set(const std::string& key, Value v) {
  for (auto& kv : items)
    if (kv.first == key) { kv.second = std::move(v); return; }
  items.emplace_back(key, std::move(v));
}

Value CallArgs::get(size_t pos, const std::string& name) const {
  for (const auto& kv : kwargs)
    if (kv.first == name) return kv.second;
  if (pos < args.size()) return args[pos];
  return Value::undefined(name);
}

bool CallArgs::has(size_t pos, const std::string& name) const {
  for (const auto& kv : kwargs)
    if (kv.first == name) return true;
  return pos < args.size();
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci = sci.substr(1);
  size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  int exp10 = std::stoi(sci.substr(epos + 1));
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  int decpt = exp10 + 1;
  std::string out;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out = "0." + std::string(size_t(-decpt), '0') + digits;
    } else if (size_t(decpt) >= digits.size()) {
      out = digits + std::string(size_t(decpt) - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, size_t(decpt)) + "." + digits.substr(size_t(decpt));
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += eb;
  }
  return neg ? "-" + out : out;
}

static std::string repr_string(const std::string& s) {
  char q = '\'';
  if (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) q = '"';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == (unsigned char)q) { out += '\\'; out += char(c); }
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    } else out += char(c);
  }
  out += q;
  return out;
}

std::string repr(const Value& v) {
  switch (v.kind) {
    case Kind::String: return repr_string(v.s);
    case Kind::Undefined: return "Undefined";
    case Kind::List: {
      std::string out = v.list->tuple ? "(" : "[";
      for (size_t k = 0; k < v.list->items.size(); ++k) {
        if (k) out += ", ";
        out += repr(v.list->items[k]);
      }
      if (v.list->tuple && v.list->items.size() == 1) out += ",";
      out += v.list->tuple ? ")" : "]";
      return out;
    }
    case Kind::Dict: {
      if (v.dict->is_namespace) {
        std::string out = "<Namespace {";
        for (size_t k = 0; k < v.dict->items.size(); ++k) {
          if (k) out += ", ";
          out += repr_string(v.dict->items[k].first) + ": " + repr(v.dict->items[k].second);
        }
        return out + "}>";
      }
      std::string out = "{";
      for (size_t k = 0; k < v.dict->items.size(); ++k) {
        if (k) out += ", ";
        out += repr_string(v.dict->items[k].first) + ": " + repr(v.dict->items[k].second);
      }
      return out + "}";
    }
    default: return to_str(v);
  }
}

std::string to_str(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return v.b ? "True" : "False";
    case Kind::Int: return std::to_string(v.i);
    case Kind::Float: return float_repr(v.f);
    case Kind::String: return v.s;
    case Kind::Callable: return "<function " + v.fn->name + ">";
    default: return repr(v);
  }
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::Float || b.kind == Kind::Float) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::Undefined: case Kind::None: return true;
    case Kind::String: return a.s == b.s;
    case Kind::List: {
      if (a.list->tuple != b.list->tuple || a.list->items.size() != b.list->items.size()) return false;
      for (size_t k = 0; k < a.list->items.size(); ++k)
        if (!equals(a.list->items[k], b.list->items[k])) return false;
      return true;
    }
    case Kind::Dict: {
      if (a.dict->items.size() != b.dict->items.size()) return false;
      if (a.dict->is_namespace || b.dict->is_namespace) return a.dict == b.dict;
      for (const auto& kv : a.dict->items) {
        const Value* o = b.dict->find(kv.first);
        if (!o || !equals(kv.second, *o)) return false;
      }
      return true;
    }
    case Kind::Callable: return a.fn == b.fn;
    default: return false;
  }
}

int compare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::Float || b.kind == Kind::Float) {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
  if (a.is_list() && b.is_list() && a.list->tuple == b.list->tuple) {
    const auto &x = a.list->items, &y = b.list->items;
    for (size_t k = 0; k < x.size() && k < y.size(); ++k) {
      if (equals(x[k], y[k])) continue;
      return compare(x[k], y[k]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  fail("'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

bool contains(const Value& h, const Value& n) {
  switch (h.kind) {
    case Kind::String:
      if (!n.is_string()) fail("'in <string>' requires string as left operand, not " + n.type_name());
      return h.s.find(n.s) != std::string::npos;
    case Kind::List:
      for (const auto& x : h.list->items)
        if (equals(x, n)) return true;
      return false;
    case Kind::Dict:
      return n.is_string() && h.dict->find(n.s) != nullptr;
    case Kind::Undefined: return false;
    default: fail("argument of type '" + h.type_name() + "' is not iterable");
  }
}

size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t k = 0; k < s.size();) {
    size_t len = 1;
    while (k + len < s.size() && (static_cast<unsigned char>(s[k + len]) & 0xC0) == 0x80) ++len;
    out.push_back(s.substr(k, len));
    k += len;
  }
  return out;
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return {};
    case Kind::List: return v.list->items;
    case Kind::Dict: {
      std::vector<Value> out;
      for (const auto& kv : v.dict->items) out.push_back(Value::string(kv.first));
      return out;
    }
    case Kind::String: {
      std::vector<Value> out;
      for (auto& c : utf8_chars(v.s)) out.push_back(Value::string(std::move(c)));
      return out;
    }
    default: fail("'" + v.type_name() + "' object is not iterable");
  }
}

Value from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > uint64_t(INT64_MAX)) return Value::number(double(u));
      return Value::integer(int64_t(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      for (const auto& x : j) items.push_back(from_json(x));
      return Value::new_list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value d = Value::new_dict();
      for (auto it = j.begin(); it != j.end(); ++it) d.dict->set(it.key(), from_json(it.value()));
      return d;
    }
    default: return Value::none();
  }
}

static void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof(b), "\\u%04x", c);
          out += b;
        } else out += char(c);
    }
  }
  out += '"';
}

static void dump_rec(std::string& out, const Value& v, int indent, int level, bool sort_keys,
                     const std::string& item_sep, const std::string& key_sep, int depth) {
  if (depth > 500) fail("tojson: structure nested too deeply");
  auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append(size_t(indent) * size_t(lvl), ' ');
  };
  switch (v.kind) {
    case Kind::None: out += "null"; break;
    case Kind::Bool: out += v.b ? "true" : "false"; break;
    case Kind::Int: out += std::to_string(v.i); break;
    case Kind::Float:
      if (std::isnan(v.f)) out += "NaN";
      else if (std::isinf(v.f)) out += v.f > 0 ? "Infinity" : "-Infinity";
      else out += float_repr(v.f);
      break;
    case Kind::String: json_string(out, v.s); break;
    case Kind::List: {
      if (v.list->items.empty()) { out += "[]"; break; }
      out += '[';
      for (size_t k = 0; k < v.list->items.size(); ++k) {
        if (k) out += item_sep;
        newline(level + 1);
        dump_rec(out, v.list->items[k], indent, level + 1, sort_keys, item_sep, key_sep, depth + 1);
      }
      newline(level);
      out += ']';
      break;
    }
    case Kind::Dict: {
      if (v.dict->is_namespace) fail("Object of type Namespace is not JSON serializable");
      if (v.dict->items.empty()) { out += "{}"; break; }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.dict->items) items.push_back(&kv);
      if (sort_keys)
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t k = 0; k < items.size(); ++k) {
        if (k) out += item_sep;
        newline(level + 1);
        json_string(out, items[k]->first);
        out += key_sep;
        dump_rec(out, items[k]->second, indent, level + 1, sort_keys, item_sep, key_sep, depth + 1);
      }
      newline(level);
      out += '}';
      break;
    }
    default: fail("Object of type " + v.type_name() + " is not JSON serializable");
  }
}

std::string dump_json(const Value& v, int indent, bool sort_keys, const std::string* item_sep,
                      const std::string* key_sep) {
  std::string out;
  std::string is = item_sep ? *item_sep : (indent >= 0 ? "," : ", ");
  std::string ks = key_sep ? *key_sep : ": ";
  dump_rec(out, v, indent, 0, sort_keys, is, ks, 0);
  return out;
}

}  // namespace tessera::lm::jinja
