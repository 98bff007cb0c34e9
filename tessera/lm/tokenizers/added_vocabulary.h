// Added (special) tokens: found in the text before the model runs, leftmost-longest, with lstrip/rstrip/single_word.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tessera::lm::tok {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// A piece of text: an added token (id >= 0) or plain text (id == -1) spanning [begin, end).
struct Segment {
  size_t begin, end;
  int32_t id;
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  explicit AddedVocabulary(std::vector<AddedToken> tokens);

  // Splits text on the tokens with the given `normalized` flag; skip_special leaves special tokens as text.
  std::vector<Segment> split(std::string_view text, bool normalized, bool skip_special) const;

  bool has_normalized() const { return has_normalized_; }
  const AddedToken* by_id(int32_t id) const;
  const AddedToken* by_content(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
  std::array<std::vector<size_t>, 256> by_first_byte_;  // token indices, longest first
  bool has_normalized_ = false;
};

}  // namespace tessera::lm::tok
