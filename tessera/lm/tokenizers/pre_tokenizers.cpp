// Pre-tokenizers over plain strings, following the `tokenizers` split behaviours.
#include "tessera/lm/tokenizers/pre_tokenizers.h"

#include <utf8proc.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tessera/lm/tokenizers/regex.h"
#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm::tok {

using json = nlohmann::json;

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string byte_level_encode(const std::string& s) {
  const auto& table = byte_to_unicode();
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) out += table[c];
  return out;
}

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const std::string& b) {
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  throw std::invalid_argument("[tokenizer] unknown split behavior '" + b + "'");
}

// Splits one piece given [begin,end) "match" ranges that cover the text in order, per the behaviour.
void apply_behavior(const Split& in, const std::vector<std::pair<std::pair<size_t, size_t>, bool>>& parts, Behavior bh,
                    std::vector<Split>& out) {
  std::vector<std::pair<size_t, size_t>> pieces;
  switch (bh) {
    case Behavior::Isolated:
      for (auto& [r, m] : parts) pieces.push_back(r);
      break;
    case Behavior::Removed:
      for (auto& [r, m] : parts)
        if (!m) pieces.push_back(r);
      break;
    case Behavior::MergedWithPrevious: {
      bool prev_match = false;
      for (auto& [r, m] : parts) {
        if (m && !pieces.empty() && !prev_match) pieces.back().second = r.second;
        else pieces.push_back(r);
        prev_match = m;
      }
      break;
    }
    case Behavior::MergedWithNext: {
      bool prev_match = false;
      for (auto& [r, m] : parts) {
        if (prev_match && !m && !pieces.empty()) pieces.back().second = r.second;
        else pieces.push_back(r);
        prev_match = m;
      }
      break;
    }
    case Behavior::Contiguous: {
      bool prev_match = false;
      for (auto& [r, m] : parts) {
        if (m && prev_match && !pieces.empty()) pieces.back().second = r.second;
        else pieces.push_back(r);
        prev_match = m;
      }
      break;
    }
  }
  for (auto [b, e] : pieces) {
    if (e > b) out.push_back({in.text.substr(b, e - b), in.at_origin && b == 0});
  }
}

std::vector<std::pair<std::pair<size_t, size_t>, bool>> matches_to_parts(
    const std::vector<std::pair<size_t, size_t>>& m, size_t n, bool invert) {
  std::vector<std::pair<std::pair<size_t, size_t>, bool>> parts;
  size_t prev = 0;
  for (auto [b, e] : m) {
    if (b > prev) parts.push_back({{prev, b}, invert});
    parts.push_back({{b, e}, !invert});
    prev = e;
  }
  if (prev < n) parts.push_back({{prev, n}, invert});
  return parts;
}

class SplitPre : public PreTokenizer {
 public:
  SplitPre(const std::string& regex, Behavior b, bool invert) : re_(regex), b_(b), invert_(invert) {}
  void pre_tokenize(std::vector<Split>& splits) const override {
    std::vector<Split> out;
    out.reserve(splits.size() * 4);
    for (const auto& s : splits) {
      if (s.text.empty()) continue;
      apply_behavior(s, matches_to_parts(re_.find_all(s.text), s.text.size(), invert_), b_, out);
    }
    splits = std::move(out);
  }

 private:
  Regex re_;
  Behavior b_;
  bool invert_;
};

class ByteLevelPre : public PreTokenizer {
 public:
  ByteLevelPre(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) re_ = std::make_unique<Regex>(kGpt2Pattern);
  }
  void pre_tokenize(std::vector<Split>& splits) const override {
    std::vector<Split> out;
    out.reserve(splits.size());
    for (auto& s : splits) {
      if (add_prefix_space_ && (s.text.empty() || s.text[0] != ' ')) s.text.insert(s.text.begin(), ' ');
      if (re_) {
        for (auto [b, e] : re_->find_all(s.text)) out.push_back({byte_level_encode(s.text.substr(b, e - b)), s.at_origin && b == 0});
      } else {
        out.push_back({byte_level_encode(s.text), s.at_origin});
      }
    }
    splits = std::move(out);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> re_;
};

class MetaspacePre : public PreTokenizer {
 public:
  MetaspacePre(std::string replacement, std::string scheme, bool split)
      : rep_(std::move(replacement)), scheme_(std::move(scheme)), split_(split) {}
  void pre_tokenize(std::vector<Split>& splits) const override {
    std::vector<Split> out;
    for (auto& s : splits) {
      std::string t;
      for (char c : s.text) {
        if (c == ' ') t += rep_;
        else t += c;
      }
      bool starts = t.compare(0, rep_.size(), rep_) == 0;
      if (!starts && (scheme_ == "always" || (scheme_ == "first" && s.at_origin))) t = rep_ + t;
      if (!split_) {
        out.push_back({t, s.at_origin});
        continue;
      }
      // Split on the replacement, each occurrence merged with what follows.
      size_t start = 0, pos = t.find(rep_, rep_.size() > 0 && t.compare(0, rep_.size(), rep_) == 0 ? rep_.size() : 0);
      while (pos != std::string::npos) {
        if (pos > start) out.push_back({t.substr(start, pos - start), s.at_origin && start == 0});
        start = pos;
        pos = t.find(rep_, pos + rep_.size());
      }
      if (t.size() > start) out.push_back({t.substr(start), s.at_origin && start == 0});
    }
    splits = std::move(out);
  }

