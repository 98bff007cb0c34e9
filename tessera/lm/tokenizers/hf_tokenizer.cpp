// The tokenizer.json pipeline and its loader.
#include "tessera/lm/tokenizers/hf_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "tessera/backend/cpu/threading.h"
#include "tessera/lm/tokenizers/bpe.h"
#include "tessera/lm/tokenizers/serde_float.h"
#include "tessera/lm/tokenizers/unigram.h"
#include "tessera/lm/tokenizers/utf8.h"

namespace tessera::lm {

using json = nlohmann::json;
namespace fs = std::filesystem;

HfTokenizer::HfTokenizer(std::unique_ptr<tok::Model> model, std::unique_ptr<tok::Normalizer> normalizer,
                         std::unique_ptr<tok::PreTokenizer> pre_tokenizer, tok::PostProcessor post,
                         std::unique_ptr<tok::Decoder> decoder, std::vector<tok::AddedToken> added,
                         TokenizerConfig config)
    : model_(std::move(model)),
      normalizer_(std::move(normalizer)),
      pre_tokenizer_(std::move(pre_tokenizer)),
      post_(std::move(post)),
      decoder_(std::move(decoder)),
      added_(std::move(added)),
      config_(std::move(config)) {
  if (!model_) throw std::invalid_argument("[tokenizer] a tokenizer needs a model");
}

void HfTokenizer::encode_text(const std::string& raw, bool at_origin, std::vector<int32_t>& out) const {
  std::string text = raw;
  if (normalizer_) normalizer_->normalize(text);
  std::vector<tok::Split> splits;
  if (added_.has_normalized()) {
    for (const auto& seg : added_.split(text, true, config_.split_special_tokens)) {
      if (seg.id >= 0) {
        if (!splits.empty()) {
          if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(splits);
          for (const auto& s : splits) model_->tokenize(s.text, out);
          splits.clear();
        }
        out.push_back(seg.id);
      } else {
        splits.push_back({text.substr(seg.begin, seg.end - seg.begin), at_origin && seg.begin == 0});
      }
    }
  } else {
    splits.push_back({std::move(text), at_origin});
  }
  if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(splits);
  for (const auto& s : splits) model_->tokenize(s.text, out);
}

std::vector<int32_t> HfTokenizer::encode(std::string_view input, bool add_special_tokens) const {
  // Invalid UTF-8 bytes become U+FFFD first (the reference only accepts valid Unicode strings).
  std::string text = tok::utf8_repair(input);
  std::vector<int32_t> ids;
  for (const auto& seg : added_.split(text, false, config_.split_special_tokens)) {
    if (seg.id >= 0) ids.push_back(seg.id);
    else encode_text(text.substr(seg.begin, seg.end - seg.begin), seg.begin == 0, ids);
  }
  if (!add_special_tokens) return ids;
  std::vector<int32_t> out;
  out.reserve(ids.size() + post_.prefix.size() + post_.suffix.size() + 2);
  out.insert(out.end(), post_.prefix.begin(), post_.prefix.end());
  // tokenizer_config.json add_bos_token / add_eos_token (transformers semantics) when the template lacks them.
  auto bos = bos_id();
  if (post_.prefix.empty() && config_.add_bos_token.value_or(false) && bos) out.push_back(*bos);
  out.insert(out.end(), ids.begin(), ids.end());
  out.insert(out.end(), post_.suffix.begin(), post_.suffix.end());
  if (post_.suffix.empty() && config_.add_eos_token.value_or(false) && config_.eos_token) {
    if (auto e = token_to_id(*config_.eos_token)) out.push_back(*e);
  }
  return out;
}

std::vector<std::vector<int32_t>> HfTokenizer::encode_batch(const std::vector<std::string>& texts,
                                                            bool add_special_tokens) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  cpu::parallel_for(texts.size(), 1, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) out[i] = encode(texts[i], add_special_tokens);
  });
  return out;
}

std::string HfTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const auto* a = added_.by_id(id)) {
      if (skip_special_tokens && a->special) continue;
      tokens.push_back(a->content);
      continue;
    }
    if (id < 0 || id >= model_->vocab_size()) continue;  // unknown ids decode to nothing
    tokens.push_back(model_->id_to_token(id));
  }
  if (decoder_) {
    decoder_->decode_chain(tokens);
    std::string out;
    for (const auto& t : tokens) out += t;
    return out;
  }
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  return out;
}

