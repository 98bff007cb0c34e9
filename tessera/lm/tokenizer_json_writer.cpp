// VocabSpec -> tokenizer.json / tokenizer_config.json / generation_config.json (HF `tokenizers` serialization).
#include "tessera/lm/tokenizer_json_writer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kSpace = "\xE2\x96\x81";  // "▁"

int type_of(const VocabSpec& s, size_t i) { return s.token_types.empty() ? 1 : s.token_types[i]; }


std::optional<std::string> text_of(const VocabSpec& s, std::optional<int32_t> id) {
  if (!id) return std::nullopt;
  return s.tokens[static_cast<size_t>(*id)];
}

json added_tokens(const VocabSpec& s) {
  json out = json::array();
  const bool spm = s.kind != VocabSpec::Kind::kByteLevelBpe;
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    int t = type_of(s, i);
    bool special = t == 3 || (spm && t == 2);
    if (!special && t != 4) continue;
    out.push_back({{"id", i}, {"content", s.tokens[i]}, {"single_word", false}, {"lstrip", false},
                   {"rstrip", false}, {"normalized", !special && !spm}, {"special", special}});
  }
  return out;
}

json bos_post_processor(const VocabSpec& s) {
  const std::string bos = s.tokens[static_cast<size_t>(*s.bos_id)];
  auto special = [&] { return json{{"SpecialToken", {{"id", bos}, {"type_id", 0}}}}; };
  auto seq = [](const char* id, int type) { return json{{"Sequence", {{"id", id}, {"type_id", type}}}}; };
  return {{"type", "TemplateProcessing"},
          {"single", {special(), seq("A", 0)}},
          {"pair", {special(), seq("A", 0), special(), seq("B", 1)}},
          {"special_tokens", {{bos, {{"id", bos}, {"ids", {*s.bos_id}}, {"tokens", {bos}}}}}}};
}

json merges_json(const std::vector<std::pair<std::string, std::string>>& merges) {
  json out = json::array();
  for (const auto& [a, b] : merges) out.push_back({a, b});
  return out;
}

json vocab_json(const VocabSpec& s) {
  json v = json::object();
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    if (v.contains(s.tokens[i])) continue;  // duplicate texts (rare in GGUF files): only the first id is written
    v[s.tokens[i]] = i;
  }
  return v;
}

json sentencepiece_bpe_json(const VocabSpec& s) {
  json normalizer = nullptr;
  json replace_space = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}};
  if (s.add_space_prefix) {
    normalizer = {{"type", "Sequence"},
                  {"normalizers", {{{"type", "Prepend"}, {"prepend", kSpace}}, replace_space}}};
  } else {
    normalizer = replace_space;
  }
  json decoders = {{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                   {{"type", "ByteFallback"}},
                   {{"type", "Fuse"}}};
  if (s.add_space_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  json model = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", text_of(s, s.unk_id) ? json(*text_of(s, s.unk_id)) : json(nullptr)},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", true},
                {"byte_fallback", s.byte_fallback},
                {"ignore_merges", false},
                {"vocab", vocab_json(s)},
                {"merges", merges_json(sentencepiece_merges(s))}};
  return {{"normalizer", normalizer},
          {"pre_tokenizer", nullptr},
          {"model", model},
          {"decoder", {{"type", "Sequence"}, {"decoders", decoders}}}};
}

json byte_level_bpe_json(const VocabSpec& s) {
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(s.merges.size());
  for (const auto& m : s.merges) {
    auto sp = m.find(' ');
    if (sp == std::string::npos) throw std::invalid_argument("[tokenizer] bad BPE merge '" + m + "'");
    merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  std::vector<std::string> regexes = s.pre_tokenizer_regexes;
  if (regexes.empty() && !s.pre_tokenizer_regex.empty()) regexes.push_back(s.pre_tokenizer_regex);
  json pres = json::array();
  for (const auto& re : regexes) {
    pres.push_back({{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}});
  }
  // No regex given: ByteLevel's own (GPT-2) split.
  pres.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                  {"use_regex", regexes.empty()}});
  json model = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", s.ignore_merges},
                {"vocab", vocab_json(s)},
                {"merges", merges_json(merges)}};
  return {{"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", pres}}},
          {"model", model},
          {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}}};
}

void write_json(const fs::path& p, const json& j) {
  std::ofstream out(p, std::ios::binary);
  out << j.dump(2, ' ', false, json::error_handler_t::strict);
  if (!out) throw std::runtime_error("[tokenizer] cannot write " + p.string());
}

}  // namespace

