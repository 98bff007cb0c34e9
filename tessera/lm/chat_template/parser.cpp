// Jinja parser: recursive descent over tokens, mirroring jinja2's grammar and operator precedence.
#include "tessera/lm/chat_template/parser.h"

#include "tessera/lm/chat_template/builtins.h"

#include <algorithm>
#include <initializer_list>
#include <stdexcept>

namespace tessera::lm::jinja {

namespace {

constexpr int kMaxDepth = 200;

class Parser {
 public:
  Parser(const std::string& src, std::vector<Token> toks) : src_(src), toks_(std::move(toks)) {}

  Body parse_all() {
    Body body = subparse({});
    if (cur().type != Tok::Eof) error("unexpected tag", cur().pos);
    return body;
  }

 private:
  const std::string& src_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& pp, size_t pos) : p(pp) {
      if (++p.depth_ > kMaxDepth) p.error("template nested too deeply", pos);
    }
    ~DepthGuard() { --p.depth_; }
  };

  [[noreturn]] void error(const std::string& msg, size_t pos) const {
    throw std::runtime_error("[chat_template] syntax error: " + msg + " at " + describe_position(src_, pos));
  }
  const Token& cur() const { return toks_[i_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  void advance() { if (i_ + 1 < toks_.size()) ++i_; }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().value == op; }
  bool is_name(const char* name) const { return cur().type == Tok::Name && cur().value == name; }
  bool skip_op(const char* op) { if (is_op(op)) { advance(); return true; } return false; }
  bool skip_name(const char* name) { if (is_name(name)) { advance(); return true; } return false; }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::Eof: return "end of template";
      case Tok::BlockEnd: return "end of statement block";
      case Tok::VarEnd: return "end of print statement";
      case Tok::Data: return "template data";
      default: return "'" + t.value + "'";
    }
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) error(std::string("expected '") + op + "', got " + describe(cur()), cur().pos);
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) error("expected a name, got " + describe(cur()), cur().pos);
    std::string v = cur().value;
    advance();
    return v;
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd) error("expected end of statement block, got " + describe(cur()), cur().pos);
    advance();
  }

  // Parses statements until a block tag whose name is in `end_names` (left unconsumed, positioned at the name).
  Body subparse(std::initializer_list<const char*> end_names) {
    DepthGuard g(*this, cur().pos);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::Eof) {
        if (end_names.size()) {
          std::string names;
          for (const char* n : end_names) names += std::string(names.empty() ? "" : " or ") + "'" + n + "'";
          error("unexpected end of template, expected " + names, t.pos);
        }
        return body;
      }
      if (t.type == Tok::Data) {
        auto s = std::make_unique<Stmt>(SK::Text, t.pos);
        s->text = t.value;
        body.push_back(std::move(s));
        advance();
      } else if (t.type == Tok::VarBegin) {
        auto s = std::make_unique<Stmt>(SK::Output, t.pos);
        advance();
        s->expr = parse_tuple(true, {});
        if (cur().type != Tok::VarEnd) error("expected end of print statement, got " + describe(cur()), cur().pos);
        advance();
        body.push_back(std::move(s));
      } else if (t.type == Tok::BlockBegin) {
        advance();
        if (cur().type != Tok::Name) error("tag name expected", cur().pos);
        for (const char* n : end_names)
          if (cur().value == n) return body;
        body.push_back(parse_statement());
      } else {
        error("unexpected " + describe(t), t.pos);
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& t = cur();
    const std::string& name = t.value;
    size_t pos = t.pos;
    if (name == "if") return parse_if();
    if (name == "for") return parse_for();
    if (name == "set") return parse_set();
    if (name == "macro") return parse_macro();
    if (name == "call") return parse_call_block();
    if (name == "filter") return parse_filter_block();
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) error("'" + name + "' outside of a loop", pos);
      auto s = std::make_unique<Stmt>(name == "break" ? SK::Break : SK::Continue, pos);
      advance();
      expect_block_end();
      return s;
    }
    if (name == "generation") {
      advance();
      expect_block_end();
      auto s = std::make_unique<Stmt>(SK::Body, pos);
      s->body = subparse({"endgeneration"});
      advance();
      expect_block_end();
      return s;
    }
    error("encountered unknown tag '" + name + "'", pos);
  }

  StmtPtr parse_if() {
    auto s = std::make_unique<Stmt>(SK::If, cur().pos);
    advance();
    ExprPtr cond = parse_tuple(false, {});
    expect_block_end();
    while (true) {
      Body b = subparse({"elif", "else", "endif"});
      s->branches.emplace_back(std::move(cond), std::move(b));
      std::string tag = cur().value;
      advance();
      if (tag == "elif") {
        cond = parse_tuple(false, {});
        expect_block_end();
      } else if (tag == "else") {
        expect_block_end();
        Body eb = subparse({"endif"});
        advance();
        expect_block_end();
        s->branches.emplace_back(nullptr, std::move(eb));
        return s;
      } else {
        expect_block_end();
        return s;
      }
    }
  }

  ExprPtr parse_assign_target(bool with_namespace, std::initializer_list<const char*> end_names) {
    size_t pos = cur().pos;
    std::vector<ExprPtr> items;
    bool tuple = false;
    bool paren = skip_op("(");
    while (true) {
      if (!items.empty()) {
        if (!skip_op(",")) break;
        tuple = true;
      }
      bool at_end = paren ? is_op(")") : (cur().type == Tok::BlockEnd || is_op("="));
      for (const char* n : end_names) at_end = at_end || is_name(n);
      if (at_end && !items.empty()) break;
      auto e = std::make_unique<Expr>(EK::Name, cur().pos);
      e->name = expect_name();
      if (with_namespace && is_op(".")) {
        advance();
        auto a = std::make_unique<Expr>(EK::GetAttr, e->pos);
        a->name = expect_name();
        a->children.push_back(std::move(e));
        e = std::move(a);
      }
      items.push_back(std::move(e));
      if (!is_op(",")) break;
    }
    if (paren) expect_op(")");
    if (items.size() == 1 && !tuple && !paren) return std::move(items[0]);
    if (items.size() == 1 && !tuple) return std::move(items[0]);
    auto t = std::make_unique<Expr>(EK::Tuple, pos);
    for (auto& x : items) {
      if (x->kind != EK::Name) error("cannot assign to attribute in a tuple target", x->pos);
      t->children.push_back(std::move(x));
    }
    return t;
  }

  StmtPtr parse_for() {
    auto s = std::make_unique<Stmt>(SK::For, cur().pos);
    advance();
    s->target = parse_assign_target(false, {"in"});
    if (!skip_name("in")) error("expected 'in', got " + describe(cur()), cur().pos);
    s->expr = parse_tuple(false, {"recursive"});
    if (skip_name("if")) s->cond = parse_expression(true);
    if (is_name("recursive")) error("recursive loops are not supported", cur().pos);
    expect_block_end();
    ++loop_depth_;
    s->body = subparse({"endfor", "else"});
    --loop_depth_;
    if (cur().value == "else") {
      advance();
      expect_block_end();
      s->else_body = subparse({"endfor"});
    }
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_set() {
    size_t pos = cur().pos;
    advance();
    ExprPtr target = parse_assign_target(true, {});
    if (skip_op("=")) {
      auto s = std::make_unique<Stmt>(SK::Set, pos);
      s->target = std::move(target);
      s->expr = parse_tuple(true, {});
      expect_block_end();
      return s;
    }
    if (target->kind != EK::Name) error("block set needs a plain name", pos);
    auto s = std::make_unique<Stmt>(SK::SetBlock, pos);
    s->target = std::move(target);
    s->expr = parse_filter_chain();
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = subparse({"endset"});
    loop_depth_ = saved;
    advance();
    expect_block_end();
    return s;
  }

  // Optional "|f(args)|g" chain applied to a Placeholder (the block's rendered text).
  ExprPtr parse_filter_chain() {
    ExprPtr node = std::make_unique<Expr>(EK::Placeholder, cur().pos);
    while (is_op("|")) node = parse_filter(std::move(node));
    return node;
  }

  void parse_params(std::vector<std::pair<std::string, ExprPtr>>& params) {
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      std::string n = expect_name();
      ExprPtr def;
      if (skip_op("=")) def = parse_expression(true);
      else if (!params.empty() && params.back().second) error("non-default argument follows default argument", cur().pos);
      params.emplace_back(n, std::move(def));
    }
    advance();
  }

  StmtPtr parse_macro() {
    auto s = std::make_unique<Stmt>(SK::Macro, cur().pos);
    advance();
    s->text = expect_name();
    parse_params(s->params);
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = subparse({"endmacro"});
    loop_depth_ = saved;
    advance();
    if (cur().type == Tok::Name && cur().value == s->text) advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_call_block() {
    auto s = std::make_unique<Stmt>(SK::CallBlock, cur().pos);
    advance();
    if (is_op("(")) parse_params(s->params);
    s->expr = parse_expression(true);
    if (s->expr->kind != EK::Call) error("expected call", s->expr->pos);
    expect_block_end();
    int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = subparse({"endcall"});
    loop_depth_ = saved;
    advance();
    expect_block_end();
    return s;
  }

  StmtPtr parse_filter_block() {
    auto s = std::make_unique<Stmt>(SK::FilterBlock, cur().pos);
    advance();
    ExprPtr node = std::make_unique<Expr>(EK::Placeholder, cur().pos);
    do {
      node = parse_filter(std::move(node), /*pipe=*/false);
    } while (is_op("|") && (advance(), true));
    s->expr = std::move(node);
    expect_block_end();
    s->body = subparse({"endfilter"});
    advance();
    expect_block_end();
    return s;
  }

  // ---- expressions ----
  bool is_tuple_end(std::initializer_list<const char*> extra) const {
    if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || is_op(")")) return true;
    for (const char* n : extra)
      if (is_name(n)) return true;
    return false;
  }

  ExprPtr parse_tuple(bool with_condexpr, std::initializer_list<const char*> extra, bool explicit_parens = false) {
    size_t pos = cur().pos;
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra)) break;
      args.push_back(parse_expression(with_condexpr));
      if (is_op(",")) is_tuple = true;
      else break;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) error("expected an expression, got " + describe(cur()), cur().pos);
    }
    auto t = std::make_unique<Expr>(EK::Tuple, pos);
    t->children = std::move(args);
    return t;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard g(*this, cur().pos);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr e1 = parse_or();
    while (is_name("if")) {
      size_t pos = cur().pos;
      advance();
      ExprPtr cond = parse_or();
      ExprPtr e3;
      if (skip_name("else")) e3 = parse_condexpr();
      auto c = std::make_unique<Expr>(EK::Cond, pos);
      c->children.push_back(std::move(cond));
      c->children.push_back(std::move(e1));
      c->children.push_back(std::move(e3));
      e1 = std::move(c);
    }
    return e1;
  }

  // Records the node height and rejects pathologically deep expression trees (no deep recursion later).
  ExprPtr checked(ExprPtr e) {
    int h = 0;
    for (auto& c : e->children) if (c) h = std::max(h, c->height);
    for (auto& c : e->args) if (c) h = std::max(h, c->height);
    for (auto& c : e->kwargs) if (c.second) h = std::max(h, c.second->height);
    e->height = h + 1;
    if (e->height > kMaxDepth) error("expression nested too deeply", e->pos);
    return e;
  }

  ExprPtr binary(EK k, const std::string& op, ExprPtr l, ExprPtr r, size_t pos) {
    auto e = std::make_unique<Expr>(k, pos);
    e->name = op;
    e->children.push_back(std::move(l));
    e->children.push_back(std::move(r));
    return checked(std::move(e));
  }

  ExprPtr parse_or() {
    ExprPtr l = parse_and();
    while (is_name("or")) {
      size_t pos = cur().pos;
      advance();
      l = binary(EK::Or, "or", std::move(l), parse_and(), pos);
    }
    return l;
  }
  ExprPtr parse_and() {
    ExprPtr l = parse_not();
    while (is_name("and")) {
      size_t pos = cur().pos;
      advance();
      l = binary(EK::And, "and", std::move(l), parse_not(), pos);
    }
    return l;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard g(*this, cur().pos);
      auto e = std::make_unique<Expr>(EK::Not, cur().pos);
      advance();
      e->children.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    size_t pos = cur().pos;
    ExprPtr first = parse_math1();
    auto cmp = std::make_unique<Expr>(EK::Compare, pos);
    while (true) {
      if (cur().type == Tok::Op && (cur().value == "==" || cur().value == "!=" || cur().value == "<" ||
                                    cur().value == "<=" || cur().value == ">" || cur().value == ">=")) {
        cmp->ops.push_back(cur().value);
        advance();
      } else if (is_name("in")) {
        cmp->ops.push_back("in");
        advance();
      } else if (is_name("not") && peek().type == Tok::Name && peek().value == "in") {
        cmp->ops.push_back("notin");
        advance();
        advance();
      } else break;
      cmp->children.push_back(parse_math1());
    }
    if (cmp->ops.empty()) return first;
    cmp->children.insert(cmp->children.begin(), std::move(first));
    return checked(std::move(cmp));
  }
  ExprPtr parse_math1() {
    ExprPtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().value;
      size_t pos = cur().pos;
      advance();
      l = binary(EK::Binary, op, std::move(l), parse_concat(), pos);
    }
    return l;
  }
  ExprPtr parse_concat() {
    ExprPtr l = parse_math2();
    while (is_op("~")) {
      size_t pos = cur().pos;
      advance();
      l = binary(EK::Binary, "~", std::move(l), parse_math2(), pos);
    }
    return l;
  }
  ExprPtr parse_math2() {
    ExprPtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().value;
      size_t pos = cur().pos;
      advance();
      l = binary(EK::Binary, op, std::move(l), parse_pow(), pos);
    }
    return l;
  }
  ExprPtr parse_pow() {
    ExprPtr l = parse_unary(true);
    while (is_op("**")) {
      size_t pos = cur().pos;
      advance();
      l = binary(EK::Binary, "**", std::move(l), parse_unary(true), pos);
    }
    return l;
  }
  ExprPtr parse_unary(bool with_filter) {
    DepthGuard g(*this, cur().pos);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      auto e = std::make_unique<Expr>(is_op("-") ? EK::Neg : EK::Pos, cur().pos);
      advance();
      e->children.push_back(parse_unary(false));
      node = std::move(e);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    size_t pos = t.pos;
    if (t.type == Tok::Name) {
      auto e = std::make_unique<Expr>(EK::Const, pos);
      if (t.value == "true" || t.value == "True") e->value = Value::boolean(true);
      else if (t.value == "false" || t.value == "False") e->value = Value::boolean(false);
      else if (t.value == "none" || t.value == "None") e->value = Value::none();
      else {
        e->kind = EK::Name;
        e->name = t.value;
      }
      advance();
      return e;
    }
    if (t.type == Tok::String) {
      std::string s;
      while (cur().type == Tok::String) {
        s += cur().value;
        advance();
      }
      auto e = std::make_unique<Expr>(EK::Const, pos);
      e->value = Value::string(std::move(s));
      return e;
    }
    if (t.type == Tok::Int || t.type == Tok::Float) {
      auto e = std::make_unique<Expr>(EK::Const, pos);
      try {
        if (t.type == Tok::Int) {
          size_t used = 0;
          long long v = std::stoll(t.value, &used);
          e->value = Value::integer(v);
        } else {
          e->value = Value::number(std::stod(t.value));
        }
      } catch (const std::exception&) {
        error("number out of range", pos);
      }
      advance();
      return e;
    }
    if (is_op("(")) {
      advance();
      ExprPtr e = parse_tuple(true, {}, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      auto e = std::make_unique<Expr>(EK::List, pos);
      advance();
      while (!is_op("]")) {
        if (!e->children.empty()) expect_op(",");
        if (is_op("]")) break;
        e->children.push_back(parse_expression(true));
      }
      advance();
      return e;
    }
    if (is_op("{")) {
      auto e = std::make_unique<Expr>(EK::Dict, pos);
      advance();
      while (!is_op("}")) {
        if (!e->children.empty()) expect_op(",");
        if (is_op("}")) break;
        e->children.push_back(parse_expression(true));
        expect_op(":");
        e->children.push_back(parse_expression(true));
      }
      advance();
      return e;
    }
    error("unexpected " + describe(t), pos);
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".")) {
        size_t pos = cur().pos;
        advance();
        if (cur().type == Tok::Name) {
          auto e = std::make_unique<Expr>(EK::GetAttr, pos);
          e->name = cur().value;
          advance();
          e->children.push_back(std::move(node));
          node = checked(std::move(e));
        } else if (cur().type == Tok::Int) {
          auto e = std::make_unique<Expr>(EK::GetItem, pos);
          auto idx = std::make_unique<Expr>(EK::Const, cur().pos);
          try { idx->value = Value::integer(std::stoll(cur().value)); } catch (const std::exception&) { error("number out of range", cur().pos); }
          advance();
          e->children.push_back(std::move(node));
          e->children.push_back(std::move(idx));
          node = checked(std::move(e));
        } else {
          error("expected name or number after '.'", cur().pos);
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    size_t pos = cur().pos;
    advance();  // [
    std::vector<ExprPtr> parts;
    bool is_slice = false;
    ExprPtr slice_parts[3];
    int idx = 0;
    if (!is_op(":")) slice_parts[0] = parse_expression(true);
    if (is_op(":")) {
      is_slice = true;
      advance();
      idx = 1;
      if (!is_op("]") && !is_op(":") && !is_op(",")) slice_parts[1] = parse_expression(true);
      if (is_op(":")) {
        advance();
        if (!is_op("]") && !is_op(",")) slice_parts[2] = parse_expression(true);
      }
    }
    (void)idx;
    if (is_op(",")) error("tuple subscripts are not supported", cur().pos);
    expect_op("]");
    if (is_slice) {
      auto e = std::make_unique<Expr>(EK::Slice, pos);
      e->children.push_back(std::move(node));
      for (auto& p : slice_parts) e->children.push_back(std::move(p));
      return checked(std::move(e));
    }
    auto e = std::make_unique<Expr>(EK::GetItem, pos);
    e->children.push_back(std::move(node));
    e->children.push_back(std::move(slice_parts[0]));
    return checked(std::move(e));
  }

  void parse_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (!e.args.empty() || !e.kwargs.empty()) expect_op(",");
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) error("*args / **kwargs in calls are not supported", cur().pos);
      if (cur().type == Tok::Name && peek().type == Tok::Op && peek().value == "=") {
        std::string key = cur().value;
        advance();
        advance();
        e.kwargs.emplace_back(key, parse_expression(true));
      } else {
        if (!e.kwargs.empty()) error("positional argument follows keyword argument", cur().pos);
        e.args.push_back(parse_expression(true));
      }
    }
    advance();
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = std::make_unique<Expr>(EK::Call, cur().pos);
    e->children.push_back(std::move(node));
    parse_args(*e);
    return checked(std::move(e));
  }

  std::string parse_dotted_name() {
    std::string n = expect_name();
    while (is_op(".") && peek().type == Tok::Name) {
      advance();
      n += "." + cur().value;
      advance();
    }
    return n;
  }

  ExprPtr parse_filter(ExprPtr node, bool pipe = true) {
    size_t pos = cur().pos;
    if (pipe) expect_op("|");
    auto e = std::make_unique<Expr>(EK::Filter, pos);
    e->name = parse_dotted_name();
    e->children.push_back(std::move(node));
    if (is_op("(")) parse_args(*e);
    if (!has_filter(e->name)) error("no filter named '" + e->name + "'", pos);
    return checked(std::move(e));
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) node = parse_filter(std::move(node));
      else if (is_name("is")) node = parse_test(std::move(node));
      else if (is_op("(")) node = parse_call(std::move(node));
      else return node;
    }
  }

  ExprPtr parse_test(ExprPtr node) {
    size_t pos = cur().pos;
    advance();  // is
    auto e = std::make_unique<Expr>(EK::Test, pos);
    if (skip_name("not")) e->negated = true;
    e->name = parse_dotted_name();
    e->children.push_back(std::move(node));
    if (is_op("(")) {
      parse_args(*e);
    } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                cur().type == Tok::Float || is_op("(") || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) error("you cannot chain multiple tests with is", cur().pos);
      ExprPtr arg = parse_primary();
      e->args.push_back(parse_postfix(std::move(arg)));
    }
    if (!has_test(e->name)) error("no test named '" + e->name + "'", pos);
    return checked(std::move(e));
  }
};

}  // namespace

Body parse_template(const std::string& source, const LexOptions& opts) {
  Parser p(source, tokenize(source, opts));
  return p.parse_all();
}

}  // namespace tessera::lm::jinja
