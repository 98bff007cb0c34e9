// The word-level model of a tokenizer pipeline (BPE, Unigram, WordPiece): one pre-tokenized piece -> ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tessera::lm::tok {

// Hash for std::string keys that also accepts string_view lookups.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using VocabMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of one piece to out.
  virtual void tokenize(std::string_view piece, std::vector<int32_t>& out) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // "" for ids the model does not know.
  virtual std::string id_to_token(int32_t id) const = 0;
  virtual int32_t vocab_size() const = 0;
};

// "<0x0A>"-style byte piece name.
std::string byte_piece(unsigned char b);

}  // namespace tessera::lm::tok
