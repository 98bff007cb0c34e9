// Python str helpers used by filters and methods: strip, case mapping, title, split, replace (ASCII case rules).
#include <cctype>

#include "tessera/lm/chat_template/builtins.h"

namespace tessera::lm::jinja {

namespace {
bool py_space(unsigned char c) { return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f); }
bool is_alpha(unsigned char c) { return std::isalpha(c) != 0; }
}  // namespace

std::string py_strip(const std::string& s, const std::string* chars, bool left, bool right) {
  auto strip_it = [&](unsigned char c) { return chars ? chars->find(char(c)) != std::string::npos : py_space(c); };
  size_t b = 0, e = s.size();
  if (left) while (b < e && strip_it(static_cast<unsigned char>(s[b]))) ++b;
  if (right) while (e > b && strip_it(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string py_lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string py_upper(std::string s) {
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string py_title(const std::string& s) {
  std::string out = s;
  bool prev_cased = false;
  for (auto& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (is_alpha(u)) {
      c = char(prev_cased ? std::tolower(u) : std::toupper(u));
      prev_cased = true;
    } else {
      prev_cased = false;
    }
  }
  return out;
}

std::string py_capitalize(const std::string& s) {
  std::string out = py_lower(s);
  if (!out.empty()) out[0] = char(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::vector<Value> py_split(const std::string& s, const Value& sep, int64_t maxsplit) {
  std::vector<Value> out;
  if (sep.is_undefined() || sep.is_none()) {
    size_t k = 0, n = s.size();
    while (true) {
      while (k < n && py_space(static_cast<unsigned char>(s[k]))) ++k;
      if (k >= n) break;
      if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) {
        size_t e = n;
        while (e > k && py_space(static_cast<unsigned char>(s[e - 1]))) --e;
        out.push_back(Value::string(s.substr(k, e - k)));
        break;
      }
      size_t st = k;
      while (k < n && !py_space(static_cast<unsigned char>(s[k]))) ++k;
      out.push_back(Value::string(s.substr(st, k - st)));
    }
    return out;
  }
  if (!sep.is_string()) fail("must be str or None, not " + sep.type_name());
  if (sep.s.empty()) fail("empty separator");
  size_t start = 0;
  while (true) {
    if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) break;
    size_t p = s.find(sep.s, start);
    if (p == std::string::npos) break;
    out.push_back(Value::string(s.substr(start, p - start)));
    start = p + sep.s.size();
  }
  out.push_back(Value::string(s.substr(start)));
  return out;
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts repl between every character (and at both ends).
    auto chars = utf8_chars(s);
    int64_t done = 0;
    for (size_t k = 0; k <= chars.size(); ++k) {
      if (count < 0 || done < count) { out += repl; ++done; }
      if (k < chars.size()) out += chars[k];
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t p = s.find(old, start);
    if (p == std::string::npos) break;
    out += s.substr(start, p - start);
    out += repl;
    start = p + old.size();
    ++done;
  }
  out += s.substr(start);
  return out;
}

}  // namespace tessera::lm::jinja
