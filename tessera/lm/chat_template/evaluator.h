// Jinja evaluator: walks the syntax tree with Python/jinja2 semantics, scoping, loops, macros and resource limits.
#pragma once

#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/lm/chat_template/ast.h"

namespace tessera::lm::jinja {

// Thrown by raise_exception(msg) in a template; what() is "[chat_template] <msg>", message() the bare text.
class TemplateRaisedError : public std::runtime_error {
 public:
  explicit TemplateRaisedError(const std::string& msg)
      : std::runtime_error("[chat_template] " + msg), message_(msg) {}
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

struct Limits {
  size_t max_steps = 2'000'000;      // statements + loop iterations + calls per render
  size_t max_output = 64u << 20;     // bytes of rendered text (also caps string/list growth)
  int max_call_depth = 100;          // nested macro calls
};

using Frame = std::unordered_map<std::string, Value>;

class Evaluator {
 public:
  Evaluator(const std::string& source, std::shared_ptr<Frame> globals, Limits limits);

  std::string render(const Body& body);
  Value eval(const Expr& e);
  Value call(const Value& fn, CallArgs& args, size_t pos);
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  // Reports an undefined value used where a real value is required.
  void require_defined(const Value& v) const;
  [[noreturn]] void error(const std::string& msg) const;
  void step();  // counts one unit of work against Limits::max_steps
  void check_size(size_t n) const;
  const Limits& limits() const { return limits_; }
  Value call_macro(const Stmt& macro, const std::vector<std::shared_ptr<Frame>>& closure, CallArgs& args,
                   const Value& caller);
  std::tm now{};  // time reported by strftime_now

 private:
  enum class Flow { Normal, Break, Continue };
  Flow exec(const Body& body, std::string& out);
  Flow exec_stmt(const Stmt& s, std::string& out);
  void exec_for(const Stmt& s, std::string& out);
  void assign(const Expr& target, const Value& v);
  Value lookup(const std::string& name) const;
  Value make_macro(const Stmt& s);
  Value binary_op(const std::string& op, const Value& a, const Value& b);

  const std::string& source_;
  std::vector<std::shared_ptr<Frame>> frames_;  // frames_[0] = globals
  Limits limits_;
  size_t steps_ = 0;
  int call_depth_ = 0;
  Value placeholder_;
  size_t cur_pos_ = 0;
};

}  // namespace tessera::lm::jinja
