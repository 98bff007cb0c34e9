// Plain-vector tokenizers: SentencePiece kinds reuse SentencePieceTokenizer, byte-level BPE builds an HfTokenizer.
#include "tessera/lm/tokenizers/vocab_tokenizer.h"

#include <stdexcept>

#include "tessera/lm/tokenizers/bpe.h"
#include "tessera/lm/tokenizers/hf_tokenizer.h"
#include "tessera/lm/tokenizers/sentencepiece_tokenizer.h"

namespace tessera::lm {

void validate_vocab_spec(const VocabSpec& spec) {
  const size_t n = spec.tokens.size();
  if (n == 0) throw std::invalid_argument("[tokenizer] empty vocabulary");
  if (!spec.scores.empty() && spec.scores.size() != n)
    throw std::invalid_argument("[tokenizer] scores and tokens differ in length");
  if (!spec.token_types.empty() && spec.token_types.size() != n)
    throw std::invalid_argument("[tokenizer] token types and tokens differ in length");
  for (const auto& id : {spec.bos_id, spec.eos_id, spec.unk_id, spec.pad_id})
    if (id && (*id < 0 || static_cast<size_t>(*id) >= n))
      throw std::invalid_argument("[tokenizer] special id " + std::to_string(*id) + " outside the vocabulary");
}

std::shared_ptr<Tokenizer> make_tokenizer_from_vocab(const VocabSpec& spec) {
  validate_vocab_spec(spec);
  const size_t n = spec.tokens.size();
  auto type_of = [&](size_t i) { return spec.token_types.empty() ? 1 : spec.token_types[i]; };

  if (spec.kind != VocabSpec::Kind::kByteLevelBpe) {
    SpmModel m;
    m.model_type = spec.kind == VocabSpec::Kind::kSentencePieceBpe ? SpmModel::kBpe : SpmModel::kUnigram;
    m.pieces.resize(n);
    for (size_t i = 0; i < n; ++i) {
      m.pieces[i].piece = spec.tokens[i];
      m.pieces[i].score = spec.scores.empty() ? 0.f : spec.scores[i];
      int t = type_of(i);
      m.pieces[i].type = (t >= 1 && t <= 6) ? t : SpmPiece::kNormal;
    }
    m.byte_fallback = spec.byte_fallback;
    m.unk_id = spec.unk_id.value_or(-1);
    m.bos_id = spec.add_bos ? spec.bos_id.value_or(-1) : -1;
    m.eos_id = spec.eos_id.value_or(-1);
    m.pad_id = spec.pad_id.value_or(-1);
    m.add_dummy_prefix = spec.add_space_prefix;
    m.remove_extra_whitespaces = false;
    return std::make_shared<SentencePieceTokenizer>(std::move(m));
  }

  tok::VocabMap vocab;
  std::vector<tok::AddedToken> added;
  for (size_t i = 0; i < n; ++i) {
    auto id = static_cast<int32_t>(i);
    int t = type_of(i);
    if (t == 3 || t == 4) {  // control and user-defined tokens are matched in text before the model
      tok::AddedToken a;
      a.content = spec.tokens[i];
      a.id = id;
      a.special = t == 3;
      added.push_back(std::move(a));
    }
    vocab.emplace(spec.tokens[i], id);
  }
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(spec.merges.size());
  for (const auto& s : spec.merges) {
    auto sp = s.find(' ');
    if (sp == std::string::npos) throw std::invalid_argument("[tokenizer] bad BPE merge '" + s + "'");
    merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
  }
  tok::BpeOptions opts;
  opts.ignore_merges = spec.ignore_merges;
  auto model = std::make_unique<tok::BpeModel>(std::move(vocab), merges, opts);
  std::vector<std::unique_ptr<tok::PreTokenizer>> pre;
  if (!spec.pre_tokenizer_regexes.empty()) {
    for (const auto& re : spec.pre_tokenizer_regexes) pre.push_back(tok::make_split_pre_tokenizer(re, "Isolated", false));
  } else {
    pre.push_back(tok::make_split_pre_tokenizer(
        spec.pre_tokenizer_regex.empty() ? std::string(tok::kGpt2Pattern) : spec.pre_tokenizer_regex, "Isolated", false));
  }
  pre.push_back(tok::make_byte_level_pre_tokenizer(false, false));
  tok::PostProcessor post;
  if (spec.add_bos && spec.bos_id) post.prefix.push_back(*spec.bos_id);
  TokenizerConfig cfg;
  if (spec.bos_id) cfg.bos_token = spec.tokens[static_cast<size_t>(*spec.bos_id)];
  if (spec.eos_id) cfg.eos_token = spec.tokens[static_cast<size_t>(*spec.eos_id)];
  cfg.extra_eos_ids = spec.extra_eos_ids;
  cfg.chat_template = spec.chat_template;
  return std::make_shared<HfTokenizer>(std::move(model), nullptr, tok::make_sequence_pre_tokenizer(std::move(pre)), post,
                                       tok::make_byte_level_decoder(), std::move(added), std::move(cfg));
}

}  // namespace tessera::lm
