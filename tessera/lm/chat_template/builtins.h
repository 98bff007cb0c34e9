// Built-in jinja filters, tests, object methods and global functions (as in jinja2 + transformers' chat env).
#pragma once

#include <string>

#include "tessera/lm/chat_template/evaluator.h"

namespace tessera::lm::jinja {

bool has_filter(const std::string& name);
bool has_test(const std::string& name);
Value apply_filter(Evaluator& ev, const std::string& name, const Value& v, CallArgs& args);
bool apply_test(Evaluator& ev, const std::string& name, const Value& v, CallArgs& args);
// Bound method `obj.name` (str / dict / list methods), or an undefined value when there is none.
Value get_method(const Value& obj, const std::string& name);
// Global functions: range, namespace, dict, raise_exception, strftime_now, lipsum-free subset.
void install_globals(Frame& globals);

// Helpers shared by filters and methods.
std::string py_strip(const std::string& s, const std::string* chars, bool left, bool right);
std::string py_lower(std::string s);
std::string py_upper(std::string s);
std::string py_title(const std::string& s);
std::string py_capitalize(const std::string& s);
std::vector<Value> py_split(const std::string& s, const Value& sep, int64_t maxsplit);
std::string py_replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count);

}  // namespace tessera::lm::jinja
