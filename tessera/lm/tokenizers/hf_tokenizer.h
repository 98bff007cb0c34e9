// A Hugging Face `tokenizers` pipeline: added tokens -> normalizer -> pre-tokenizer -> model -> post-processor.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tessera/lm/tokenizer.h"
#include "tessera/lm/tokenizers/added_vocabulary.h"
#include "tessera/lm/tokenizers/decoders.h"
#include "tessera/lm/tokenizers/model.h"
#include "tessera/lm/tokenizers/normalizers.h"
#include "tessera/lm/tokenizers/post_processor.h"
#include "tessera/lm/tokenizers/pre_tokenizers.h"

namespace tessera::lm {

// Values that come from tokenizer_config.json / special_tokens_map.json / generation_config.json.
struct TokenizerConfig {
  std::optional<std::string> bos_token, eos_token;
  std::vector<int32_t> extra_eos_ids;  // generation_config.json eos_token_id
  std::optional<bool> add_bos_token, add_eos_token;
  std::optional<std::string> chat_template;
  bool split_special_tokens = false;
};

class HfTokenizer : public Tokenizer {
 public:
  HfTokenizer(std::unique_ptr<tok::Model> model, std::unique_ptr<tok::Normalizer> normalizer,
              std::unique_ptr<tok::PreTokenizer> pre_tokenizer, tok::PostProcessor post,
              std::unique_ptr<tok::Decoder> decoder, std::vector<tok::AddedToken> added, TokenizerConfig config);

  // Parses tokenizer.json text; config fields are read by load_hf_tokenizer.
  static std::shared_ptr<HfTokenizer> from_json(const std::string& json_text, TokenizerConfig config = {});

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const override;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const override;
  // Encodes several texts in parallel on the CPU thread pool.
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts,
                                                 bool add_special_tokens = true) const;

  int32_t vocab_size() const override;
  std::string id_to_token(int32_t id) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::optional<int32_t> bos_id() const override;
  std::vector<int32_t> eos_ids() const override;
  bool is_special(int32_t id) const override;
  std::optional<std::string> chat_template() const override { return config_.chat_template; }

  // split_special_tokens=true: special tokens written in the text are tokenized as plain text.
  void set_split_special_tokens(bool v) { config_.split_special_tokens = v; }

 private:
  void encode_text(const std::string& text, bool at_origin, std::vector<int32_t>& out) const;

  std::unique_ptr<tok::Model> model_;
  std::unique_ptr<tok::Normalizer> normalizer_;
  std::unique_ptr<tok::PreTokenizer> pre_tokenizer_;
  tok::PostProcessor post_;
  std::unique_ptr<tok::Decoder> decoder_;
  tok::AddedVocabulary added_;
  TokenizerConfig config_;
};

// Loads tokenizer.json plus tokenizer_config.json, special_tokens_map.json and generation_config.json
// from the same directory when present.
std::shared_ptr<HfTokenizer> load_hf_tokenizer(const std::string& tokenizer_json_path);

}  // namespace tessera::lm
