// Splits long texts before "▁" where no vocabulary piece can span the boundary, so BPE can merge (and cache)
// each chunk on its own with exactly the result of merging the whole text.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "tessera/lm/tokenizers/model.h"

namespace tessera::lm::tok {

class SpaceChunker {
 public:
  // vocab: every piece a merge can produce. Chunking is off when the space marker is not itself a piece.
  explicit SpaceChunker(const VocabMap& vocab, std::string space = "\xE2\x96\x81");
  bool enabled() const { return enabled_; }
  // [begin, end) byte ranges covering text, in order.
  std::vector<std::pair<size_t, size_t>> chunks(std::string_view text) const;

 private:
  const VocabMap* vocab_;
  std::string space_;
  std::unordered_set<std::string> unsafe_prev_;  // characters X such that some piece contains X followed by space
  bool enabled_ = false;
};

}  // namespace tessera::lm::tok
