// A compiled jinja template (trim_blocks + lstrip_blocks, as transformers configures it): parse once, render many.
#pragma once

#include <ctime>
#include <memory>
#include <string>

#include "tessera/lm/chat_template/ast.h"
#include "tessera/lm/chat_template/evaluator.h"

namespace tessera::lm::jinja {

class Template {
 public:
  // Parses the source; throws std::runtime_error "[chat_template] syntax error: ... at line L, column C".
  explicit Template(const std::string& source, Limits limits = {});
  // Renders with `context` (a dict value) as the global variables; `now` feeds strftime_now.
  std::string render(const Value& context, const std::tm& now) const;

 private:
  std::string source_;
  std::shared_ptr<const Body> body_;
  Limits limits_;
};

}  // namespace tessera::lm::jinja
