// Jinja lexer following jinja2's rules (root/comment/block/variable/raw states, lstrip_blocks, trim_blocks).
#include "tessera/lm/chat_template/lexer.h"

#include <cctype>
#include <cstdint>
#include <stdexcept>

namespace tessera::lm::jinja {

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_name_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool is_name_char(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

[[noreturn]] void lex_error(const std::string& src, size_t pos, const std::string& msg) {
  throw std::runtime_error("[chat_template] syntax error: " + msg + " at " + describe_position(src, pos));
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) out += char(cp);
  else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
  else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
  }
}

// Python "unicode-escape" decoding of a string literal body.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t k = 0; k < s.size(); ++k) {
    char c = s[k];
    if (c != '\\' || k + 1 >= s.size()) { out += c; continue; }
    char e = s[++k];
    auto hex = [&](size_t n) -> bool {
      uint32_t cp = 0;
      for (size_t j = 1; j <= n; ++j) {
        if (k + j >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[k + j]))) return false;
        char h = s[k + j];
        cp = cp * 16 + uint32_t(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
      }
      if (cp > 0x10FFFF) return false;
      append_utf8(out, cp);
      k += n;
      return true;
    };
    switch (e) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': if (!hex(2)) throw std::runtime_error("[chat_template] syntax error: truncated \\xXX escape"); break;
      case 'u': if (!hex(4)) throw std::runtime_error("[chat_template] syntax error: truncated \\uXXXX escape"); break;
      case 'U': if (!hex(8)) throw std::runtime_error("[chat_template] syntax error: truncated \\UXXXXXXXX escape"); break;
      default:
        if (e >= '0' && e <= '7') {
          uint32_t cp = uint32_t(e - '0');
          for (int j = 0; j < 2 && k + 1 < s.size() && s[k + 1] >= '0' && s[k + 1] <= '7'; ++j) cp = cp * 8 + uint32_t(s[++k] - '0');
          append_utf8(out, cp);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

const char* kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")",
                      "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

}  // namespace

