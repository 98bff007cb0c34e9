// A compiled PCRE2 regex (UTF + UCP, JIT) for pre-tokenizer patterns, matching as the onig regexes of `tokenizers`.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::lm::tok {

class Regex {
 public:
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-overlapping matches as [begin, end) byte ranges, left to right. text must be valid UTF-8.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

// Escapes a literal string so it can be used as a pattern.
std::string regex_escape(std::string_view literal);

}  // namespace tessera::lm::tok
