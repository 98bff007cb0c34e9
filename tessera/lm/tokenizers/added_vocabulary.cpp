// Added-token matching over raw or normalized text.
#include "tessera/lm/tokenizers/added_vocabulary.h"

#include <utf8proc.h>

#include <algorithm>

#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm::tok {

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const auto& t = tokens_[i];
    by_id_[t.id] = i;
    by_content_[t.content] = i;
    if (t.normalized) has_normalized_ = true;
    if (!t.content.empty()) by_first_byte_[static_cast<unsigned char>(t.content[0])].push_back(i);
  }
  for (auto& v : by_first_byte_) {
    std::stable_sort(v.begin(), v.end(), [&](size_t a, size_t b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
  }
}

const AddedToken* AddedVocabulary::by_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocabulary::by_content(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

namespace {
bool is_word_char(char32_t c) {
  if (c == '_') return true;
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) || (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}
char32_t char_before(std::string_view s, size_t i) {
  size_t k = i - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  size_t n;
  return utf8_decode(s, k, n);
}
}  // namespace

std::vector<Segment> AddedVocabulary::split(std::string_view text, bool normalized, bool skip_special) const {
  std::vector<Segment> out;
  size_t text_start = 0;  // start of the pending plain text
  for (size_t i = 0; i < text.size();) {
    const auto& cands = by_first_byte_[static_cast<unsigned char>(text[i])];
    const AddedToken* hit = nullptr;
    for (size_t idx : cands) {
      const auto& t = tokens_[idx];
      if (t.normalized != normalized || (skip_special && t.special)) continue;
      if (text.compare(i, t.content.size(), t.content) == 0) {
        hit = &t;
        break;
      }
    }
    if (!hit) {
      i += 1;
      continue;
    }
    size_t b = i, e = i + hit->content.size();
    if (hit->single_word) {
      size_t n;
      bool ok_left = b == 0 || !is_word_char(char_before(text, b));
      bool ok_right = e >= text.size() || !is_word_char(utf8_decode(text, e, n));
      if (!ok_left || !ok_right) {
        i = e;
        continue;
      }
    }
    if (hit->lstrip) {
      while (b > text_start) {
        size_t k = b - 1;
        while (k > text_start && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) --k;
        size_t n;
        if (!is_unicode_whitespace(utf8_decode(text, k, n))) break;
        b = k;
      }
    }
    if (hit->rstrip) {
      while (e < text.size()) {
        size_t n;
        if (!is_unicode_whitespace(utf8_decode(text, e, n))) break;
        e += n;
      }
    }
    if (b > text_start) out.push_back({text_start, b, -1});
    out.push_back({b, e, hit->id});
    text_start = i = e;
  }
  if (text_start < text.size()) out.push_back({text_start, text.size(), -1});
  return out;
}

}  // namespace tessera::lm::tok