int32_t HfTokenizer::vocab_size() const {
  int32_t n = model_->vocab_size();
  for (const auto& t : added_.tokens()) n = std::max(n, t.id + 1);
  return n;
}

std::string HfTokenizer::id_to_token(int32_t id) const {
  if (const auto* a = added_.by_id(id)) return a->content;
  return model_->id_to_token(id);
}

std::optional<int32_t> HfTokenizer::token_to_id(std::string_view token) const {
  if (const auto* a = added_.by_content(token)) return a->id;
  return model_->token_to_id(token);
}

std::optional<int32_t> HfTokenizer::bos_id() const {
  if (config_.bos_token) return token_to_id(*config_.bos_token);
  return std::nullopt;
}

std::vector<int32_t> HfTokenizer::eos_ids() const {
  std::vector<int32_t> out;
  if (config_.eos_token) {
    if (auto e = token_to_id(*config_.eos_token)) out.push_back(*e);
  }
  for (int32_t id : config_.extra_eos_ids)
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  return out;
}

bool HfTokenizer::is_special(int32_t id) const {
  const auto* a = added_.by_id(id);
  return a && a->special;
}

namespace {

tok::VocabMap read_vocab_dict(const json& v) {
  if (!v.is_object()) throw std::invalid_argument("[tokenizer] model vocab must be an object of token -> id");
  tok::VocabMap vocab;
  vocab.reserve(v.size());
  for (auto it = v.begin(); it != v.end(); ++it) vocab.emplace(it.key(), it.value().get<int32_t>());
  return vocab;
}

std::unique_ptr<tok::Model> model_from_json(const json& m) {
  std::string type = m.value("type", "");
  if (type.empty() && m.contains("merges")) type = "BPE";
  if (type == "BPE") {
    tok::BpeOptions o;
    if (m.contains("unk_token") && m["unk_token"].is_string()) o.unk_token = m["unk_token"].get<std::string>();
    if (m.contains("continuing_subword_prefix") && m["continuing_subword_prefix"].is_string())
      o.continuing_subword_prefix = m["continuing_subword_prefix"].get<std::string>();
    if (m.contains("end_of_word_suffix") && m["end_of_word_suffix"].is_string())
      o.end_of_word_suffix = m["end_of_word_suffix"].get<std::string>();
    o.fuse_unk = m.value("fuse_unk", false);
    o.byte_fallback = m.value("byte_fallback", false);
    o.ignore_merges = m.value("ignore_merges", false);
    std::vector<std::pair<std::string, std::string>> merges;
    const auto& mj = m.at("merges");
    merges.reserve(mj.size());
    for (const auto& e : mj) {
      if (e.is_string()) {
        const auto& s = e.get_ref<const std::string&>();
        auto sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
          throw std::invalid_argument("[tokenizer] bad BPE merge '" + s + "'");
        merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (e.is_array() && e.size() == 2) {
        merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
      } else {
        throw std::invalid_argument("[tokenizer] BPE merges must be \"a b\" strings or [a, b] pairs");
      }
    }
    return std::make_unique<tok::BpeModel>(read_vocab_dict(m.at("vocab")), merges, std::move(o));
  }
  if (type == "Unigram") {
    std::vector<std::pair<std::string, double>> pieces;
    // Scores rounded as serde_json reads them, so near-ties break as in `tokenizers`.
    for (const auto& e : m.at("vocab"))
      pieces.emplace_back(e.at(0).get<std::string>(), tok::serde_json_float(e.at(1).get<double>()));
    std::optional<int32_t> unk;
    if (m.contains("unk_id") && !m["unk_id"].is_null()) unk = m["unk_id"].get<int32_t>();
    return std::make_unique<tok::UnigramModel>(std::move(pieces), unk, m.value("byte_fallback", false));
  }
  if (type == "WordPiece") {
    return std::make_unique<tok::WordPieceModel>(read_vocab_dict(m.at("vocab")), m.value("unk_token", "[UNK]"),
                                                 m.value("continuing_subword_prefix", "##"),
                                                 m.value("max_input_chars_per_word", size_t{100}));
  }
  throw std::invalid_argument("[tokenizer] unsupported model type '" + type + "'");
}

std::optional<std::string> token_string(const json& j, const char* key) {
  if (!j.contains(key)) return std::nullopt;
  const auto& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("[tokenizer] cannot open " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json parse_json(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw std::invalid_argument("[tokenizer] malformed JSON in " + what + ": " + e.what());
  }
}

}  // namespace

std::shared_ptr<HfTokenizer> HfTokenizer::from_json(const std::string& json_text, TokenizerConfig config) {
  json j = parse_json(json_text, "tokenizer.json");
  if (!j.is_object() || !j.contains("model")) throw std::invalid_argument("[tokenizer] tokenizer.json has no model");
  try {
    std::vector<tok::AddedToken> added;
    if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
      for (const auto& a : j["added_tokens"]) {
        tok::AddedToken t;
        t.content = a.at("content").get<std::string>();
        t.id = a.at("id").get<int32_t>();
        if (t.id < 0 || t.id > (1 << 26)) throw std::invalid_argument("[tokenizer] added token id out of range");
        t.single_word = a.value("single_word", false);
        t.lstrip = a.value("lstrip", false);
        t.rstrip = a.value("rstrip", false);
        t.normalized = a.value("normalized", false);
        t.special = a.value("special", false);
        added.push_back(std::move(t));
      }
    }
    auto null = json();
    auto get = [&](const char* k) -> const json& { return j.contains(k) ? j[k] : null; };
    return std::make_shared<HfTokenizer>(model_from_json(j["model"]), tok::normalizer_from_json(get("normalizer")),
                                         tok::pre_tokenizer_from_json(get("pre_tokenizer")),
                                         tok::post_processor_from_json(get("post_processor")),
                                         tok::decoder_from_json(get("decoder")), std::move(added), std::move(config));
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("[tokenizer] bad tokenizer.json: ") + e.what());
  }
}

