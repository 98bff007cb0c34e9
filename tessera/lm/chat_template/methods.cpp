// Python methods callable from templates: str (strip/split/startswith/format/...), dict (items/get/...), list.
#include <cctype>
#include <set>

#include "tessera/lm/chat_template/builtins.h"

namespace tessera::lm::jinja {

namespace {

std::string opt_chars(const Value& v, std::string& buf, const std::string** out) {
  if (v.is_string()) { buf = v.s; *out = &buf; } else *out = nullptr;
  return buf;
}

bool match_affix(const Value& self, const Value& affix, bool prefix) {
  auto one = [&](const std::string& a) {
    if (a.size() > self.s.size()) return false;
    return prefix ? self.s.compare(0, a.size(), a) == 0 : self.s.compare(self.s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_string()) return one(affix.s);
  if (affix.is_list()) {
    for (const auto& x : affix.list->items)
      if (x.is_string() && one(x.s)) return true;
    return false;
  }
  fail(std::string(prefix ? "startswith" : "endswith") + " first arg must be str or a tuple of str");
}

// str.format with {} / {0} / {name} fields, optional !r / !s conversion; format specs are not supported.
std::string py_format(Evaluator& ev, const std::string& fmt, CallArgs& a) {
  std::string out;
  size_t auto_idx = 0;
  for (size_t k = 0; k < fmt.size(); ++k) {
    char c = fmt[k];
    if (c == '{') {
      if (k + 1 < fmt.size() && fmt[k + 1] == '{') { out += '{'; ++k; continue; }
      size_t e = fmt.find('}', k);
      if (e == std::string::npos) ev.error("Single '{' encountered in format string");
      std::string field = fmt.substr(k + 1, e - k - 1);
      k = e;
      char conv = 0;
      size_t bang = field.find('!');
      if (bang != std::string::npos) { conv = bang + 1 < field.size() ? field[bang + 1] : 0; field = field.substr(0, bang); }
      if (field.find(':') != std::string::npos) ev.error("format specs are not supported in str.format");
      Value v;
      if (field.empty()) {
        if (auto_idx >= a.args.size()) ev.error("Replacement index out of range for positional args tuple");
        v = a.args[auto_idx++];
      } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
        size_t idx = size_t(std::stoul(field));
        if (idx >= a.args.size()) ev.error("Replacement index out of range for positional args tuple");
        v = a.args[idx];
      } else {
        bool found = false;
        for (const auto& kv : a.kwargs)
          if (kv.first == field) { v = kv.second; found = true; }
        if (!found) ev.error("KeyError: '" + field + "'");
      }
      out += conv == 'r' ? repr(v) : to_str(v);
    } else if (c == '}') {
      if (k + 1 < fmt.size() && fmt[k + 1] == '}') { out += '}'; ++k; continue; }
      ev.error("Single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return out;
}

Value str_method(Evaluator& ev, const Value& self, const std::string& m, CallArgs& a) {
  const std::string& s = self.s;
  std::string buf;
  const std::string* chars = nullptr;
  if (m == "strip" || m == "lstrip" || m == "rstrip") {
    opt_chars(a.get(0, "chars"), buf, &chars);
    return Value::string(py_strip(s, chars, m != "rstrip", m != "lstrip"));
  }
  if (m == "upper") return Value::string(py_upper(s));
  if (m == "lower") return Value::string(py_lower(s));
  if (m == "title") return Value::string(py_title(s));
  if (m == "capitalize") return Value::string(py_capitalize(s));
  if (m == "split") {
    Value ms = a.get(1, "maxsplit");
    return Value::new_list(py_split(s, a.get(0, "sep"), ms.is_undefined() ? -1 : ms.as_int()));
  }
  if (m == "splitlines") {
    std::vector<Value> out;
    size_t start = 0;
    for (size_t k = 0; k < s.size(); ++k)
      if (s[k] == '\n') { out.push_back(Value::string(s.substr(start, k - start))); start = k + 1; }
    if (start < s.size()) out.push_back(Value::string(s.substr(start)));
    return Value::new_list(std::move(out));
  }
  if (m == "startswith") return Value::boolean(match_affix(self, a.get(0, "prefix"), true));
  if (m == "endswith") return Value::boolean(match_affix(self, a.get(0, "suffix"), false));
  if (m == "replace") {
    Value old = a.get(0, "old"), rep = a.get(1, "new"), cnt = a.get(2, "count");
    if (!old.is_string() || !rep.is_string()) ev.error("replace() arguments must be str");
    std::string r = py_replace(s, old.s, rep.s, cnt.is_undefined() ? -1 : cnt.as_int());
    ev.check_size(r.size());
    return Value::string(std::move(r));
  }
  if (m == "find" || m == "count") {
    Value sub = a.get(0, "sub");
    if (!sub.is_string()) ev.error(m + "() argument must be str");
    if (m == "find") {
      size_t p = s.find(sub.s);
      return Value::integer(p == std::string::npos ? -1 : int64_t(utf8_length(s.substr(0, p))));
    }
    if (sub.s.empty()) return Value::integer(int64_t(utf8_length(s)) + 1);
    int64_t n = 0;
    for (size_t p = s.find(sub.s); p != std::string::npos; p = s.find(sub.s, p + sub.s.size())) ++n;
    return Value::integer(n);
  }
  if (m == "join") {
    std::string out;
    auto items = iterate(a.get(0, "iterable"));
    for (size_t k = 0; k < items.size(); ++k) {
      if (!items[k].is_string()) ev.error("sequence item " + std::to_string(k) + ": expected str instance");
      if (k) out += s;
      out += items[k].s;
      ev.check_size(out.size());
    }
    return Value::string(out);
  }
  if (m == "format") {
    std::string r = py_format(ev, s, a);
    ev.check_size(r.size());
    return Value::string(r);
  }
  auto all_of = [&](auto pred) {
    if (s.empty()) return Value::boolean(false);
    for (unsigned char c : s)
      if (!pred(c)) return Value::boolean(false);
    return Value::boolean(true);
  };
  if (m == "isdigit") return all_of([](unsigned char c) { return std::isdigit(c) != 0; });
  if (m == "isalpha") return all_of([](unsigned char c) { return std::isalpha(c) != 0; });
  if (m == "isalnum") return all_of([](unsigned char c) { return std::isalnum(c) != 0; });
  if (m == "isspace") return all_of([](unsigned char c) { return std::isspace(c) != 0; });
  if (m == "islower") return Value::boolean(py_lower(s) == s && py_upper(s) != s);
  if (m == "isupper") return Value::boolean(py_upper(s) == s && py_lower(s) != s);
  ev.error("unknown str method " + m);
}

Value dict_method(Evaluator& ev, const Value& self, const std::string& m, CallArgs& a) {
  if (m == "items") {
    std::vector<Value> out;
    for (const auto& kv : self.dict->items) out.push_back(Value::new_list({Value::string(kv.first), kv.second}, true));
    return Value::new_list(std::move(out));
  }
  if (m == "keys") {
    std::vector<Value> out;
    for (const auto& kv : self.dict->items) out.push_back(Value::string(kv.first));
    return Value::new_list(std::move(out));
  }
  if (m == "values") {
    std::vector<Value> out;
    for (const auto& kv : self.dict->items) out.push_back(kv.second);
    return Value::new_list(std::move(out));
  }
  if (m == "get") {
    Value key = a.get(0, "key");
    if (key.is_string())
      if (const Value* v = self.dict->find(key.s)) return *v;
    return a.has(1, "default") ? a.get(1, "default") : Value::none();
  }
  ev.error("unknown dict method " + m);
}

Value list_method(Evaluator& ev, const Value& self, const std::string& m, CallArgs& a) {
  Value x = a.get(0, "value");
  if (m == "count") {
    int64_t n = 0;
    for (const auto& it : self.list->items) n += equals(it, x) ? 1 : 0;
    return Value::integer(n);
  }
  if (m == "index") {
    for (size_t k = 0; k < self.list->items.size(); ++k)
      if (equals(self.list->items[k], x)) return Value::integer(int64_t(k));
    ev.error(repr(x) + " is not in list");
  }
  ev.error("unknown list method " + m);
}

const std::set<std::string> kStrMethods = {"strip", "lstrip", "rstrip", "upper", "lower", "title", "capitalize",
                                           "split", "splitlines", "startswith", "endswith", "replace", "find",
                                           "count", "join", "format", "isdigit", "isalpha", "isalnum", "isspace",
                                           "islower", "isupper"};
const std::set<std::string> kDictMethods = {"items", "keys", "values", "get"};
const std::set<std::string> kListMethods = {"count", "index"};
// Mutating methods the ImmutableSandboxedEnvironment refuses.
const std::set<std::string> kUnsafeList = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
const std::set<std::string> kUnsafeDict = {"pop", "popitem", "setdefault", "update", "clear"};

Value unsafe(const Value& self, const std::string& m) {
  std::string type = self.type_name();
  return Value::function(m, [m, type](Evaluator& ev, CallArgs&) -> Value {
    ev.error("access to attribute '" + m + "' of '" + type + "' object is unsafe");
  });
}

}  // namespace

Value get_method(const Value& obj, const std::string& name) {
  if (obj.is_string() && kStrMethods.count(name)) {
    return Value::function(name, [obj, name](Evaluator& ev, CallArgs& a) { return str_method(ev, obj, name, a); });
  }
  if (obj.is_dict() && !obj.dict->is_namespace) {
    if (kDictMethods.count(name))
      return Value::function(name, [obj, name](Evaluator& ev, CallArgs& a) { return dict_method(ev, obj, name, a); });
    if (kUnsafeDict.count(name)) return unsafe(obj, name);
  }
  if (obj.is_list()) {
    if (kListMethods.count(name))
      return Value::function(name, [obj, name](Evaluator& ev, CallArgs& a) { return list_method(ev, obj, name, a); });
    if (kUnsafeList.count(name) && !obj.list->tuple) return unsafe(obj, name);
  }
  return Value::undefined();
}

}  // namespace tessera::lm::jinja
