// Jinja parser: token stream -> statement tree, with positioned "[chat_template]" syntax errors.
#pragma once

#include <string>

#include "tessera/lm/chat_template/ast.h"
#include "tessera/lm/chat_template/lexer.h"

namespace tessera::lm::jinja {

// Parses normalized template source into a body of statements.
Body parse_template(const std::string& source, const LexOptions& opts = {});

}  // namespace tessera::lm::jinja
