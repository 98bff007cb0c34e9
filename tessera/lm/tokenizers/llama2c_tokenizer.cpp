// llama2.c tokenizer.bin: loading, BPE encoding by piece score with byte fallback, and decoding.
#include "tessera/lm/tokenizers/llama2c_tokenizer.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace tessera::lm {

namespace {

constexpr int32_t kUnk = 0, kBos = 1, kEos = 2, kByteBase = 3;

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw std::runtime_error("[tokenizer] " + path + ": " + msg);
}

// The SentencePiece surface forms of llama2.c's exported special pieces ("\n<s>\n" -> "<s>").
std::string special_name(int32_t id) { return id == kUnk ? "<unk>" : id == kBos ? "<s>" : "</s>"; }

// Length of the UTF-8 sequence a lead byte starts (1 for stray continuation/invalid bytes).
size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  if ((c & 0xF8) == 0xF0) return 4;
  return 1;
}

// "<0xAB>" -> 0xAB.
std::optional<int> parse_byte_piece(const std::string& p) {
  if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return std::nullopt;
  int v = 0;
  for (int i = 3; i < 5; ++i) {
    char c = p[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0) return std::nullopt;
    v = v * 16 + d;
  }
  return v;
}

}  // namespace

Llama2cTokenizer::Llama2cTokenizer(const std::string& path, int vocab_size, bool remove_extra_whitespaces)
    : remove_extra_whitespaces_(remove_extra_whitespaces) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, "cannot open the file.");
  f.seekg(0, std::ios::end);
  const int64_t file_size = f.tellg();
  f.seekg(0, std::ios::beg);
  int32_t max_len = 0;
  if (!f.read(reinterpret_cast<char*>(&max_len), 4)) fail(path, "file too short for a llama2.c tokenizer.");
  if (max_len <= 0 || max_len > 4096) {
    fail(path, "not a llama2.c tokenizer (max_token_length " + std::to_string(max_len) + ").");
  }
  max_token_length_ = max_len;
  int64_t pos = 4;
  while (vocab_size == 0 ? pos < file_size : static_cast<int>(pieces_.size()) < vocab_size) {
    float score;
    int32_t len;
    if (file_size - pos < 8 || !f.read(reinterpret_cast<char*>(&score), 4) ||
        !f.read(reinterpret_cast<char*>(&len), 4)) {
      fail(path, "truncated at token " + std::to_string(pieces_.size()) + ".");
    }
    pos += 8;
    if (len < 0 || len > max_len || len > file_size - pos) {
      fail(path,
           "token " + std::to_string(pieces_.size()) + " has invalid length " + std::to_string(len) + ".");
    }
    std::string piece(static_cast<size_t>(len), '\0');
    if (len > 0 && !f.read(piece.data(), len))
      fail(path, "truncated at token " + std::to_string(pieces_.size()) + ".");
    pos += len;
    ids_.emplace(piece, static_cast<int32_t>(pieces_.size()));  // first occurrence wins
    pieces_.push_back(std::move(piece));
    scores_.push_back(score);
  }
  if (pieces_.size() < kByteBase + 256) {
    fail(path, "only " + std::to_string(pieces_.size()) +
                   " tokens; expected <unk>, <s>, </s> and 256 byte tokens.");
  }
}

void Llama2cTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw std::out_of_range("[tokenizer] token id " + std::to_string(id) + " out of range [0, " +
                            std::to_string(vocab_size()) + ").");
  }
}

std::optional<int32_t> Llama2cTokenizer::lookup(std::string_view piece) const {
  auto it = ids_.find(std::string(piece));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

float Llama2cTokenizer::score(int32_t id) const {
  check_id(id);
  return scores_[id];
}

std::vector<int32_t> Llama2cTokenizer::encode(std::string_view text_in, bool add_special_tokens) const {
  std::string normalized;
  std::string_view text = text_in;
  if (remove_extra_whitespaces_) {
    for (char c : text_in) {
      if (c == ' ' && (normalized.empty() || normalized.back() == ' ')) continue;
      normalized.push_back(c);
    }
    if (!normalized.empty() && normalized.back() == ' ') normalized.pop_back();
    text = normalized;
  }
  std::vector<int32_t> tokens;
  if (add_special_tokens) tokens.push_back(kBos);
  std::vector<int32_t> syms;
  // SentencePiece's add_dummy_prefix: a leading space when the text is not empty.
  if (!text.empty()) {
    if (auto sp = lookup(" ")) syms.push_back(*sp);
  }
  for (size_t i = 0; i < text.size();) {
    size_t n = std::min(utf8_len(static_cast<unsigned char>(text[i])), text.size() - i);
    // A truncated or malformed sequence is taken byte by byte.
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) n = 1;
    }
    auto id = lookup(text.substr(i, n));
    if (id && *id > kEos) {
      syms.push_back(*id);
    } else {
      for (size_t k = 0; k < n; ++k) syms.push_back(kByteBase + static_cast<unsigned char>(text[i + k]));
    }
    i += n;
  }
  // Merge the adjacent pair whose concatenation is the best-scoring piece, until none is left.
  std::string buf;
  while (syms.size() > 1) {
    float best_score = -1e30f;
    int32_t best_id = -1;
    size_t best_idx = 0;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      buf = pieces_[syms[i]];
      buf += pieces_[syms[i + 1]];
      auto id = lookup(buf);
      if (id && scores_[*id] > best_score) {
        best_score = scores_[*id];
        best_id = *id;
        best_idx = i;
      }
    }
    if (best_id < 0) break;
    syms[best_idx] = best_id;
    syms.erase(syms.begin() + static_cast<std::ptrdiff_t>(best_idx) + 1);
  }
  tokens.insert(tokens.end(), syms.begin(), syms.end());
  return tokens;
}

std::string Llama2cTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::string out;
  bool at_start = true;  // the next piece's leading space is the dummy prefix
  for (int32_t id : ids) {
    check_id(id);
    if (is_special(id)) {
      if (!skip_special_tokens) out += special_name(id);
      at_start = id == kBos || (at_start && skip_special_tokens);
      continue;
    }
    const std::string& p = pieces_[id];
    if (auto b = parse_byte_piece(p)) {
      out.push_back(static_cast<char>(*b));
    } else if (at_start && !p.empty() && p[0] == ' ') {
      out.append(p, 1, std::string::npos);
    } else {
      out += p;
    }
    at_start = false;
  }
  return out;
}

std::string Llama2cTokenizer::id_to_token(int32_t id) const {
  check_id(id);
  if (is_special(id)) return special_name(id);
  std::string out;
  for (char c : pieces_[id]) {
    if (c == ' ')
      out += "\xE2\x96\x81";  // "▁"
    else
      out.push_back(c);
  }
  return out;
}

std::optional<int32_t> Llama2cTokenizer::token_to_id(std::string_view token) const {
  for (int32_t id = kUnk; id <= kEos; ++id) {
    if (token == special_name(id)) return id;
  }
  std::string piece;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token.compare(i, 3, "\xE2\x96\x81") == 0) {
      piece.push_back(' ');
      i += 2;
    } else {
      piece.push_back(token[i]);
    }
  }
  auto id = lookup(piece);
  if (id && is_special(*id)) return std::nullopt;
  return id;
}

}  // namespace tessera::lm
