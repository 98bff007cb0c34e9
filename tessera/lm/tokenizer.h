// The interface every tokenizer implements (llama2.c, SentencePiece, Hugging Face tokenizer.json, GGUF).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::lm {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text -> ids. add_special_tokens adds what the tokenizer's post-processor declares (e.g. BOS).
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const = 0;

  // Ids -> text, applying the tokenizer's decoder (byte fallback, byte-level, metaspace, ...).
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const = 0;

  virtual int32_t vocab_size() const = 0;

  // The token's surface form in the vocabulary (e.g. "▁the", "<0x0A>", "Ġthe"), for tools and debugging.
  virtual std::string id_to_token(int32_t id) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;

  virtual std::optional<int32_t> bos_id() const { return std::nullopt; }
  // Generation stops on any of these ids.
  virtual std::vector<int32_t> eos_ids() const { return {}; }
  virtual bool is_special(int32_t /*id*/) const { return false; }

  // The Jinja2 chat template shipped with the tokenizer, if any.
  virtual std::optional<std::string> chat_template() const { return std::nullopt; }
};

}  // namespace tessera::lm