 private:
  std::string rep_, scheme_;
  bool split_;
};

// Digits: isolates ASCII digits, one by one or as runs.
class DigitsPre : public PreTokenizer {
 public:
  explicit DigitsPre(bool individual) : individual_(individual) {}
  void pre_tokenize(std::vector<Split>& splits) const override {
    std::vector<Split> out;
    for (const auto& s : splits) {
      std::vector<std::pair<size_t, size_t>> m;
      for (size_t i = 0; i < s.text.size(); ++i) {
        if (s.text[i] >= '0' && s.text[i] <= '9') {
          if (!individual_ && !m.empty() && m.back().second == i) m.back().second = i + 1;
          else m.push_back({i, i + 1});
        }
      }
      apply_behavior(s, matches_to_parts(m, s.text.size(), false), Behavior::Isolated, out);
    }
    splits = std::move(out);
  }

 private:
  bool individual_;
};

bool is_punct(char32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

// Whitespace-split, optionally isolating punctuation characters (BertPreTokenizer).
class WhitespacePunctPre : public PreTokenizer {
 public:
  explicit WhitespacePunctPre(bool punct) : punct_(punct) {}
  void pre_tokenize(std::vector<Split>& splits) const override {
    std::vector<Split> out;
    for (const auto& s : splits) {
      size_t start = std::string::npos;
      for (size_t i = 0; i <= s.text.size();) {
        size_t n = 1;
        char32_t c = i < s.text.size() ? utf8_decode(s.text, i, n) : U' ';
        bool ws = is_unicode_whitespace(c);
        bool p = punct_ && !ws && is_punct(c);
        if (ws || p) {
          if (start != std::string::npos) out.push_back({s.text.substr(start, i - start), s.at_origin && start == 0});
          start = std::string::npos;
          if (p) out.push_back({s.text.substr(i, n), s.at_origin && i == 0});
        } else if (start == std::string::npos) {
          start = i;
        }
        i += n;
      }
    }
    splits = std::move(out);
  }

 private:
  bool punct_;
};

class SequencePre : public PreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> items) : items_(std::move(items)) {}
  void pre_tokenize(std::vector<Split>& splits) const override {
    for (const auto& p : items_) p->pre_tokenize(splits);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> items_;
};

std::string pattern_of(const json& p) {
  if (p.contains("Regex")) return p["Regex"].get<std::string>();
  if (p.contains("String")) return regex_escape(p["String"].get<std::string>());
  throw std::invalid_argument("[tokenizer] Split pattern needs String or Regex");
}

}  // namespace

std::unique_ptr<PreTokenizer> make_split_pre_tokenizer(const std::string& regex, const std::string& behavior,
                                                       bool invert) {
  return std::make_unique<SplitPre>(regex, parse_behavior(behavior), invert);
}
std::unique_ptr<PreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelPre>(add_prefix_space, use_regex);
}
std::unique_ptr<PreTokenizer> make_sequence_pre_tokenizer(std::vector<std::unique_ptr<PreTokenizer>> items) {
  return std::make_unique<SequencePre>(std::move(items));
}

std::unique_ptr<PreTokenizer> pre_tokenizer_from_json(const json& j) {
  if (j.is_null()) return nullptr;
  std::string type = j.value("type", "");
  if (type == "ByteLevel") return make_byte_level_pre_tokenizer(j.value("add_prefix_space", true), j.value("use_regex", true));
  if (type == "Split")
    return std::make_unique<SplitPre>(pattern_of(j.at("pattern")), parse_behavior(j.at("behavior").get<std::string>()),
                                      j.value("invert", false));
  if (type == "Metaspace") {
    std::string scheme = "always";
    if (j.contains("prepend_scheme")) scheme = j["prepend_scheme"].get<std::string>();
    else if (j.contains("add_prefix_space")) scheme = j["add_prefix_space"].get<bool>() ? "always" : "never";
    return std::make_unique<MetaspacePre>(j.value("replacement", "\xE2\x96\x81"), scheme, j.value("split", true));
  }
  if (type == "Digits") return std::make_unique<DigitsPre>(j.value("individual_digits", false));
  if (type == "WhitespaceSplit") return std::make_unique<WhitespacePunctPre>(false);
  if (type == "BertPreTokenizer") return std::make_unique<WhitespacePunctPre>(true);
  if (type == "Whitespace") return std::make_unique<SplitPre>(R"(\w+|[^\w\s]+)", Behavior::Removed, true);
  if (type == "Punctuation") {
    return std::make_unique<SplitPre>(R"([\p{P}!-/:-@\[-`{-~])", parse_behavior(j.value("behavior", "Isolated")), false);
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> items;
    for (const auto& e : j.at("pretokenizers")) {
      if (auto p = pre_tokenizer_from_json(e)) items.push_back(std::move(p));
    }
    return make_sequence_pre_tokenizer(std::move(items));
  }
  throw std::invalid_argument("[tokenizer] unsupported pre-tokenizer type '" + type + "'");
}

}  // namespace tessera::lm::tok
