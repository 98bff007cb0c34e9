// Decoders: each rewrites the list of token strings, as `tokenizers` decode_chain does.
#include "tessera/lm/tokenizers/decoders.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tessera/lm/tokenizers/regex.h"
#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm::tok {

using json = nlohmann::json;

namespace {

// Byte-level: characters back to bytes (a token with a character outside the alphabet keeps its UTF-8),
// then the bytes of all tokens as lossy UTF-8.
class ByteLevelDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      size_t mark = bytes.size();
      bool ok = true;
      for (size_t i = 0; i < t.size();) {
        size_t n;
        char32_t c = utf8_decode(t, i, n);
        int b = unicode_to_byte(c);
        if (b < 0) {
          ok = false;
          break;
        }
        bytes += static_cast<char>(b);
        i += n;
      }
      if (!ok) {
        bytes.resize(mark);
        bytes += t;
      }
    }
    tokens.assign(1, utf8_repair(bytes));
  }
};

class MetaspaceDec : public Decoder {
 public:
  MetaspaceDec(std::string rep, bool strip_first) : rep_(std::move(rep)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const auto& t = tokens[i];
      for (size_t p = 0; p < t.size();) {
        if (!rep_.empty() && t.compare(p, rep_.size(), rep_) == 0) {
          if (!(i == 0 && p == 0 && strip_first_)) out += ' ';
          p += rep_.size();
        } else {
          out += t[p++];
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string rep_;
  bool strip_first_;
};

int parse_byte_token(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  int h = hex(t[3]), l = hex(t[4]);
  return h < 0 || l < 0 ? -1 : h * 16 + l;
}

// Runs of <0xXX> tokens become their bytes when valid UTF-8, else one U+FFFD per byte.
class ByteFallbackDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    size_t count = 0;
    auto flush = [&] {
      if (count == 0) return;
      if (utf8_is_valid(pending)) {
        out.push_back(pending);
      } else {
        for (size_t k = 0; k < count; ++k) out.push_back("\xEF\xBF\xBD");
      }
      pending.clear();
      count = 0;
    };
    for (auto& t : tokens) {
      int b = parse_byte_token(t);
      if (b >= 0) {
        pending += static_cast<char>(b);
        ++count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class StripDec : public Decoder {
 public:
  StripDec(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < start_ && e - b >= content_.size() && t.compare(b, content_.size(), content_) == 0; ++k)
        b += content_.size();
      for (size_t k = 0; k < stop_ && e - b >= content_.size() && t.compare(e - content_.size(), content_.size(), content_) == 0; ++k)
        e -= content_.size();
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class ReplaceDec : public Decoder {
 public:
  ReplaceDec(const json& pattern, std::string content) : content_(std::move(content)) {
    if (pattern.contains("String")) re_ = std::make_unique<Regex>(regex_escape(pattern["String"].get<std::string>()));
    else if (pattern.contains("Regex")) re_ = std::make_unique<Regex>(pattern["Regex"].get<std::string>());
    else throw std::invalid_argument("[tokenizer] Replace decoder needs a String or Regex pattern");
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::string s = utf8_repair(t), out;
      size_t last = 0;
      for (auto [b, e] : re_->find_all(s)) {
        out.append(s, last, b - last);
        out += content_;
        last = e;
      }
      out.append(s, last, std::string::npos);
      t = std::move(out);
    }
  }

 private:
  std::unique_ptr<Regex> re_;
  std::string content_;
};

class WordPieceDec : public Decoder {
 public:
  WordPieceDec(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto& t = tokens[i];
      if (i > 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0) t = t.substr(prefix_.size());
        else t = " " + t;
      }
      if (cleanup_) {
        static const std::pair<const char*, const char*> rules[] = {
            {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
            {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
        for (auto [from, to] : rules) {
          std::string f(from), out;
          size_t last = 0, pos;
          while ((pos = t.find(f, last)) != std::string::npos) {
            out.append(t, last, pos - last);
            out += to;
            last = pos + f.size();
          }
          out.append(t, last, std::string::npos);
          t = std::move(out);
        }
      }
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class SequenceDec : public Decoder {
 public:
  explicit SequenceDec(std::vector<std::unique_ptr<Decoder>> items) : items_(std::move(items)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : items_) d->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> items_;
};

}  // namespace

std::unique_ptr<Decoder> make_byte_level_decoder() { return std::make_unique<ByteLevelDec>(); }

std::unique_ptr<Decoder> decoder_from_json(const json& j) {
  if (j.is_null()) return nullptr;
  std::string type = j.value("type", "");
  if (type == "ByteLevel") return std::make_unique<ByteLevelDec>();
  if (type == "Metaspace") {
    bool strip = true;
    if (j.contains("prepend_scheme")) strip = j["prepend_scheme"].get<std::string>() != "never";
    else if (j.contains("add_prefix_space")) strip = j["add_prefix_space"].get<bool>();
    return std::make_unique<MetaspaceDec>(j.value("replacement", "\xE2\x96\x81"), strip);
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDec>();
  if (type == "Fuse") return std::make_unique<FuseDec>();
  if (type == "Strip")
    return std::make_unique<StripDec>(j.value("content", " "), j.value("start", size_t{0}), j.value("stop", size_t{0}));
  if (type == "Replace") return std::make_unique<ReplaceDec>(j.at("pattern"), j.at("content").get<std::string>());
  if (type == "WordPiece") return std::make_unique<WordPieceDec>(j.value("prefix", "##"), j.value("cleanup", true));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> items;
    for (const auto& e : j.at("decoders")) {
      if (auto d = decoder_from_json(e)) items.push_back(std::move(d));
    }
    return std::make_unique<SequenceDec>(std::move(items));
  }
  throw std::invalid_argument("[tokenizer] unsupported decoder type '" + type + "'");
}

}  // namespace tessera::lm::tok
