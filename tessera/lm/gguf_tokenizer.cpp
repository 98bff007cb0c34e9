// GGUF tokenizer metadata -> VocabSpec -> tokenizer, plus the chat template and end-of-generation ids.
#include "tessera/lm/gguf_tokenizer.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "tessera/io/gguf.h"
#include "tessera/lm/tokenizers/vocab_tokenizer.h"

namespace tessera::lm {

namespace {

// GPT-2's pattern (also HF ByteLevel's use_regex pattern).
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama-3 and Qwen2 tokenizer.json Split patterns (they differ in how digits group).
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Texts of control tokens that end a turn in common chat formats (llama.cpp's end-of-generation heuristics).
const char* const kEndOfTurnTexts[] = {"<|eot_id|>",    "<|im_end|>",    "<|end|>",
                                       "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                                       "<EOT>",         "<|eom_id|>",    "<｜end▁of▁sentence｜>"};

const GGUFValue* find(const GGUFMetadata& md, const std::string& key) {
  auto it = md.find(key);
  return it == md.end() ? nullptr : &it->second;
}

std::optional<int32_t> get_id(const GGUFMetadata& md, const std::string& key, size_t n) {
  const GGUFValue* v = find(md, key);
  if (!v) return std::nullopt;
  int64_t id = v->as_int();
  if (id == -1) return std::nullopt;  // some converters write -1 for "none"
  if (id < 0 || static_cast<size_t>(id) >= n)
    throw std::invalid_argument("[gguf] " + key + " = " + std::to_string(id) +
                                " is outside the vocabulary of " + std::to_string(n) + " tokens");
  return static_cast<int32_t>(id);
}

bool get_bool(const GGUFMetadata& md, const std::string& key, bool fallback) {
  const GGUFValue* v = find(md, key);
  return v ? v->as_bool() : fallback;
}

// Adds what the plain-vector tokenizer does not carry for every kind: BOS even when not added, the
// end-of-generation list and the chat template.
class GGUFTokenizer : public Tokenizer {
 public:
  GGUFTokenizer(std::shared_ptr<Tokenizer> inner, std::optional<int32_t> bos, std::vector<int32_t> eos,
                std::optional<std::string> chat_template)
      : inner_(std::move(inner)), bos_(bos), eos_(std::move(eos)), chat_template_(std::move(chat_template)) {}

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override {
    return inner_->encode(text, add_special_tokens);
  }
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const override {
    return inner_->decode(ids, skip_special_tokens);
  }
  int32_t vocab_size() const override { return inner_->vocab_size(); }
  std::string id_to_token(int32_t id) const override { return inner_->id_to_token(id); }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    return inner_->token_to_id(token);
  }
  std::optional<int32_t> bos_id() const override { return bos_; }
  std::vector<int32_t> eos_ids() const override { return eos_; }
  bool is_special(int32_t id) const override { return inner_->is_special(id); }
  std::optional<std::string> chat_template() const override { return chat_template_; }

 private:
  std::shared_ptr<Tokenizer> inner_;
  std::optional<int32_t> bos_;
  std::vector<int32_t> eos_;
  std::optional<std::string> chat_template_;
};

}  // namespace

std::vector<std::string> gguf_pre_tokenizer_regexes(const std::string& pre) {
  if (pre.empty() || pre == "default" || pre == "gpt2" || pre == "gpt-2") return {kGpt2};
  if (pre == "smollm") return {R"(\p{N})", kGpt2};  // HF: Sequence[Digits(individual), ByteLevel(use_regex)]
  if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") return {kLlama3};
  if (pre == "qwen2") return {kQwen2};
  throw std::invalid_argument("[gguf] tokenizer.ggml.pre '" + pre +
                              "' is not supported yet (known: default, gpt2, smollm, llama-bpe, qwen2)");
}

VocabSpec vocab_spec_from_gguf(const GGUFMetadata& md) {
  const GGUFValue* model = find(md, "tokenizer.ggml.model");
  const GGUFValue* tokens = find(md, "tokenizer.ggml.tokens");
  if (!model || !tokens)
    throw std::invalid_argument("[gguf] the file has no tokenizer (tokenizer.ggml.model/tokens)");
  const std::string kind = model->as_string();
  VocabSpec spec;
  spec.tokens = tokens->as_strings();
  const size_t n = spec.tokens.size();
  if (n == 0) throw std::invalid_argument("[gguf] tokenizer.ggml.tokens is empty");
  if (const GGUFValue* s = find(md, "tokenizer.ggml.scores")) {
    for (double x : s->as_floats()) spec.scores.push_back(static_cast<float>(x));
  }
  if (const GGUFValue* t = find(md, "tokenizer.ggml.token_type")) {
    for (int64_t x : t->as_ints()) spec.token_types.push_back(static_cast<int32_t>(x));
  }
  if (!spec.scores.empty() && spec.scores.size() != n)
    throw std::invalid_argument("[gguf] tokenizer.ggml.scores and tokenizer.ggml.tokens differ in length");
  if (!spec.token_types.empty() && spec.token_types.size() != n)
    throw std::invalid_argument(
        "[gguf] tokenizer.ggml.token_type and tokenizer.ggml.tokens differ in length");
  spec.bos_id = get_id(md, "tokenizer.ggml.bos_token_id", n);
  spec.eos_id = get_id(md, "tokenizer.ggml.eos_token_id", n);
  spec.unk_id = get_id(md, "tokenizer.ggml.unknown_token_id", n);
  spec.pad_id = get_id(md, "tokenizer.ggml.padding_token_id", n);
  if (const GGUFValue* t = find(md, "tokenizer.chat_template")) spec.chat_template = t->as_string();

  if (kind == "llama") {
    spec.kind = VocabSpec::Kind::kSentencePieceBpe;
    spec.add_bos = get_bool(md, "tokenizer.ggml.add_bos_token", true);
    spec.add_space_prefix = get_bool(md, "tokenizer.ggml.add_space_prefix", true);
    spec.byte_fallback = true;
  } else if (kind == "gpt2") {
    spec.kind = VocabSpec::Kind::kByteLevelBpe;
    const GGUFValue* merges = find(md, "tokenizer.ggml.merges");
    if (!merges) throw std::invalid_argument("[gguf] a gpt2 tokenizer needs tokenizer.ggml.merges");
    spec.merges = merges->as_strings();
    const GGUFValue* pre = find(md, "tokenizer.ggml.pre");
    std::string pre_name = pre ? pre->as_string() : "default";
    spec.pre_tokenizer_regexes = gguf_pre_tokenizer_regexes(pre_name);
    spec.ignore_merges = pre_name == "llama-bpe" || pre_name == "llama3" || pre_name == "llama-v3";
    spec.add_bos = get_bool(md, "tokenizer.ggml.add_bos_token", false);
  } else {
    throw std::invalid_argument("[gguf] tokenizer.ggml.model '" + kind +
                                "' is not supported yet (known: llama, gpt2)");
  }

  // End of generation: eos, eot, eom, and control tokens that end a chat turn.
  std::vector<int32_t> eos;
  auto add = [&](std::optional<int32_t> id) {
    if (id && std::find(eos.begin(), eos.end(), *id) == eos.end()) eos.push_back(*id);
  };
  add(spec.eos_id);
  add(get_id(md, "tokenizer.ggml.eot_token_id", n));
  add(get_id(md, "tokenizer.ggml.eom_token_id", n));
  for (size_t i = 0; i < n; ++i) {
    int type = spec.token_types.empty() ? 1 : spec.token_types[i];
    if (type != 3 && type != 4) continue;  // control or user-defined only
    for (const char* t : kEndOfTurnTexts)
      if (spec.tokens[i] == t) add(static_cast<int32_t>(i));
  }
  spec.extra_eos_ids.assign(eos.begin() + (spec.eos_id ? 1 : 0), eos.end());
  return spec;
}

std::shared_ptr<Tokenizer> tokenizer_from_gguf(const GGUFMetadata& md) {
  VocabSpec spec = vocab_spec_from_gguf(md);
  std::vector<int32_t> eos;
  if (spec.eos_id) eos.push_back(*spec.eos_id);
  eos.insert(eos.end(), spec.extra_eos_ids.begin(), spec.extra_eos_ids.end());
  auto inner = make_tokenizer_from_vocab(spec);
  return std::make_shared<GGUFTokenizer>(std::move(inner), spec.bos_id, std::move(eos), spec.chat_template);
}

std::shared_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
  return tokenizer_from_gguf(load_gguf_file(path).metadata);
}

}  // namespace tessera::lm
