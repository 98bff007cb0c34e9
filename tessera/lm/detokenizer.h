// Streaming detokenization: text pieces as tokens arrive, never splitting a UTF-8 character.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/lm/tokenizer.h"

namespace tessera::lm {

// Works over any Tokenizer by decoding a short window of recent tokens (plus one token of context,
// so a tokenizer's start-of-text rules such as SentencePiece's dummy-prefix removal apply only once)
// and emitting what is new. Incomplete trailing UTF-8 bytes (and a trailing U+FFFD, which some
// decoders put for them) are held back until the next token completes them, or finalize().
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens = true);

  // Optional context (e.g. the prompt) that is not emitted but conditions the decoding of what follows.
  void set_context(const std::vector<int32_t>& tokens);
  // Adds a token; returns the text that became complete (possibly empty).
  std::string add_token(int32_t token);
  // Returns whatever is held back (even an incomplete UTF-8 tail) and ends the stream.
  std::string finalize();

  // All text emitted so far.
  const std::string& text() const { return text_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  void reset();

 private:
  std::string window_text() const;

  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::vector<int32_t> tokens_;   // every token added
  std::vector<int32_t> context_;  // decoded but not emitted: the token before the window
  size_t window_start_ = 0;       // first token of the window in tokens_
  size_t emitted_ = 0;            // bytes of the window's text already emitted
  std::string text_;
};

// Bytes at the end of s that form an incomplete (not yet finished) UTF-8 sequence: 0..3.
size_t incomplete_utf8_tail(const std::string& s);

}  // namespace tessera::lm
