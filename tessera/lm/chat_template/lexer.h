// Jinja lexer: splits template source into data and tag tokens, applying trim_blocks, lstrip_blocks and -/+ control.
#pragma once

#include <string>
#include <vector>

namespace tessera::lm::jinja {

enum class Tok { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
  Tok type;
  std::string value;  // data text, name, decoded string literal, number text, operator
  size_t pos;         // offset in the normalized source
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Normalizes newlines (\r\n, \r -> \n) and drops one trailing newline unless keep_trailing_newline.
std::string normalize_source(const std::string& source, const LexOptions& opts);

// Tokenizes normalized source. Throws std::runtime_error "[chat_template] ... at line L, column C" on errors.
std::vector<Token> tokenize(const std::string& source, const LexOptions& opts);

// "line L, column C" for an offset in source.
std::string describe_position(const std::string& source, size_t pos);

}  // namespace tessera::lm::jinja
