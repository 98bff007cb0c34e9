// Byte-pair-encoding model as in `tokenizers` (rank-ordered merges; byte-level or byte_fallback vocabularies).
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "tessera/lm/tokenizers/model.h"
#include "tessera/lm/tokenizers/space_chunker.h"

namespace tessera::lm::tok {

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class BpeModel : public Model {
 public:
  // vocab: token -> id; merges in rank order (rank = index). Merges whose parts or result are unknown throw.
  BpeModel(VocabMap vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions opts);

  void tokenize(std::string_view piece, std::vector<int32_t>& out) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(id_to_tok_.size()); }

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  void cached_merge(std::string_view word, std::vector<int32_t>& out) const;

  VocabMap vocab_;
  std::vector<std::string> id_to_tok_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;  // (left,right) -> (rank, new id)
  BpeOptions opts_;
  std::optional<int32_t> unk_id_;
  std::array<int32_t, 256> byte_ids_{};  // <0xXX> ids for byte_fallback, -1 when absent
  std::unique_ptr<SpaceChunker> chunker_;  // long words ("▁"-joined text without a pre-tokenizer) merge per chunk
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace tessera::lm::tok