std::string describe_position(const std::string& source, size_t pos) {
  size_t line = 1, col = 1;
  for (size_t k = 0; k < pos && k < source.size(); ++k) {
    if (source[k] == '\n') { ++line; col = 1; } else ++col;
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

std::string normalize_source(const std::string& source, const LexOptions& opts) {
  std::string out;
  out.reserve(source.size());
  for (size_t k = 0; k < source.size(); ++k) {
    if (source[k] == '\r') {
      out += '\n';
      if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
    } else out += source[k];
  }
  if (!opts.keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::vector<Token> tokenize(const std::string& src, const LexOptions& opts) {
  std::vector<Token> toks;
  size_t pos = 0, n = src.size();
  bool line_starting = true;

  // Emits data text before a tag at `tag_pos` with sign `sign`, applying '-' stripping or lstrip_blocks.
  auto emit_data = [&](size_t start, size_t end, char sign, bool is_var) {
    std::string text = src.substr(start, end - start);
    if (sign == '-') {
      size_t e = text.size();
      while (e > 0 && is_ws(text[e - 1])) --e;
      text.resize(e);
    } else if (sign != '+' && opts.lstrip_blocks && !is_var) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting) {
        bool all_ws = l_pos < text.size();
        for (size_t k = l_pos; k < text.size(); ++k)
          if (!is_ws(text[k])) { all_ws = false; break; }
        if (all_ws) text.resize(l_pos);
      }
    }
    if (!text.empty()) toks.push_back({Tok::Data, text, start});
  };
  // Matches a block end at p: "+%}", "-%}\s*", "%}\n?". Returns end offset or npos.
  auto match_block_end = [&](size_t p) -> size_t {
    if (src.compare(p, 3, "+%}") == 0) return p + 3;
    if (src.compare(p, 3, "-%}") == 0) {
      p += 3;
      while (p < n && is_ws(src[p])) ++p;
      return p;
    }
    if (src.compare(p, 2, "%}") == 0) {
      p += 2;
      if (opts.trim_blocks && p < n && src[p] == '\n') ++p;
      return p;
    }
    return std::string::npos;
  };

  while (pos < n) {
    size_t start = src.find('{', pos);
    while (start != std::string::npos && start + 1 < n && src[start + 1] != '{' && src[start + 1] != '%' &&
           src[start + 1] != '#')
      start = src.find('{', start + 1);
    if (start == std::string::npos || start + 1 >= n) {
      toks.push_back({Tok::Data, src.substr(pos), pos});
      break;
    }
    char kind = src[start + 1];
    char sign = (start + 2 < n && (src[start + 2] == '-' || src[start + 2] == '+')) ? src[start + 2] : 0;
    size_t after = start + 2 + (sign ? 1 : 0);

    // raw block: {%[-+]? raw [-]%}
    if (kind == '%') {
      size_t p = after;
      while (p < n && is_ws(src[p])) ++p;
      if (src.compare(p, 3, "raw") == 0 && !(p + 3 < n && is_name_char(static_cast<unsigned char>(src[p + 3])))) {
        size_t q = p + 3;
        while (q < n && is_ws(src[q])) ++q;
        size_t body = std::string::npos;
        if (src.compare(q, 3, "-%}") == 0) {
          body = q + 3;
          while (body < n && is_ws(src[body])) ++body;
        } else if (src.compare(q, 2, "%}") == 0) {
          body = q + 2;
        }
        if (body != std::string::npos) {
          emit_data(pos, start, sign, false);
          // Find {%[-+]?\s*endraw\s*(end)
          size_t scan = body;
          while (true) {
            size_t t = src.find("{%", scan);
            if (t == std::string::npos) lex_error(src, start, "missing end of raw directive");
            size_t a = t + 2;
            char esign = (a < n && (src[a] == '-' || src[a] == '+')) ? src[a] : 0;
            if (esign) ++a;
            while (a < n && is_ws(src[a])) ++a;
            if (src.compare(a, 6, "endraw") == 0) {
              size_t b = a + 6;
              while (b < n && is_ws(src[b])) ++b;
              size_t e = match_block_end(b);
              if (e != std::string::npos) {
                line_starting = src[body - 1] == '\n';
                emit_data(body, t, esign, false);
                pos = e;
                line_starting = src[e - 1] == '\n';
                break;
              }
            }
            scan = t + 2;
          }
          continue;
        }
      }
    }

    emit_data(pos, start, sign, kind == '{');
    if (kind == '#') {
      // comment: find first "+#}", "-#}\s*" or "#}\n?"
      size_t p = start + 2;
      size_t e = std::string::npos;
      for (; p + 1 < n; ++p) {
        if (src.compare(p, 3, "+#}") == 0) { e = p + 3; break; }
        if (src.compare(p, 3, "-#}") == 0) {
          e = p + 3;
          while (e < n && is_ws(src[e])) ++e;
          break;
        }
        if (src.compare(p, 2, "#}") == 0) {
          e = p + 2;
          if (opts.trim_blocks && e < n && src[e] == '\n') ++e;
          break;
        }
      }
      if (e == std::string::npos) lex_error(src, start, "missing end of comment tag");
      pos = e;
      line_starting = src[e - 1] == '\n';
      continue;
    }

    bool is_var = kind == '{';
    toks.push_back({is_var ? Tok::VarBegin : Tok::BlockBegin, "", start});
    size_t p = after;
    std::vector<char> balance;
    bool closed = false;
    while (p < n) {
      if (is_ws(src[p])) { ++p; continue; }
      if (balance.empty()) {
        if (is_var) {
          if (src.compare(p, 3, "-}}") == 0) {
            toks.push_back({Tok::VarEnd, "", p});
            p += 3;
            while (p < n && is_ws(src[p])) ++p;
            closed = true;
            break;
          }
          if (src.compare(p, 2, "}}") == 0) {
            toks.push_back({Tok::VarEnd, "", p});
            p += 2;
            closed = true;
            break;
          }
        } else {
          size_t e = match_block_end(p);
          if (e != std::string::npos) {
            toks.push_back({Tok::BlockEnd, "", p});
            p = e;
            closed = true;
            break;
          }
        }
      }
      unsigned char c = static_cast<unsigned char>(src[p]);
      // float: digits with '.' digits or exponent (not preceded by '.')
      if (std::isdigit(c)) {
        size_t q = p;
        auto digits = [&](size_t& r) {
          size_t s0 = r;
          while (r < n && (std::isdigit(static_cast<unsigned char>(src[r])) ||
                           (src[r] == '_' && r + 1 < n && std::isdigit(static_cast<unsigned char>(src[r + 1])) && r > s0)))
            ++r;
          return r > s0;
        };
        digits(q);
        bool is_float = false;
        bool after_dot = p > 0 && src[p - 1] == '.';
        size_t r = q;
        if (!after_dot && r < n && src[r] == '.' && r + 1 < n && std::isdigit(static_cast<unsigned char>(src[r + 1]))) {
          ++r;
          digits(r);
          is_float = true;
          q = r;
        }
        if (!after_dot && q < n && (src[q] == 'e' || src[q] == 'E')) {
          size_t s2 = q + 1;
          if (s2 < n && (src[s2] == '+' || src[s2] == '-')) ++s2;
          if (s2 < n && std::isdigit(static_cast<unsigned char>(src[s2]))) {
            digits(s2);
            is_float = true;
            q = s2;
          }
        }
        std::string text;
        for (size_t k = p; k < q; ++k)
          if (src[k] != '_') text += src[k];
        toks.push_back({is_float ? Tok::Float : Tok::Int, text, p});
        p = q;
        continue;
      }
      if (is_name_start(c)) {
        size_t q = p;
        while (q < n && is_name_char(static_cast<unsigned char>(src[q]))) ++q;
        toks.push_back({Tok::Name, src.substr(p, q - p), p});
        p = q;
        continue;
      }
      if (c == '\'' || c == '"') {
        size_t q = p + 1;
        while (q < n && src[q] != char(c)) {
          if (src[q] == '\\') ++q;
          ++q;
        }
        if (q >= n) lex_error(src, p, "unterminated string");
        toks.push_back({Tok::String, unescape(src.substr(p + 1, q - p - 1)), p});
        p = q + 1;
        continue;
      }
      bool matched = false;
      for (const char* op : kOps) {
        size_t len = std::char_traits<char>::length(op);
        if (src.compare(p, len, op) == 0) {
          std::string o(op);
          if (o == "(" || o == "[" || o == "{") balance.push_back(o == "(" ? ')' : o == "[" ? ']' : '}');
          else if (o == ")" || o == "]" || o == "}") {
            if (balance.empty()) lex_error(src, p, "unexpected '" + o + "'");
            if (balance.back() != o[0]) lex_error(src, p, "unexpected '" + o + "', expected '" + std::string(1, balance.back()) + "'");
            balance.pop_back();
          }
          toks.push_back({Tok::Op, o, p});
          p += len;
          matched = true;
          break;
        }
      }
      if (!matched) lex_error(src, p, std::string("unexpected char '") + char(c) + "'");
    }
    if (!closed) lex_error(src, start, is_var ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'");
    pos = p;
    line_starting = p > 0 && src[p - 1] == '\n';
  }
  toks.push_back({Tok::Eof, "", n});
  return toks;
}

}  // namespace tessera::lm::jinja
