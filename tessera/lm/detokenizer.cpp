// StreamingDetokenizer: decodes a sliding window of tokens and emits complete UTF-8 text.
#include "tessera/lm/detokenizer.h"

#include <algorithm>

namespace tessera::lm {

namespace {
constexpr size_t kWindow = 16;                    // tokens decoded together before the window slides
const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD
}  // namespace

size_t incomplete_utf8_tail(const std::string& s) {
  // Walk back over up to 3 continuation bytes to the lead byte.
  size_t n = s.size();
  for (size_t k = 1; k <= 4 && k <= n; ++k) {
    unsigned char c = static_cast<unsigned char>(s[n - k]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > k ? k : 0;
  }
  return 0;  // only continuation bytes: malformed, emit them
}

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_(skip_special_tokens) {}

void StreamingDetokenizer::reset() {
  tokens_.clear();
  context_.clear();
  window_start_ = 0;
  emitted_ = 0;
  text_.clear();
}

void StreamingDetokenizer::set_context(const std::vector<int32_t>& tokens) {
  reset();
  if (!tokens.empty()) context_ = {tokens.back()};
}

// The text of the window's tokens, without the context's own text.
std::string StreamingDetokenizer::window_text() const {
  std::vector<int32_t> ids = context_;
  ids.insert(ids.end(), tokens_.begin() + static_cast<std::ptrdiff_t>(window_start_), tokens_.end());
  std::string full = tokenizer_.decode(ids, skip_special_);
  std::string ctx = context_.empty() ? std::string() : tokenizer_.decode(context_, skip_special_);
  // A decoder whose output is prefix-stable gives full = ctx + window; otherwise fall back to the window
  // alone.
  if (full.compare(0, ctx.size(), ctx) == 0) return full.substr(ctx.size());
  return tokenizer_.decode({tokens_.begin() + static_cast<std::ptrdiff_t>(window_start_), tokens_.end()},
                           skip_special_);
}

std::string StreamingDetokenizer::add_token(int32_t token) {
  tokens_.push_back(token);
  std::string wt = window_text();
  size_t hold = incomplete_utf8_tail(wt);
  if (hold == 0 && wt.size() >= kReplacement.size() &&
      wt.compare(wt.size() - kReplacement.size(), kReplacement.size(), kReplacement) == 0) {
    hold = kReplacement.size();
  }
  size_t ready = wt.size() - hold;
  std::string out = ready > emitted_ ? wt.substr(emitted_, ready - emitted_) : std::string();
  emitted_ = std::max(emitted_, ready);
  text_ += out;
  // Slide the window once everything in it is out: its last token becomes the context.
  if (hold == 0 && tokens_.size() - window_start_ >= kWindow) {
    context_ = {tokens_.back()};
    window_start_ = tokens_.size();
    emitted_ = 0;
  }
  return out;
}

std::string StreamingDetokenizer::finalize() {
  std::string out;
  if (window_start_ < tokens_.size()) {
    std::string wt = window_text();
    if (wt.size() > emitted_) out = wt.substr(emitted_);
    context_ = {tokens_.back()};
    window_start_ = tokens_.size();
    emitted_ = 0;
  }
  text_ += out;
  return out;
}

}  // namespace tessera::lm