std::shared_ptr<HfTokenizer> load_hf_tokenizer(const std::string& path) {
  fs::path p(path);
  if (!fs::is_regular_file(p)) throw std::runtime_error("[tokenizer] no such file: " + path);
  fs::path dir = p.parent_path();
  TokenizerConfig cfg;
  try {
    if (fs::exists(dir / "special_tokens_map.json")) {
      json s = parse_json(read_file(dir / "special_tokens_map.json"), "special_tokens_map.json");
      cfg.bos_token = token_string(s, "bos_token");
      cfg.eos_token = token_string(s, "eos_token");
    }
    if (fs::exists(dir / "tokenizer_config.json")) {
      json c = parse_json(read_file(dir / "tokenizer_config.json"), "tokenizer_config.json");
      if (auto b = token_string(c, "bos_token")) cfg.bos_token = b;
      if (auto e = token_string(c, "eos_token")) cfg.eos_token = e;
      if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean()) cfg.add_bos_token = c["add_bos_token"].get<bool>();
      if (c.contains("add_eos_token") && c["add_eos_token"].is_boolean()) cfg.add_eos_token = c["add_eos_token"].get<bool>();
      if (c.contains("split_special_tokens") && c["split_special_tokens"].is_boolean())
        cfg.split_special_tokens = c["split_special_tokens"].get<bool>();
      if (c.contains("chat_template")) {
        const auto& t = c["chat_template"];
        if (t.is_string()) {
          cfg.chat_template = t.get<std::string>();
        } else if (t.is_array()) {  // [{"name": ..., "template": ...}]: the "default" one, else the first
          for (const auto& e : t) {
            if (e.value("name", "") == "default" || !cfg.chat_template) cfg.chat_template = e.value("template", "");
          }
        }
      }
    }
    if (fs::exists(dir / "generation_config.json")) {
      json g = parse_json(read_file(dir / "generation_config.json"), "generation_config.json");
      if (g.contains("eos_token_id")) {
        const auto& e = g["eos_token_id"];
        if (e.is_number_integer()) cfg.extra_eos_ids.push_back(e.get<int32_t>());
        else if (e.is_array())
          for (const auto& x : e) cfg.extra_eos_ids.push_back(x.get<int32_t>());
      }
    }
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("[tokenizer] bad tokenizer config: ") + e.what());
  }
  return HfTokenizer::from_json(read_file(p), std::move(cfg));
}

}  // namespace tessera::lm