std::vector<std::pair<std::string, std::string>> sentencepiece_merges(const VocabSpec& s) {
  validate_vocab_spec(s);
  std::unordered_map<std::string_view, int32_t> ids;
  for (size_t i = 0; i < s.tokens.size(); ++i) ids.emplace(s.tokens[i], static_cast<int32_t>(i));
  struct Merge {
    float score;
    int32_t piece, left, right;
    size_t cut;
  };
  std::vector<Merge> merges;
  for (size_t i = 0; i < s.tokens.size(); ++i) {
    if (type_of(s, i) != 1) continue;  // only normal pieces come out of SentencePiece merges
    const std::string& p = s.tokens[i];
    for (size_t cut = tok::utf8_len(p, 0); cut < p.size(); cut += tok::utf8_len(p, cut)) {
      auto l = ids.find(std::string_view(p).substr(0, cut));
      auto r = ids.find(std::string_view(p).substr(cut));
      if (l == ids.end() || r == ids.end()) continue;
      merges.push_back({s.scores.empty() ? 0.f : s.scores[i], static_cast<int32_t>(i), l->second, r->second, cut});
    }
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.piece != b.piece) return a.piece < b.piece;
    if (a.left != b.left) return a.left < b.left;
    return a.right < b.right;
  });
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const auto& m : merges) {
    const std::string& p = s.tokens[static_cast<size_t>(m.piece)];
    out.emplace_back(p.substr(0, m.cut), p.substr(m.cut));
  }
  return out;
}

json tokenizer_json_from_vocab(const VocabSpec& s) {
  validate_vocab_spec(s);
  json body;
  switch (s.kind) {
    case VocabSpec::Kind::kSentencePieceBpe: body = sentencepiece_bpe_json(s); break;
    case VocabSpec::Kind::kByteLevelBpe: body = byte_level_bpe_json(s); break;
    default: throw std::invalid_argument("[tokenizer] writing a SentencePiece Unigram vocabulary as tokenizer.json is not supported yet");
  }
  json post = nullptr;
  if (s.add_bos && s.bos_id) {
    post = bos_post_processor(s);
  } else if (s.kind == VocabSpec::Kind::kByteLevelBpe) {
    post = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  }
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added_tokens(s)},
          {"normalizer", body["normalizer"]},
          {"pre_tokenizer", body["pre_tokenizer"]},
          {"post_processor", post},
          {"decoder", body["decoder"]},
          {"model", body["model"]}};
}

json tokenizer_config_from_vocab(const VocabSpec& s) {
  validate_vocab_spec(s);
  json c = {{"add_bos_token", s.add_bos && s.bos_id.has_value()},
            {"add_eos_token", false},
            {"clean_up_tokenization_spaces", false},
            {"tokenizer_class", "PreTrainedTokenizerFast"},
            {"model_max_length", 1000000000}};
  auto put = [&](const char* key, std::optional<int32_t> id) {
    if (auto t = text_of(s, id)) c[key] = *t;
  };
  put("bos_token", s.bos_id);
  put("eos_token", s.eos_id);
  put("unk_token", s.unk_id);
  put("pad_token", s.pad_id);
  if (s.kind != VocabSpec::Kind::kByteLevelBpe) c["legacy"] = true;
  if (s.chat_template) c["chat_template"] = *s.chat_template;
  return c;
}

VocabSpec vocab_spec_from_llama2c(const Llama2cTokenizer& t) {
  VocabSpec s;
  s.kind = VocabSpec::Kind::kSentencePieceBpe;
  const int32_t n = t.vocab_size();
  s.tokens.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    std::string p = t.id_to_token(i);
    s.tokens.push_back(p);
    s.scores.push_back(t.score(i));
    bool byte = p.size() == 6 && p.rfind("<0x", 0) == 0 && p[5] == '>';
    s.token_types.push_back(i == 0 ? 2 : t.is_special(i) ? 3 : byte ? 6 : 1);
  }
  s.unk_id = 0;
  s.bos_id = 1;
  s.eos_id = 2;
  s.extra_eos_ids = {1};
  s.add_bos = true;
  s.add_space_prefix = true;
  s.byte_fallback = true;
  return s;
}

std::vector<std::string> write_tokenizer_files(const VocabSpec& s, const std::string& dir) {
  const fs::path d(dir);
  std::vector<std::string> written;
  auto put = [&](const char* name, const json& j) {
    if (fs::exists(d / name)) return;
    write_json(d / name, j);
    written.emplace_back(name);
  };
  put("tokenizer.json", tokenizer_json_from_vocab(s));
  put("tokenizer_config.json", tokenizer_config_from_vocab(s));
  std::vector<int32_t> eos;
  if (s.eos_id) eos.push_back(*s.eos_id);
  for (int32_t id : s.extra_eos_ids)
    if (std::find(eos.begin(), eos.end(), id) == eos.end()) eos.push_back(id);
  if (!eos.empty()) {
    json g = {{"eos_token_id", eos.size() == 1 ? json(eos[0]) : json(eos)}};
    if (s.bos_id) g["bos_token_id"] = *s.bos_id;
    put("generation_config.json", g);
  }
  return written;
}

}  // namespace tessera::lm
