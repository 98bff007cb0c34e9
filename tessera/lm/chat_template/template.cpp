// Compiled jinja template: parse at construction, render with fresh scopes and globals each call.
#include "tessera/lm/chat_template/template.h"

#include "tessera/lm/chat_template/builtins.h"
#include "tessera/lm/chat_template/parser.h"

namespace tessera::lm::jinja {

Template::Template(const std::string& source, Limits limits) : limits_(limits) {
  LexOptions opts;
  source_ = normalize_source(source, opts);
  body_ = std::make_shared<const Body>(parse_template(source_, opts));
}

std::string Template::render(const Value& context, const std::tm& now) const {
  auto globals = std::make_shared<Frame>();
  install_globals(*globals);
  if (context.is_dict())
    for (const auto& kv : context.dict->items) (*globals)[kv.first] = kv.second;
  Evaluator ev(source_, globals, limits_);
  ev.now = now;
  return ev.render(*body_);
}

}  // namespace tessera::lm::jinja
