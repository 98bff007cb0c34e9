// Jinja syntax tree: expression and statement nodes produced by the parser and walked by the evaluator.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tessera/lm/chat_template/value.h"

namespace tessera::lm::jinja {

enum class EK {
  Const, Name, GetAttr, GetItem, Slice, Neg, Pos, Not, Binary, And, Or, Compare, Cond,
  Filter, Test, Call, List, Tuple, Dict, Placeholder
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  EK kind;
  size_t pos = 0;
  Value value;                                          // Const
  std::string name;                                     // Name, attribute, filter/test name, binary operator
  std::vector<ExprPtr> children;                        // operands; Slice: obj, start, stop, step (may be null)
  std::vector<ExprPtr> args;                            // call / filter / test positional arguments
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // call / filter / test keyword arguments
  std::vector<std::string> ops;                         // Compare operators ("==", "<", "in", "notin", ...)
  bool negated = false;                                 // Test: "is not"
  int height = 1;                                       // tree height, bounded by the parser
  Expr(EK k, size_t p) : kind(k), pos(p) {}
};

enum class SK { Text, Output, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, Break, Continue, Body };

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  SK kind;
  size_t pos = 0;
  std::string text;                                    // Text data; Macro name
  ExprPtr expr;                                        // Output value, Set value, For iterable, CallBlock call,
                                                       // SetBlock/FilterBlock filter chain on a Placeholder
  ExprPtr target;                                      // Set / SetBlock / For target (Name, Tuple or GetAttr)
  ExprPtr cond;                                        // For filter condition
  std::vector<std::pair<ExprPtr, Body>> branches;      // If: (condition or null for else, body)
  Body body, else_body;                                // For / Macro / SetBlock / FilterBlock / CallBlock / Body
  std::vector<std::pair<std::string, ExprPtr>> params; // Macro / CallBlock parameters with defaults
  Stmt(SK k, size_t p) : kind(k), pos(p) {}
};

}  // namespace tessera::lm::jinja
