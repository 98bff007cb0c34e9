// Jinja evaluator: statements (if/for/set/macro/call/filter), expressions and jinja2's scoping rules.
#include "tessera/lm/chat_template/evaluator.h"

#include <cmath>
#include <optional>

#include "tessera/lm/chat_template/builtins.h"
#include "tessera/lm/chat_template/lexer.h"

namespace tessera::lm::jinja {

Evaluator::Evaluator(const std::string& source, std::shared_ptr<Frame> globals, Limits limits)
    : source_(source), limits_(limits) {
  frames_.push_back(std::move(globals));
  frames_.push_back(std::make_shared<Frame>());
}

void Evaluator::error(const std::string& msg) const {
  throw std::runtime_error("[chat_template] " + msg + " (near " + describe_position(source_, cur_pos_) + ")");
}

void Evaluator::step() {
  if (++steps_ > limits_.max_steps) error("template exceeded the step limit");
}

void Evaluator::check_size(size_t n) const {
  if (n > limits_.max_output) error("template output or value exceeds the size limit");
}

void Evaluator::require_defined(const Value& v) const {
  if (v.is_undefined()) error(v.s.empty() ? "value is undefined" : v.s);
}

std::string Evaluator::render(const Body& body) {
  std::string out;
  exec(body, out);
  return out;
}

Evaluator::Flow Evaluator::exec(const Body& body, std::string& out) {
  for (const auto& s : body) {
    step();
    Flow f = exec_stmt(*s, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Value Evaluator::lookup(const std::string& name) const {
  for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
    auto f = (*it)->find(name);
    if (f != (*it)->end()) return f->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

void Evaluator::assign(const Expr& target, const Value& v) {
  if (target.kind == EK::Name) {
    (*frames_.back())[target.name] = v;
  } else if (target.kind == EK::Tuple) {
    std::vector<Value> items = iterate(v);
    if (items.size() != target.children.size())
      error(items.size() > target.children.size() ? "too many values to unpack" : "not enough values to unpack");
    for (size_t k = 0; k < items.size(); ++k) assign(*target.children[k], items[k]);
  } else if (target.kind == EK::GetAttr) {
    Value obj = eval(*target.children[0]);
    if (!obj.is_dict() || !obj.dict->is_namespace) error("cannot assign attribute on non-namespace object");
    obj.dict->set(target.name, v);
  } else {
    error("invalid assignment target");
  }
}

Evaluator::Flow Evaluator::exec_stmt(const Stmt& s, std::string& out) {
  cur_pos_ = s.pos;
  switch (s.kind) {
    case SK::Text:
      out += s.text;
      check_size(out.size());
      return Flow::Normal;
    case SK::Output: {
      Value v = eval(*s.expr);
      out += to_str(v);
      check_size(out.size());
      return Flow::Normal;
    }
    case SK::If:
      for (const auto& br : s.branches) {
        if (!br.first || eval(*br.first).truthy()) return exec(br.second, out);
      }
      return Flow::Normal;
    case SK::For:
      exec_for(s, out);
      return Flow::Normal;
    case SK::Set:
      assign(*s.target, eval(*s.expr));
      return Flow::Normal;
    case SK::SetBlock:
    case SK::FilterBlock: {
      std::string inner;
      frames_.push_back(std::make_shared<Frame>());
      exec(s.body, inner);
      frames_.pop_back();
      placeholder_ = Value::string(std::move(inner));
      Value v = eval(*s.expr);
      if (s.kind == SK::SetBlock) {
        assign(*s.target, v);
      } else {
        out += to_str(v);
        check_size(out.size());
      }
      return Flow::Normal;
    }
    case SK::Macro:
      (*frames_.back())[s.text] = make_macro(s);
      return Flow::Normal;
    case SK::CallBlock: {
      std::vector<std::shared_ptr<Frame>> closure = frames_;
      const Stmt* body_stmt = &s;
      Value caller = Value::function("caller", [body_stmt, closure](Evaluator& ev, CallArgs& a) {
        return ev.call_macro(*body_stmt, closure, a, Value());
      });
      const Expr& call = *s.expr;
      Value fn = eval(*call.children[0]);
      CallArgs args;
      for (const auto& a : call.args) args.args.push_back(eval(*a));
      for (const auto& kv : call.kwargs) args.kwargs.emplace_back(kv.first, eval(*kv.second));
      args.kwargs.emplace_back("caller", caller);
      out += to_str(this->call(fn, args, s.pos));
      check_size(out.size());
      return Flow::Normal;
    }
    case SK::Break: return Flow::Break;
    case SK::Continue: return Flow::Continue;
    case SK::Body: return exec(s.body, out);
  }
  return Flow::Normal;
}

void Evaluator::exec_for(const Stmt& s, std::string& out) {
  Value iterable = eval(*s.expr);
  if (iterable.is_none() || iterable.is_number() || iterable.is_callable())
    error("'" + iterable.type_name() + "' object is not iterable");
  std::vector<Value> items = iterate(iterable);
  if (s.cond) {
    std::vector<Value> kept;
    for (auto& it : items) {
      step();
      frames_.push_back(std::make_shared<Frame>());
      assign(*s.target, it);
      bool keep = eval(*s.cond).truthy();
      frames_.pop_back();
      if (keep) kept.push_back(std::move(it));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    frames_.push_back(std::make_shared<Frame>());
    exec(s.else_body, out);
    frames_.pop_back();
    return;
  }
  const int64_t n = int64_t(items.size());
  for (int64_t k = 0; k < n; ++k) {
    step();
    frames_.push_back(std::make_shared<Frame>());
    assign(*s.target, items[size_t(k)]);
    Value loop = Value::new_dict();
    auto& d = loop.dict->items;
    d.reserve(12);
    d.emplace_back("index", Value::integer(k + 1));
    d.emplace_back("index0", Value::integer(k));
    d.emplace_back("revindex", Value::integer(n - k));
    d.emplace_back("revindex0", Value::integer(n - k - 1));
    d.emplace_back("first", Value::boolean(k == 0));
    d.emplace_back("last", Value::boolean(k == n - 1));
    d.emplace_back("length", Value::integer(n));
    d.emplace_back("depth", Value::integer(1));
    d.emplace_back("depth0", Value::integer(0));
    if (k > 0) d.emplace_back("previtem", items[size_t(k - 1)]);
    if (k + 1 < n) d.emplace_back("nextitem", items[size_t(k + 1)]);
    d.emplace_back("cycle", Value::function("cycle", [k](Evaluator& ev, CallArgs& a) {
      if (a.args.empty()) ev.error("no items for cycling given");
      return a.args[size_t(k) % a.args.size()];
    }));
    (*frames_.back())["loop"] = loop;
    Flow f = exec(s.body, out);
    frames_.pop_back();
    if (f == Flow::Break) break;
  }
}

Value Evaluator::make_macro(const Stmt& s) {
  std::vector<std::shared_ptr<Frame>> closure = frames_;
  const Stmt* stmt = &s;
  return Value::function(s.text, [stmt, closure](Evaluator& ev, CallArgs& a) {
    Value caller;
    for (auto it = a.kwargs.begin(); it != a.kwargs.end(); ++it) {
      if (it->first == "caller") {
        caller = it->second;
        a.kwargs.erase(it);
        break;
      }
    }
    return ev.call_macro(*stmt, closure, a, caller);
  });
}

Value Evaluator::call_macro(const Stmt& m, const std::vector<std::shared_ptr<Frame>>& closure, CallArgs& a,
                            const Value& caller) {
  if (++call_depth_ > limits_.max_call_depth) error("maximum macro call depth exceeded");
  std::vector<std::shared_ptr<Frame>> saved = std::move(frames_);
  frames_ = closure;
  frames_.push_back(std::make_shared<Frame>());
  Frame& f = *frames_.back();
  std::vector<Value> varargs;
  for (size_t k = 0; k < a.args.size(); ++k) {
    if (k < m.params.size()) f[m.params[k].first] = a.args[k];
    else varargs.push_back(a.args[k]);
  }
  Value kwargs = Value::new_dict();
  for (const auto& kv : a.kwargs) {
    bool is_param = false;
    for (const auto& p : m.params) is_param = is_param || p.first == kv.first;
    if (is_param) f[kv.first] = kv.second;
    else kwargs.dict->set(kv.first, kv.second);
  }
  for (size_t k = a.args.size(); k < m.params.size(); ++k) {
    const auto& p = m.params[k];
    if (f.count(p.first)) continue;
    f[p.first] = p.second ? eval(*p.second) : Value::undefined("parameter '" + p.first + "' was not provided");
  }
  f["varargs"] = Value::new_list(std::move(varargs), true);
  f["kwargs"] = kwargs;
  if (!caller.is_undefined()) f["caller"] = caller;
  std::string out;
  exec(m.body, out);
  frames_ = std::move(saved);
  --call_depth_;
  return Value::string(std::move(out));
}

Value Evaluator::call(const Value& fn, CallArgs& args, size_t pos) {
  cur_pos_ = pos;
  if (fn.is_undefined()) error(fn.s.empty() ? "undefined value is not callable" : fn.s);
  if (!fn.is_callable()) error("'" + fn.type_name() + "' object is not callable");
  step();
  return fn.fn->fn(*this, args);
}

Value Evaluator::get_attr(const Value& obj, const std::string& name) {
  require_defined(obj);
  if (obj.is_dict()) {
    if (!obj.dict->is_namespace) {
      Value m = get_method(obj, name);
      if (!m.is_undefined()) return m;
    }
    if (const Value* v = obj.dict->find(name)) return *v;
    return Value::undefined("'" + std::string(obj.dict->is_namespace ? "Namespace" : "dict") +
                            " object' has no attribute '" + name + "'");
  }
  if (obj.is_none()) return Value::undefined("'None' has no attribute '" + name + "'");
  Value m = get_method(obj, name);
  if (!m.is_undefined()) return m;
  return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
}

Value Evaluator::get_item(const Value& obj, const Value& key) {
  require_defined(obj);
  if (obj.is_dict() && key.is_string()) {
    if (const Value* v = obj.dict->find(key.s)) return *v;
    return get_attr(obj, key.s);
  }
  if ((obj.is_list() || obj.is_string()) && (key.kind == Kind::Int || key.kind == Kind::Bool)) {
    int64_t idx = key.as_int();
    if (obj.is_list()) {
      int64_t n = int64_t(obj.list->items.size());
      if (idx < 0) idx += n;
      if (idx < 0 || idx >= n)
        return Value::undefined("'" + obj.type_name() + " object' has no element " + std::to_string(key.as_int()));
      return obj.list->items[size_t(idx)];
    }
    auto chars = utf8_chars(obj.s);
    int64_t n = int64_t(chars.size());
    if (idx < 0) idx += n;
    if (idx < 0 || idx >= n) return Value::undefined("'str object' has no element " + std::to_string(key.as_int()));
    return Value::string(chars[size_t(idx)]);
  }
  if (key.is_string()) return get_attr(obj, key.s);
  if (obj.is_none()) return Value::undefined("'None' has no attribute '" + to_str(key) + "'");
  return Value::undefined("'" + obj.type_name() + " object' has no element " + to_str(key));
}

namespace {

int64_t checked_int(const Evaluator& ev, bool overflow, int64_t v) {
  if (overflow) ev.error("integer overflow");
  return v;
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Python printf-style "fmt % args" for %s %r %d %i %f %% (enough for templates).
std::string percent_format(const Evaluator& ev, const std::string& fmt, const Value& arg) {
  std::vector<Value> args;
  if (arg.is_list() && arg.list->tuple) args = arg.list->items;
  else args.push_back(arg);
  std::string out;
  size_t ai = 0;
  for (size_t k = 0; k < fmt.size(); ++k) {
    if (fmt[k] != '%') { out += fmt[k]; continue; }
    if (++k >= fmt.size()) ev.error("incomplete format");
    char c = fmt[k];
    if (c == '%') { out += '%'; continue; }
    if (ai >= args.size()) ev.error("not enough arguments for format string");
    const Value& v = args[ai++];
    if (c == 's') out += to_str(v);
    else if (c == 'r') out += repr(v);
    else if (c == 'd' || c == 'i') {
      if (!v.is_number()) ev.error("%d format: a real number is required");
      out += std::to_string(v.kind == Kind::Float ? int64_t(v.f) : v.as_int());
    } else if (c == 'f') {
      if (!v.is_number()) ev.error("%f format: a real number is required");
      char b[64];
      std::snprintf(b, sizeof(b), "%f", v.as_double());
      out += b;
    } else ev.error(std::string("unsupported format character '") + c + "'");
  }
  if (ai < args.size()) ev.error("not all arguments converted during string formatting");
  return out;
}

}  // namespace

Value Evaluator::binary_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = to_str(a) + to_str(b);
    check_size(s.size());
    return Value::string(std::move(s));
  }
  require_defined(a);
  require_defined(b);
  auto type_error = [&]() -> Value {
    error("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
  };
  bool nums = a.is_number() && b.is_number();
  bool ints = nums && a.kind != Kind::Float && b.kind != Kind::Float;
  if (op == "+") {
    if (ints) { int64_t r; bool o = __builtin_add_overflow(a.as_int(), b.as_int(), &r); return Value::integer(checked_int(*this, o, r)); }
    if (nums) return Value::number(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) { check_size(a.s.size() + b.s.size()); return Value::string(a.s + b.s); }
    if (a.is_list() && b.is_list() && a.list->tuple == b.list->tuple) {
      check_size(a.list->items.size() + b.list->items.size());
      std::vector<Value> items = a.list->items;
      items.insert(items.end(), b.list->items.begin(), b.list->items.end());
      return Value::new_list(std::move(items), a.list->tuple);
    }
    return type_error();
  }
  if (op == "-") {
    if (ints) { int64_t r; bool o = __builtin_sub_overflow(a.as_int(), b.as_int(), &r); return Value::integer(checked_int(*this, o, r)); }
    if (nums) return Value::number(a.as_double() - b.as_double());
    return type_error();
  }
  if (op == "*") {
    if (ints) { int64_t r; bool o = __builtin_mul_overflow(a.as_int(), b.as_int(), &r); return Value::integer(checked_int(*this, o, r)); }
    if (nums) return Value::number(a.as_double() * b.as_double());
    const Value* seq = a.is_string() || a.is_list() ? &a : &b;
    const Value* cnt = seq == &a ? &b : &a;
    if ((seq->is_string() || seq->is_list()) && cnt->is_number() && cnt->kind != Kind::Float) {
      int64_t times = std::max<int64_t>(0, cnt->as_int());
      size_t unit = seq->is_string() ? seq->s.size() : seq->list->items.size();
      if (unit && uint64_t(times) > limits_.max_output / unit) error("template output or value exceeds the size limit");
      if (seq->is_string()) {
        std::string s;
        for (int64_t k = 0; k < times; ++k) s += seq->s;
        return Value::string(std::move(s));
      }
      std::vector<Value> items;
      for (int64_t k = 0; k < times; ++k) items.insert(items.end(), seq->list->items.begin(), seq->list->items.end());
      return Value::new_list(std::move(items), seq->list->tuple);
    }
    return type_error();
  }
  if (op == "/") {
    if (!nums) return type_error();
    if (b.as_double() == 0.0) error("division by zero");
    return Value::number(a.as_double() / b.as_double());
  }
  if (op == "//") {
    if (!nums) return type_error();
    if (b.as_double() == 0.0) error("integer division or modulo by zero");
    if (ints) {
      if (a.as_int() == INT64_MIN && b.as_int() == -1) error("integer overflow");
      return Value::integer(floor_div(a.as_int(), b.as_int()));
    }
    return Value::number(std::floor(a.as_double() / b.as_double()));
  }
  if (op == "%") {
    if (a.is_string()) return Value::string(percent_format(*this, a.s, b));
    if (!nums) return type_error();
    if (b.as_double() == 0.0) error("integer division or modulo by zero");
    if (ints) {
      int64_t x = a.as_int(), y = b.as_int();
      if (y == -1) return Value::integer(0);
      int64_t r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) r += y;
      return Value::integer(r);
    }
    double x = a.as_double(), y = b.as_double();
    double r = std::fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return Value::number(r);
  }
  if (op == "**") {
    if (!nums) return type_error();
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), e = b.as_int(), r = 1;
      for (int64_t k = 0; k < e; ++k) {
        if (__builtin_mul_overflow(r, base, &r)) error("integer overflow");
        if (r == 0 || r == 1) break;
        if (r == -1) { r = (e - k - 1) % 2 == 0 ? -1 : 1; break; }
      }
      return Value::integer(r);
    }
    if (a.as_double() == 0.0 && b.as_double() < 0) error("0.0 cannot be raised to a negative power");
    return Value::number(std::pow(a.as_double(), b.as_double()));
  }
  error("unknown operator " + op);
}

namespace {

Value do_slice(Evaluator& ev, const Value& obj, const Value& start, const Value& stop, const Value& step) {
  ev.require_defined(obj);
  std::vector<std::string> chars;
  int64_t n;
  if (obj.is_list()) n = int64_t(obj.list->items.size());
  else if (obj.is_string()) { chars = utf8_chars(obj.s); n = int64_t(chars.size()); }
  else ev.error("'" + obj.type_name() + "' object is not subscriptable");
  auto as_idx = [&](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (v.kind != Kind::Int && v.kind != Kind::Bool) ev.error(std::string("slice ") + what + " must be an integer or None");
    return v.as_int();
  };
  int64_t st = as_idx(step, "step").value_or(1);
  if (st == 0) ev.error("slice step cannot be zero");
  auto adjust = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  int64_t b = adjust(as_idx(start, "start"), st < 0 ? n - 1 : 0);
  int64_t e = adjust(as_idx(stop, "stop"), st < 0 ? -1 : n);
  std::vector<int64_t> idx;
  if (st > 0) for (int64_t k = b; k < e; k += st) idx.push_back(k);
  else for (int64_t k = b; k > e; k += st) idx.push_back(k);
  if (obj.is_list()) {
    std::vector<Value> items;
    for (int64_t k : idx) items.push_back(obj.list->items[size_t(k)]);
    return Value::new_list(std::move(items), obj.list->tuple);
  }
  std::string s;
  for (int64_t k : idx) s += chars[size_t(k)];
  return Value::string(std::move(s));
}

bool compare_op(Evaluator& ev, const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in" || op == "notin") {
    if (b.is_undefined() && !b.s.empty()) ev.require_defined(b);
    bool r = contains(b, a);
    return op == "in" ? r : !r;
  }
  ev.require_defined(a);
  ev.require_defined(b);
  int c = compare(a, b);
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;
}

}  // namespace

Value Evaluator::eval(const Expr& e) {
  switch (e.kind) {
    case EK::Const: return e.value;
    case EK::Name: return lookup(e.name);
    case EK::Placeholder: return placeholder_;
    case EK::GetAttr: {
      Value obj = eval(*e.children[0]);
      cur_pos_ = e.pos;
      return get_attr(obj, e.name);
    }
    case EK::GetItem: {
      Value obj = eval(*e.children[0]);
      Value key = eval(*e.children[1]);
      cur_pos_ = e.pos;
      return get_item(obj, key);
    }
    case EK::Slice: {
      Value obj = eval(*e.children[0]);
      Value a = e.children[1] ? eval(*e.children[1]) : Value();
      Value b = e.children[2] ? eval(*e.children[2]) : Value();
      Value c = e.children[3] ? eval(*e.children[3]) : Value();
      cur_pos_ = e.pos;
      return do_slice(*this, obj, a, b, c);
    }
    case EK::Neg:
    case EK::Pos: {
      Value v = eval(*e.children[0]);
      cur_pos_ = e.pos;
      require_defined(v);
      if (!v.is_number()) error("bad operand type for unary " + std::string(e.kind == EK::Neg ? "-" : "+") + ": '" + v.type_name() + "'");
      if (e.kind == EK::Pos) return v.kind == Kind::Bool ? Value::integer(v.as_int()) : v;
      if (v.kind == Kind::Float) return Value::number(-v.f);
      if (v.as_int() == INT64_MIN) error("integer overflow");
      return Value::integer(-v.as_int());
    }
    case EK::Not: return Value::boolean(!eval(*e.children[0]).truthy());
    case EK::And: {
      Value l = eval(*e.children[0]);
      return l.truthy() ? eval(*e.children[1]) : l;
    }
    case EK::Or: {
      Value l = eval(*e.children[0]);
      return l.truthy() ? l : eval(*e.children[1]);
    }
    case EK::Binary: {
      Value l = eval(*e.children[0]);
      Value r = eval(*e.children[1]);
      cur_pos_ = e.pos;
      return binary_op(e.name, l, r);
    }
    case EK::Compare: {
      Value l = eval(*e.children[0]);
      for (size_t k = 0; k < e.ops.size(); ++k) {
        Value r = eval(*e.children[k + 1]);
        cur_pos_ = e.pos;
        if (!compare_op(*this, e.ops[k], l, r)) return Value::boolean(false);
        l = std::move(r);
      }
      return Value::boolean(true);
    }
    case EK::Cond: {
      if (eval(*e.children[0]).truthy()) return eval(*e.children[1]);
      return e.children[2] ? eval(*e.children[2]) : Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    }
    case EK::Filter:
    case EK::Test:
    case EK::Call: {
      Value target = eval(*e.children[0]);
      CallArgs args;
      for (const auto& a : e.args) args.args.push_back(eval(*a));
      for (const auto& kv : e.kwargs) args.kwargs.emplace_back(kv.first, eval(*kv.second));
      cur_pos_ = e.pos;
      if (e.kind == EK::Call) return call(target, args, e.pos);
      step();
      if (e.kind == EK::Filter) return apply_filter(*this, e.name, target, args);
      bool r = apply_test(*this, e.name, target, args);
      return Value::boolean(e.negated ? !r : r);
    }
    case EK::List:
    case EK::Tuple: {
      std::vector<Value> items;
      for (const auto& c : e.children) items.push_back(eval(*c));
      return Value::new_list(std::move(items), e.kind == EK::Tuple);
    }
    case EK::Dict: {
      Value d = Value::new_dict();
      for (size_t k = 0; k + 1 < e.children.size(); k += 2) {
        Value key = eval(*e.children[k]);
        Value val = eval(*e.children[k + 1]);
        if (!key.is_string()) {
          cur_pos_ = e.pos;
          if (key.is_undefined() || key.is_list() || key.is_dict()) error("unhashable or undefined dict key");
          d.dict->set(to_str(key), val);  // non-string keys are stored by their str()
        } else {
          d.dict->set(key.s, val);
        }
      }
      return d;
    }
  }
  error("unknown expression");
}

}  // namespace tessera::lm::jinja
