// Built-in jinja filters (jinja2 semantics) plus transformers' tojson (no HTML escaping, indent support).
#include <algorithm>
#include <cmath>
#include <set>

#include "tessera/lm/chat_template/builtins.h"

namespace tessera::lm::jinja {

namespace {

const std::set<std::string>& filter_names() {
  static const std::set<std::string> names = {
      "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
      "forceescape", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min",
      "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
      "sum", "title", "tojson", "trim", "unique", "upper", "wordcount", "batch"};
  return names;
}

std::string str_arg(Evaluator& ev, const Value& v, const char* what) {
  if (!v.is_string()) ev.error(std::string(what) + " must be a string, not " + v.type_name());
  return v.s;
}

// jinja2 make_attrgetter: dotted path, integer parts used as indices.
Value attr_path(Evaluator& ev, const Value& item, const std::string& path) {
  Value cur = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    Value key = digits && part.size() < 18 ? Value::integer(std::stoll(part)) : Value::string(part);
    cur = ev.get_item(cur, key);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(py_lower(v.s));
  return v;
}

std::vector<Value> require_iterable(Evaluator& ev, const Value& v) {
  if (v.is_none() || v.is_number() || v.is_callable()) ev.error("'" + v.type_name() + "' object is not iterable");
  return iterate(v);
}

int64_t py_len(Evaluator& ev, const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return 0;
    case Kind::String: return int64_t(utf8_length(v.s));
    case Kind::List: return int64_t(v.list->items.size());
    case Kind::Dict: return int64_t(v.dict->items.size());
    default: ev.error("object of type '" + v.type_name() + "' has no len()");
  }
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Python round-half-even at a decimal precision.
double py_round(double x, int64_t digits) {
  if (!std::isfinite(x)) return x;
  double scale = std::pow(10.0, double(digits));
  double y = x * scale;
  if (!std::isfinite(y)) return x;
  double r = std::nearbyint(y);  // default rounding mode: half to even
  return r / scale;
}

std::string ascii_escape_json(const std::string& s) {
  std::string out;
  for (size_t k = 0; k < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    if (c < 0x80) { out += char(c); ++k; continue; }
    uint32_t cp = 0;
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    cp = len == 4 ? c & 0x07 : len == 3 ? c & 0x0F : len == 2 ? c & 0x1F : c;
    for (size_t j = 1; j < len && k + j < s.size(); ++j) cp = (cp << 6) | (static_cast<unsigned char>(s[k + j]) & 0x3F);
    k += len;
    char b[16];
    if (cp >= 0x10000) {
      cp -= 0x10000;
      std::snprintf(b, sizeof(b), "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
    } else {
      std::snprintf(b, sizeof(b), "\\u%04x", cp);
    }
    out += b;
  }
  return out;
}

Value select_impl(Evaluator& ev, const Value& v, CallArgs& args, bool select, bool by_attr) {
  std::vector<Value> items = require_iterable(ev, v);
  size_t k = 0;
  std::string attr;
  if (by_attr) {
    if (args.args.empty()) ev.error("selectattr/rejectattr needs an attribute name");
    attr = str_arg(ev, args.args[0], "attribute");
    k = 1;
  }
  std::string test;
  CallArgs targs;
  bool with_test = k < args.args.size();
  if (with_test) {
    test = str_arg(ev, args.args[k], "test name");
    if (!has_test(test)) ev.error("no test named '" + test + "'");
    targs.args.assign(args.args.begin() + long(k) + 1, args.args.end());
    targs.kwargs = args.kwargs;
  }
  std::vector<Value> out;
  for (auto& item : items) {
    ev.step();
    Value x = by_attr ? attr_path(ev, item, attr) : item;
    bool r = with_test ? apply_test(ev, test, x, targs) : x.truthy();
    if (r == select) out.push_back(item);
  }
  return Value::new_list(std::move(out));
}

}  // namespace

bool has_filter(const std::string& name) { return filter_names().count(name) > 0; }

Value apply_filter(Evaluator& ev, const std::string& name, const Value& v, CallArgs& args) {
  auto arg = [&](size_t pos, const char* key) { return args.get(pos, key); };
  if (name == "default" || name == "d") {
    Value def = args.has(0, "default_value") ? arg(0, "default_value") : Value::string("");
    bool boolean = arg(1, "boolean").truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return def;
    return v;
  }
  if (name == "length" || name == "count") return Value::integer(py_len(ev, v));
  if (name == "string") return Value::string(to_str(v));
  if (name == "safe") return Value::string(to_str(v));
  if (name == "escape" || name == "e" || name == "forceescape") return Value::string(html_escape(to_str(v)));
  if (name == "trim") {
    Value chars = arg(0, "chars");
    std::string cs = chars.is_string() ? chars.s : std::string();
    return Value::string(py_strip(to_str(v), chars.is_string() ? &cs : nullptr, true, true));
  }
  if (name == "upper") return Value::string(py_upper(to_str(v)));
  if (name == "lower") return Value::string(py_lower(to_str(v)));
  if (name == "capitalize") return Value::string(py_capitalize(to_str(v)));
  if (name == "title") {
    // jinja2: split on runs of [-\s({\[<], capitalize the first char of each piece, lowercase the rest.
    std::string s = to_str(v), out;
    bool at_start = true;
    for (char c : s) {
      bool sep = c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '(' ||
                 c == '{' || c == '[' || c == '<';
      if (sep) { out += c; at_start = true; continue; }
      out += char(at_start ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
      at_start = false;
    }
    return Value::string(out);
  }
  if (name == "replace") {
    Value cnt = arg(2, "count");
    int64_t count = cnt.is_undefined() || cnt.is_none() ? -1 : cnt.as_int();
    std::string r = py_replace(to_str(v), to_str(arg(0, "old")), to_str(arg(1, "new")), count);
    ev.check_size(r.size());
    return Value::string(std::move(r));
  }
  if (name == "first") {
    if (v.is_list()) return v.list->items.empty() ? Value::undefined("No first item, sequence was empty.") : v.list->items[0];
    auto items = require_iterable(ev, v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items[0];
  }
  if (name == "last") {
    auto items = require_iterable(ev, v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
  }
  if (name == "list") return Value::new_list(require_iterable(ev, v));
  if (name == "reverse") {
    if (v.is_string()) {
      auto chars = utf8_chars(v.s);
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
      return Value::string(out);
    }
    auto items = require_iterable(ev, v);
    std::reverse(items.begin(), items.end());
    return Value::new_list(std::move(items));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::new_list();
    if (!v.is_dict()) ev.error("can only get item pairs from a mapping");
    std::vector<Value> out;
    for (const auto& kv : v.dict->items) out.push_back(Value::new_list({Value::string(kv.first), kv.second}, true));
    return Value::new_list(std::move(out));
  }
  if (name == "dictsort") {
    if (!v.is_dict()) ev.error("dictsort filter needs a mapping");
    bool cs = arg(0, "case_sensitive").truthy();
    Value by = arg(1, "by");
    bool by_value = by.is_string() && by.s == "value";
    if (by.is_string() && by.s != "key" && by.s != "value") ev.error("You can only sort by either 'key' or 'value'");
    bool rev = arg(2, "reverse").truthy();
    std::vector<Value> out;
    for (const auto& kv : v.dict->items) out.push_back(Value::new_list({Value::string(kv.first), kv.second}, true));
    std::stable_sort(out.begin(), out.end(), [&](const Value& a, const Value& b) {
      const Value& x = a.list->items[by_value ? 1 : 0];
      const Value& y = b.list->items[by_value ? 1 : 0];
      int c = compare(sort_key(x, cs), sort_key(y, cs));
      return rev ? c > 0 : c < 0;
    });
    return Value::new_list(std::move(out));
  }
  if (name == "sort") {
    auto items = require_iterable(ev, v);
    bool rev = arg(0, "reverse").truthy();
    bool cs = arg(1, "case_sensitive").truthy();
    Value attr = arg(2, "attribute");
    std::vector<std::pair<Value, Value>> keyed;
    for (auto& it : items)
      keyed.emplace_back(sort_key(attr.is_string() ? attr_path(ev, it, attr.s) : it, cs), it);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      int c = compare(a.first, b.first);
      return rev ? c > 0 : c < 0;
    });
    std::vector<Value> out;
    for (auto& kv : keyed) out.push_back(kv.second);
    return Value::new_list(std::move(out));
  }
  if (name == "unique") {
    auto items = require_iterable(ev, v);
    bool cs = arg(0, "case_sensitive").truthy();
    Value attr = arg(1, "attribute");
    std::vector<Value> seen, out;
    for (auto& it : items) {
      Value key = sort_key(attr.is_string() ? attr_path(ev, it, attr.s) : it, cs);
      bool dup = false;
      for (const auto& s : seen) dup = dup || equals(s, key);
      if (!dup) { seen.push_back(key); out.push_back(it); }
    }
    return Value::new_list(std::move(out));
  }
  if (name == "min" || name == "max") {
    auto items = require_iterable(ev, v);
    bool cs = arg(0, "case_sensitive").truthy();
    Value attr = arg(1, "attribute");
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    Value bk = sort_key(attr.is_string() ? attr_path(ev, items[0], attr.s) : items[0], cs);
    for (size_t k = 1; k < items.size(); ++k) {
      Value key = sort_key(attr.is_string() ? attr_path(ev, items[k], attr.s) : items[k], cs);
      int c = compare(key, bk);
      if (name == "min" ? c < 0 : c > 0) { best = k; bk = key; }
    }
    return items[best];
  }
  if (name == "join") {
    auto items = require_iterable(ev, v);
    std::string sep = to_str(arg(0, "d"));
    Value attr = arg(1, "attribute");
    std::string out;
    for (size_t k = 0; k < items.size(); ++k) {
      if (k) out += sep;
      out += to_str(attr.is_string() ? attr_path(ev, items[k], attr.s) : items[k]);
      ev.check_size(out.size());
    }
    return Value::string(out);
  }
  if (name == "map") {
    auto items = require_iterable(ev, v);
    std::vector<Value> out;
    Value attr;
    Value def;
    for (const auto& kv : args.kwargs) {
      if (kv.first == "attribute") attr = kv.second;
      else if (kv.first == "default") def = kv.second;
    }
    if (attr.is_string()) {
      for (auto& it : items) {
        Value x = attr_path(ev, it, attr.s);
        out.push_back(x.is_undefined() && !def.is_undefined() ? def : x);
      }
      return Value::new_list(std::move(out));
    }
    if (args.args.empty()) ev.error("map requires a filter name or attribute=");
    std::string f = str_arg(ev, args.args[0], "filter name");
    if (!has_filter(f)) ev.error("no filter named '" + f + "'");
    CallArgs fargs;
    fargs.args.assign(args.args.begin() + 1, args.args.end());
    fargs.kwargs = args.kwargs;
    for (auto& it : items) {
      ev.step();
      CallArgs copy = fargs;
      out.push_back(apply_filter(ev, f, it, copy));
    }
    return Value::new_list(std::move(out));
  }
  if (name == "select") return select_impl(ev, v, args, true, false);
  if (name == "reject") return select_impl(ev, v, args, false, false);
  if (name == "selectattr") return select_impl(ev, v, args, true, true);
  if (name == "rejectattr") return select_impl(ev, v, args, false, true);
  if (name == "tojson") {
    Value ind = arg(1, "indent");
    int indent = -1;
    if (ind.is_number() && ind.kind != Kind::Float) indent = int(std::clamp<int64_t>(ind.as_int(), 0, 64));
    else if (!ind.is_undefined() && !ind.is_none()) ev.error("tojson: indent must be an integer");
    Value seps = arg(2, "separators");
    std::string item_sep, key_sep;
    bool has_seps = seps.is_list() && seps.list->items.size() == 2;
    if (has_seps) { item_sep = to_str(seps.list->items[0]); key_sep = to_str(seps.list->items[1]); }
    std::string s = dump_json(v, indent, arg(3, "sort_keys").truthy(), has_seps ? &item_sep : nullptr,
                              has_seps ? &key_sep : nullptr);
    if (arg(0, "ensure_ascii").truthy()) s = ascii_escape_json(s);
    ev.check_size(s.size());
    return Value::string(std::move(s));
  }
  if (name == "int") {
    Value def = args.has(0, "default") ? arg(0, "default") : Value::integer(0);
    if (v.kind == Kind::Int || v.kind == Kind::Bool) return Value::integer(v.as_int());
    if (v.kind == Kind::Float) {
      if (!std::isfinite(v.f) || std::fabs(v.f) > 9.2e18) return def;
      return Value::integer(int64_t(v.f));
    }
    if (v.is_string()) {
      std::string s = py_strip(v.s, nullptr, true, true);
      try {
        size_t used = 0;
        long long x = std::stoll(s, &used, 10);
        if (used == s.size()) return Value::integer(x);
        double d = std::stod(s, &used);
        if (used == s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value::integer(int64_t(d));
      } catch (const std::exception&) {
      }
    }
    return def;
  }
  if (name == "float") {
    Value def = args.has(0, "default") ? arg(0, "default") : Value::number(0.0);
    if (v.is_number()) return Value::number(v.as_double());
    if (v.is_string()) {
      std::string s = py_strip(v.s, nullptr, true, true);
      try {
        size_t used = 0;
        double d = std::stod(s, &used);
        if (used == s.size()) return Value::number(d);
      } catch (const std::exception&) {
      }
    }
    return def;
  }
  if (name == "abs") {
    if (v.kind == Kind::Float) return Value::number(std::fabs(v.f));
    if (v.is_number()) {
      if (v.as_int() == INT64_MIN) ev.error("integer overflow");
      return Value::integer(std::llabs(v.as_int()));
    }
    ev.error("bad operand type for abs(): '" + v.type_name() + "'");
  }
  if (name == "round") {
    Value p = arg(0, "precision");
    int64_t prec = p.is_undefined() ? 0 : p.as_int();
    Value m = arg(1, "method");
    std::string method = m.is_string() ? m.s : "common";
    if (!v.is_number()) ev.error("round filter needs a number");
    if (method == "common") {
      if (v.kind != Kind::Float) return Value::integer(v.as_int());
      return Value::number(py_round(v.f, prec));
    }
    double scale = std::pow(10.0, double(prec));
    if (method == "ceil") return Value::number(std::ceil(v.as_double() * scale) / scale);
    if (method == "floor") return Value::number(std::floor(v.as_double() * scale) / scale);
    ev.error("method must be common, ceil or floor");
  }
  if (name == "indent") {
    Value w = arg(0, "width");
    std::string ind = w.is_string() ? w.s : std::string(size_t(std::clamp<int64_t>(w.is_undefined() ? 4 : w.as_int(), 0, 256)), ' ');
    bool first = arg(1, "first").truthy();
    bool blank = arg(2, "blank").truthy();
    std::string s = to_str(v) + "\n";
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t k = 0; k < s.size(); ++k) {
      if (s[k] == '\n') { lines.push_back(s.substr(start, k - start)); start = k + 1; }
    }
    std::string rv;
    if (blank) {
      for (size_t k = 0; k < lines.size(); ++k) rv += (k ? "\n" + ind : "") + lines[k];
    } else {
      rv = lines.empty() ? "" : lines[0];
      for (size_t k = 1; k < lines.size(); ++k) rv += "\n" + (lines[k].empty() ? "" : ind + lines[k]);
    }
    if (first) rv = ind + rv;
    ev.check_size(rv.size());
    return Value::string(rv);
  }
  if (name == "sum") {
    auto items = require_iterable(ev, v);
    Value attr = arg(0, "attribute");
    Value acc = args.has(1, "start") ? arg(1, "start") : Value::integer(0);
    for (auto& it : items) {
      Value x = attr.is_string() ? attr_path(ev, it, attr.s) : it;
      if (!x.is_number() || !acc.is_number()) ev.error("sum filter needs numbers");
      if (x.kind == Kind::Float || acc.kind == Kind::Float) acc = Value::number(acc.as_double() + x.as_double());
      else acc = Value::integer(acc.as_int() + x.as_int());
    }
    return acc;
  }
  if (name == "wordcount") return Value::integer(int64_t(py_split(to_str(v), Value(), -1).size()));
  if (name == "attr") return ev.get_attr(v, to_str(arg(0, "name")));
  if (name == "batch") {
    auto items = require_iterable(ev, v);
    int64_t n = arg(0, "linecount").as_int();
    if (n <= 0) ev.error("batch size must be positive");
    Value fill = arg(1, "fill_with");
    std::vector<Value> out, cur;
    for (auto& it : items) {
      cur.push_back(it);
      if (int64_t(cur.size()) == n) { out.push_back(Value::new_list(std::move(cur))); cur.clear(); }
    }
    if (!cur.empty()) {
      if (!fill.is_undefined() && !fill.is_none())
        while (int64_t(cur.size()) < n) cur.push_back(fill);
      out.push_back(Value::new_list(std::move(cur)));
    }
    return Value::new_list(std::move(out));
  }
  ev.error("no filter named '" + name + "'");
}

}  // namespace tessera::lm::jinja
