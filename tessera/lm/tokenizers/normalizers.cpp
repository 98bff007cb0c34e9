// Hugging Face normalizers over plain UTF-8 strings (offsets are not tracked: tessera only needs ids).
#include "tessera/lm/tokenizers/normalizers.h"

#include <utf8proc.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "tessera/lm/tokenizers/precompiled_charsmap.h"
#include "tessera/lm/tokenizers/regex.h"
#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm::tok {

using json = nlohmann::json;

std::string unicode_normalize(const std::string& s, const std::string& form) {
  bool ascii = true;
  for (unsigned char c : s) {
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s;
  int opts = UTF8PROC_STABLE;
  if (form == "NFC") opts |= UTF8PROC_COMPOSE;
  else if (form == "NFD") opts |= UTF8PROC_DECOMPOSE;
  else if (form == "NFKC") opts |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  else if (form == "NFKD") opts |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  else throw std::invalid_argument("[tokenizer] unknown normal form " + form);
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                        &out, static_cast<utf8proc_option_t>(opts));
  if (n < 0) return s;  // invalid input: leave it (callers repair UTF-8 before normalizing)
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

namespace {

class UnicodeNorm : public Normalizer {
 public:
  explicit UnicodeNorm(std::string form) : form_(std::move(form)) {}
  void normalize(std::string& s) const override { s = unicode_normalize(s, form_); }

 private:
  std::string form_;
};

class Lowercase : public Normalizer {
 public:
  void normalize(std::string& s) const override {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      size_t n;
      char32_t c = utf8_decode(s, i, n);
      utf8_append(out, c < 0x80 ? static_cast<char32_t>((c >= 'A' && c <= 'Z') ? c + 32 : c)
                                : static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
      i += n;
    }
    s = std::move(out);
  }
};

class Replace : public Normalizer {
 public:
  Replace(const json& pattern, std::string content) : content_(std::move(content)) {
    if (pattern.contains("String")) {
      literal_ = pattern["String"].get<std::string>();
    } else if (pattern.contains("Regex")) {
      regex_ = std::make_unique<Regex>(pattern["Regex"].get<std::string>());
    } else {
      throw std::invalid_argument("[tokenizer] Replace normalizer needs a String or Regex pattern");
    }
  }
  void normalize(std::string& s) const override {
    std::string out;
    if (regex_) {
      size_t last = 0;
      for (auto [b, e] : regex_->find_all(s)) {
        out.append(s, last, b - last);
        out += content_;
        last = e;
      }
      out.append(s, last, std::string::npos);
    } else {
      if (literal_.empty()) return;
      size_t last = 0, pos;
      while ((pos = s.find(literal_, last)) != std::string::npos) {
        out.append(s, last, pos - last);
        out += content_;
        last = pos + literal_.size();
      }
      out.append(s, last, std::string::npos);
    }
    s = std::move(out);
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> regex_;
  std::string content_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : p_(std::move(p)) {}
  void normalize(std::string& s) const override {
    if (!s.empty()) s = p_ + s;
  }

 private:
  std::string p_;
};

// Strips Unicode whitespace on the left and/or right.
class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& s) const override {
    size_t b = 0, e = s.size();
    if (left_) {
      while (b < e) {
        size_t n;
        char32_t c = utf8_decode(s, b, n);
        if (!is_unicode_whitespace(c)) break;
        b += n;
      }
    }
    if (right_) {
      while (e > b) {
        size_t k = e - 1;
        while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t n;
        char32_t c = utf8_decode(s, k, n);
        if (!is_unicode_whitespace(c)) break;
        e = k;
      }
    }
    s = s.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

// Removes combining marks (category Mn), as StripAccents does after NFD.
class StripAccents : public Normalizer {
 public:
  void normalize(std::string& s) const override {
    std::string out;
    for (size_t i = 0; i < s.size();) {
      size_t n;
      char32_t c = utf8_decode(s, i, n);
      if (utf8proc_category(static_cast<utf8proc_int32_t>(c)) != UTF8PROC_CATEGORY_MN) out.append(s, i, n);
      i += n;
    }
    s = std::move(out);
  }
};

// BERT: clean control characters, pad CJK ideographs with spaces, optional accent stripping and lowercasing.
class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean, bool cjk, bool strip, bool lower) : clean_(clean), cjk_(cjk), strip_(strip), lower_(lower) {}
  void normalize(std::string& s) const override {
    std::string out;
    for (size_t i = 0; i < s.size();) {
      size_t n;
      char32_t c = utf8_decode(s, i, n);
      i += n;
      if (clean_) {
        if (c == 0 || c == 0xFFFD) continue;
        auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
        bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || cat == UTF8PROC_CATEGORY_ZS;
        bool ctrl = !ws && (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CN ||
                            cat == UTF8PROC_CATEGORY_CO);
        if (ctrl) continue;
        if (ws) c = ' ';
      }
      bool is_cjk = (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
                    (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
                    (c >= 0x2B920 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
      if (cjk_ && is_cjk) {
        out += ' ';
        utf8_append(out, c);
        out += ' ';
      } else {
        utf8_append(out, c);
      }
    }
    if (strip_) {
      out = unicode_normalize(out, "NFD");
      StripAccents().normalize(out);
    }
    if (lower_) Lowercase().normalize(out);
    s = std::move(out);
  }

 private:
  bool clean_, cjk_, strip_, lower_;
};

class PrecompiledNorm : public Normalizer {
 public:
  explicit PrecompiledNorm(std::string blob) : map_(std::move(blob)) {}
  void normalize(std::string& s) const override { s = map_.normalize(s); }

 private:
  PrecompiledCharsmap map_;
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> items) : items_(std::move(items)) {}
  void normalize(std::string& s) const override {
    for (const auto& n : items_) n->normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> items_;
};

}  // namespace

std::unique_ptr<Normalizer> normalizer_from_json(const json& j) {
  if (j.is_null()) return nullptr;
  std::string type = j.value("type", "");
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") return std::make_unique<UnicodeNorm>(type);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Replace") return std::make_unique<Replace>(j.at("pattern"), j.at("content").get<std::string>());
  if (type == "Prepend") return std::make_unique<Prepend>(j.at("prepend").get<std::string>());
  if (type == "Strip") return std::make_unique<Strip>(j.value("strip_left", true), j.value("strip_right", true));
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "BertNormalizer") {
    bool lower = j.value("lowercase", true);
    bool strip = j.contains("strip_accents") && !j["strip_accents"].is_null() ? j["strip_accents"].get<bool>() : lower;
    return std::make_unique<BertNormalizer>(j.value("clean_text", true), j.value("handle_chinese_chars", true), strip,
                                            lower);
  }
  if (type == "Precompiled") {
    const auto& v = j.at("precompiled_charsmap");
    if (v.is_null()) return nullptr;
    return std::make_unique<PrecompiledNorm>(base64_decode(v.get<std::string>()));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> items;
    for (const auto& e : j.at("normalizers")) {
      if (auto n = normalizer_from_json(e)) items.push_back(std::move(n));
    }
    return std::make_unique<Sequence>(std::move(items));
  }
  throw std::invalid_argument("[tokenizer] unsupported normalizer type '" + type + "'");
}

}  // namespace tessera::lm::tok
