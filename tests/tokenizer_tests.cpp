// Tokenizers against the reference implementations: llama.cpp test vectors and fixtures made with PyPI
// `tokenizers` / `sentencepiece` (tests/fixtures/tokenizers/make_fixtures.py), plus error cases.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tessera/lm/load_tokenizer.h"
#include "tessera/lm/tokenizers/hf_tokenizer.h"
#include "tessera/lm/tokenizers/sentencepiece_tokenizer.h"
#include "tessera/lm/tokenizers/vocab_tokenizer.h"
#include "test_utils.h"

namespace fs = std::filesystem;
using tessera::lm::load_tokenizer;
using tessera::lm::Tokenizer;

namespace {

const std::string kData = TESSERA_SHARED_DATA;

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Large tokenizers are loaded once per test run (loading is tested by every first use).
std::shared_ptr<Tokenizer> cached_load(const std::string& path) {
  static std::map<std::string, std::shared_ptr<Tokenizer>> cache;
  auto& t = cache[path];
  if (!t) t = load_tokenizer(path);
  return t;
}

// llama.cpp test vectors. The .inp file holds texts, each followed by "\n__ggml_vocab_test__\n" (so a text's own
// leading/trailing newlines are kept; the separator's newlines are not part of it). The .out file holds one line per
// text of space-separated ids. llama.cpp's test-tokenizer-0 tokenizes with add_special=false (no BOS), so these
// are compared with encode(text, /*add_special_tokens=*/false).
struct Vectors {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
};

Vectors read_vectors(const std::string& base) {
  Vectors v;
  std::string inp = slurp(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < inp.size();) {
    size_t e = inp.find(sep, pos);
    if (e == std::string::npos) break;
    v.texts.push_back(inp.substr(pos, e - pos));
    pos = e + sep.size();
  }
  std::istringstream out(slurp(base + ".out"));
  std::string line;
  while (std::getline(out, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    int32_t x;
    while (ls >> x) ids.push_back(x);
    v.ids.push_back(ids);
  }
  return v;
}

void check_vectors(const Tokenizer& tok, const std::string& base) {
  auto v = read_vectors(base);
  ASSERT_EQ(v.texts.size(), 46u);
  ASSERT_EQ(v.texts.size(), v.ids.size());
  for (size_t i = 0; i < v.texts.size(); ++i) {
    EXPECT_EQ(tok.encode(v.texts[i], false), v.ids[i]) << "text #" << i << ": '" << v.texts[i] << "'";
  }
}

}  // namespace

TEST(TokenizerVectors, Llama3MatchesLlamaCpp) {
  auto tok = cached_load(kData + "/tokenizers/llama3");
  check_vectors(*tok, kData + "/vocab/ggml-vocab-llama-bpe.gguf");
}

TEST(TokenizerVectors, Qwen25MatchesLlamaCpp) {
  auto tok = cached_load(kData + "/tokenizers/qwen2.5/tokenizer.json");
  check_vectors(*tok, kData + "/vocab/ggml-vocab-qwen2.gguf");
}

TEST(TokenizerVectors, Llama2SentencePieceMatchesLlamaCpp) {
  auto tok = cached_load(kData + "/tokenizers/llama2/tokenizer.model");
  check_vectors(*tok, kData + "/vocab/ggml-vocab-llama-spm.gguf");
}

namespace {

const std::string kFixtures = std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/tokenizers";

const nlohmann::json& fixtures() {
  static const nlohmann::json j = nlohmann::json::parse(slurp(kFixtures + "/tokenizer_fixtures.json"));
  return j;
}

std::string show(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o;
}

// Checks ids with and without special tokens, decode of the plain ids, and (HF) decode with skip_special_tokens.
void check_fixture(const Tokenizer& tok, const nlohmann::json& cases, bool hf) {
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    std::string text = c["text"].get<std::string>();
    auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok.encode(text, false), ids) << "text: '" << show(text) << "'";
    EXPECT_EQ(tok.encode(text, true), c["ids_special"].get<std::vector<int32_t>>()) << "text: '" << show(text) << "'";
    EXPECT_EQ(tok.decode(ids, false), c["decoded"].get<std::string>()) << "text: '" << show(text) << "'";
    if (hf) {
      EXPECT_EQ(tok.decode(c["ids_special"].get<std::vector<int32_t>>(), true), c["decoded_skip"].get<std::string>())
          << "text: '" << show(text) << "'";
    }
    // Round trip wherever the reference itself round-trips.
    if (c["decoded"].get<std::string>() == text) EXPECT_EQ(tok.decode(tok.encode(text, false)), text);
  }
}

}  // namespace

TEST(TokenizerFixtures, Llama3TokenizerJson) {
  check_fixture(*cached_load(kData + "/tokenizers/llama3"), fixtures()["hf"]["llama3"], true);
}
TEST(TokenizerFixtures, Qwen25TokenizerJson) {
  check_fixture(*cached_load(kData + "/tokenizers/qwen2.5"), fixtures()["hf"]["qwen2.5"], true);
}
TEST(TokenizerFixtures, GemmaTokenizerJson) {
  check_fixture(*cached_load(kData + "/tokenizers/gemma"), fixtures()["hf"]["gemma"], true);
}
TEST(TokenizerFixtures, UnigramTokenizerJson) {
  check_fixture(*cached_load(kFixtures + "/unigram_tiny.json"), fixtures()["hf"]["unigram_tiny"], true);
}
TEST(TokenizerFixtures, BpeMetaspaceByteFallbackTokenizerJson) {
  check_fixture(*cached_load(kFixtures + "/bpe_metaspace_tiny.json"), fixtures()["hf"]["bpe_metaspace_tiny"], true);
}
TEST(TokenizerFixtures, ByteLevelRobertaTokenizerJson) {
  check_fixture(*cached_load(kFixtures + "/bytelevel_tiny.json"), fixtures()["hf"]["bytelevel_tiny"], true);
}
TEST(TokenizerFixtures, WordPieceBertTokenizerJson) {
  check_fixture(*cached_load(kFixtures + "/wordpiece_tiny.json"), fixtures()["hf"]["wordpiece_tiny"], true);
}
TEST(TokenizerFixtures, Llama2SentencePiece) {
  check_fixture(*cached_load(kData + "/tokenizers/llama2/tokenizer.model"), fixtures()["sp"]["llama2"], false);
}
TEST(TokenizerFixtures, MistralV1SentencePiece) {
  check_fixture(*cached_load(kData + "/tokenizers/mistral-v1"), fixtures()["sp"]["mistral-v1"], false);
}
TEST(TokenizerFixtures, MistralV3SentencePiece) {
  check_fixture(*cached_load(kData + "/tokenizers/mistral-v3/tokenizer.model"), fixtures()["sp"]["mistral-v3"], false);
}
TEST(TokenizerFixtures, SentencePieceUnigramWithCharsmap) {
  check_fixture(*cached_load(kFixtures + "/sp_unigram_tiny.model"), fixtures()["sp"]["sp_unigram_tiny"], false);
}

namespace {
// Same count and position-weighted checksum as the reference implementation (see make_fixtures.py).
void expect_reference_summary(const std::vector<int32_t>& ids, const std::string& name) {
  const auto& ref = fixtures()["war_and_peace"][name];
  EXPECT_EQ(ids.size(), ref["count"].get<size_t>()) << name;
  const unsigned __int128 mod = (uint64_t{1} << 61) - 1;
  unsigned __int128 sum = 0;
  for (size_t i = 0; i < ids.size(); ++i) sum = (sum + (i + 1) * static_cast<unsigned __int128>(ids[i])) % mod;
  EXPECT_EQ(static_cast<uint64_t>(sum), ref["checksum"].get<uint64_t>()) << name;
}
}  // namespace

TEST(TokenizerSpeed, Llama3WarAndPeace) {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  auto tok = load_tokenizer(kData + "/tokenizers/llama3");
  auto t1 = clock::now();
  std::string book = slurp(kData + "/corpora/war-and-peace.txt");
  ASSERT_GT(book.size(), 1000000u);
  auto ids = tok->encode(book, false);
  auto t2 = clock::now();
  auto ids2 = tok->encode(book, false);  // warm word cache
  auto t3 = clock::now();
  expect_reference_summary(ids, "llama3");
  EXPECT_EQ(ids, ids2);
  EXPECT_EQ(tok->decode(ids), book);

  // Batch over lines (parallel) gives the same ids as line by line.
  std::vector<std::string> lines;
  std::istringstream ss(book);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  auto* hf = dynamic_cast<tessera::lm::HfTokenizer*>(tok.get());
  ASSERT_NE(hf, nullptr);
  auto t4 = clock::now();
  auto batch = hf->encode_batch(lines, false);
  auto t5 = clock::now();
  ASSERT_EQ(batch.size(), lines.size());
  for (size_t i = 0; i < lines.size(); i += 97) EXPECT_EQ(batch[i], tok->encode(lines[i], false)) << i;

  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  double mb = static_cast<double>(book.size()) / 1e6;
  std::printf("[tokenizer] llama3 load %.2f s; encode %.2f MB: cold %.2f MB/s, warm %.2f MB/s, batch of %zu lines %.2f MB/s\n",
              secs(t0, t1), mb, mb / secs(t1, t2), mb / secs(t2, t3), lines.size(), mb / secs(t4, t5));
}

// Whole-book encodes without a pre-tokenizer (Gemma) and with SentencePiece BPE (Llama-2) merge chunk by chunk;
// the result must still equal the reference's whole-text encoding.
TEST(TokenizerSpeed, GemmaAndLlama2WholeBookMatchReference) {
  std::string book = slurp(kData + "/corpora/war-and-peace.txt");
  auto gemma = cached_load(kData + "/tokenizers/gemma");
  auto ids = gemma->encode(book, false);
  expect_reference_summary(ids, "gemma");
  EXPECT_EQ(gemma->decode(ids), book);
  auto llama2 = cached_load(kData + "/tokenizers/llama2");
  ids = llama2->encode(book, false);
  expect_reference_summary(ids, "llama2");
  EXPECT_EQ(llama2->decode(ids), book);
}

// ---- special tokens, options, invalid input, plain-vector construction, errors ----

TEST(TokenizerSpecial, AddedTokensInTextAndSplitOption) {
  auto tok = tessera::lm::load_hf_tokenizer(kData + "/tokenizers/qwen2.5/tokenizer.json");
  auto im_start = tok->token_to_id("<|im_start|>");
  ASSERT_TRUE(im_start.has_value());
  EXPECT_EQ(*im_start, 151644);
  auto ids = tok->encode("<|im_start|>user", false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], *im_start);
  EXPECT_TRUE(tok->is_special(*im_start));
  EXPECT_EQ(tok->decode(ids, true), "user");
  EXPECT_EQ(tok->decode(ids, false), "<|im_start|>user");
  // With split_special_tokens the marker is plain text: no special id appears.
  tok->set_split_special_tokens(true);
  auto split = tok->encode("<|im_start|>user", false);
  EXPECT_EQ(std::count(split.begin(), split.end(), *im_start), 0);
  EXPECT_EQ(tok->decode(split), "<|im_start|>user");
  // Config: EOS from tokenizer_config.json, chat template present, no BOS.
  tok->set_split_special_tokens(false);
  EXPECT_EQ(tok->eos_ids(), std::vector<int32_t>{151645});
  EXPECT_FALSE(tok->bos_id().has_value());
  ASSERT_TRUE(tok->chat_template().has_value());
  EXPECT_NE(tok->chat_template()->find("im_start"), std::string::npos);
}

TEST(TokenizerSpecial, SentencePieceControlTokensStayText) {
  auto tok = cached_load(kData + "/tokenizers/llama2/tokenizer.model");
  EXPECT_EQ(tok->bos_id(), std::optional<int32_t>(1));
  EXPECT_EQ(tok->eos_ids(), std::vector<int32_t>{2});
  auto ids = tok->encode("<s>", false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 0);
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_EQ(tok->decode({1, 15043}, true), "Hello");
  EXPECT_EQ(tok->id_to_token(15043), "\xE2\x96\x81Hello");
  EXPECT_EQ(tok->token_to_id("<0x0A>"), std::optional<int32_t>(13));
}

TEST(TokenizerInvalidUtf8, RepairedToReplacementCharacter) {
  // Invalid bytes are defined to behave as U+FFFD (as Python's errors="replace"), for every tokenizer kind.
  // A truncated sequence (E2 82) is one U+FFFD (its maximal subpart), each byte of a surrogate (ED A0 80) one.
  const std::string bad = "ab\xFF\xC3(\xE2\x82 z\xED\xA0\x80";
  const std::string fixed = "ab\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD z\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD";
  for (const char* name : {"llama3", "gemma", "llama2"}) {
    auto tok = cached_load(kData + "/tokenizers/" + name);
    auto ids = tok->encode(bad, false);
    EXPECT_EQ(ids, tok->encode(fixed, false)) << name;
    EXPECT_EQ(tok->decode(ids), fixed) << name;
  }
  // Decoding ids that form invalid UTF-8 (half of a multi-byte character) gives U+FFFD, never a crash.
  auto l3 = cached_load(kData + "/tokenizers/llama3");
  auto ids = l3->encode("\xF0\x9F\x98\x80", false);  // one emoji: several byte-level tokens
  ASSERT_GE(ids.size(), 2u);
  ids.pop_back();
  EXPECT_NE(l3->decode(ids).find("\xEF\xBF\xBD"), std::string::npos);
  auto l2 = cached_load(kData + "/tokenizers/llama2");
  EXPECT_EQ(l2->decode({0xF0 + 3}), "\xEF\xBF\xBD");  // <0xF0> alone
  EXPECT_EQ(l2->decode({-5, 1 << 30}), "");             // out-of-range ids are ignored
}

TEST(TokenizerVocab, SentencePieceFromVectorsMatchesModelFile) {
  auto file = tessera::lm::parse_sentencepiece_model(slurp(kData + "/tokenizers/llama2/tokenizer.model"));
  tessera::lm::VocabSpec spec;
  spec.kind = tessera::lm::VocabSpec::Kind::kSentencePieceBpe;
  for (const auto& p : file.pieces) {
    spec.tokens.push_back(p.piece);
    spec.scores.push_back(p.score);
    spec.token_types.push_back(p.type);
  }
  spec.bos_id = 1;
  spec.eos_id = 2;
  spec.unk_id = 0;
  auto from_vec = tessera::lm::make_tokenizer_from_vocab(spec);
  auto from_file = cached_load(kData + "/tokenizers/llama2/tokenizer.model");
  auto v = read_vectors(kData + "/vocab/ggml-vocab-llama-spm.gguf");
  for (const auto& t : v.texts) EXPECT_EQ(from_vec->encode(t, true), from_file->encode(t, true)) << t;
  EXPECT_EQ(from_vec->decode(from_vec->encode("Hello\n world"), true), "Hello\n world");
}

TEST(TokenizerVocab, ByteLevelBpeFromVectorsMatchesTokenizerJson) {
  // Rebuild Llama-3 from plain vectors (as a GGUF loader would) and compare with llama.cpp's vectors.
  auto j = nlohmann::json::parse(slurp(kData + "/tokenizers/llama3/tokenizer.json"));
  tessera::lm::VocabSpec spec;
  spec.kind = tessera::lm::VocabSpec::Kind::kByteLevelBpe;
  spec.tokens.resize(128256);
  spec.token_types.assign(128256, 1);
  for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it)
    spec.tokens[it.value().get<size_t>()] = it.key();
  for (const auto& a : j["added_tokens"]) {
    spec.tokens[a["id"].get<size_t>()] = a["content"].get<std::string>();
    spec.token_types[a["id"].get<size_t>()] = 3;
  }
  for (const auto& m : j["model"]["merges"]) spec.merges.push_back(m.get<std::string>());
  spec.pre_tokenizer_regex = j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"].get<std::string>();
  spec.ignore_merges = true;
  spec.bos_id = 128000;
  spec.eos_id = 128001;
  spec.extra_eos_ids = {128009};
  auto tok = tessera::lm::make_tokenizer_from_vocab(spec);
  auto v = read_vectors(kData + "/vocab/ggml-vocab-llama-bpe.gguf");
  for (size_t i = 0; i < v.texts.size(); ++i) {
    auto ids = tok->encode(v.texts[i], true);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 128000);
    EXPECT_EQ(std::vector<int32_t>(ids.begin() + 1, ids.end()), v.ids[i]) << i;
  }
  EXPECT_EQ(tok->eos_ids(), (std::vector<int32_t>{128001, 128009}));
  EXPECT_EQ(tok->decode(tok->encode("<|eot_id|>x", false), true), "x");
}

TEST(TokenizerErrors, BadPathsAndFiles) {
  auto expect_tok_error = [](auto f) {
    try {
      f();
      ADD_FAILURE() << "no exception";
    } catch (const std::exception& e) {
      EXPECT_EQ(std::string(e.what()).rfind("[tokenizer] ", 0), 0u) << e.what();
    }
  };
  auto dir = fs::temp_directory_path() / ("tessera_tok_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return (dir / name).string();
  };
  expect_tok_error([&] { load_tokenizer((dir / "missing").string()); });
  expect_tok_error([&] { load_tokenizer(dir.string()); });  // empty directory
  expect_tok_error([&] { load_tokenizer(write("bad.json", "{\"model\": {\"type\": \"BPE\", ")); });
  expect_tok_error([&] { load_tokenizer(write("unknown.json", R"({"model": {"type": "Magic", "vocab": {}}})")); });
  expect_tok_error([&] { load_tokenizer(write("nomodel.json", R"({"version": "1.0"})")); });
  expect_tok_error([&] {
    load_tokenizer(write("badmerge.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})"));
  });
  expect_tok_error([&] {
    load_tokenizer(write("badpre.json",
                         R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Nope"}})"));
  });
  expect_tok_error([&] {
    load_tokenizer(write("badregex.json",
                         R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                             "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}})"));
  });
  expect_tok_error([&] {
    load_tokenizer(write("badadded.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                                             "added_tokens": [{"id": 2147483647, "content": "x"}]})"));
  });
  expect_tok_error([&] { load_tokenizer(write("trunc.model", std::string("\x0a\xff\xff\xff\x0f", 5))); });
  expect_tok_error([&] { load_tokenizer(write("empty.model", "")); });
  expect_tok_error([&] { load_tokenizer(write("text.bin", "hello")); });
  // Truncations of a real model never crash: they throw or parse a prefix.
  std::string real = slurp(kData + "/tokenizers/llama2/tokenizer.model");
  for (size_t cut : {size_t{1}, size_t{7}, size_t{1000}, real.size() / 2, real.size() - 3}) {
    try {
      tessera::lm::parse_sentencepiece_model(std::string_view(real).substr(0, cut));
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).rfind("[tokenizer] ", 0), 0u);
    }
  }
  tessera::lm::VocabSpec spec;
  expect_tok_error([&] { tessera::lm::make_tokenizer_from_vocab(spec); });
  spec.tokens = {"a", "b"};
  spec.scores = {0.f};
  expect_tok_error([&] { tessera::lm::make_tokenizer_from_vocab(spec); });
  fs::remove_all(dir);
}

TEST(TokenizerModels, WordPieceGreedyLongestMatch) {
  // A hand-made BERT-style tokenizer.json: expected pieces follow from greedy longest-match-first by hand.
  const char* j = R"({
    "normalizer": {"type": "BertNormalizer", "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
    "decoder": {"type": "WordPiece", "prefix": "##"},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "vocab": {"[UNK]": 0, "[PAD]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##aff": 5, "##able": 6,
                        "affable": 7, "!": 8, "hello": 9, "##a": 10}},
    "added_tokens": [{"id": 2, "content": "[CLS]", "special": true}, {"id": 3, "content": "[SEP]", "special": true}]})";
  auto tok = tessera::lm::HfTokenizer::from_json(j);
  EXPECT_EQ(tok->encode("UnAffable affable! xyz", true), (std::vector<int32_t>{2, 4, 5, 6, 7, 8, 0, 3}));
  EXPECT_EQ(tok->decode({4, 5, 6, 7, 8}), "unaffable affable!");
}

TEST(TokenizerModels, UnigramNearTieFollowsSerdeJsonRounding) {
  // `tokenizers` reads JSON floats with serde_json's default (two-rounding) parser; with these scores the two
  // segmentations of "▁---" differ by one ulp or tie depending on it. Expected ids are what `tokenizers` 0.23.3
  // returns for Tokenizer.from_str(<this JSON>).encode(text).ids.
  auto make = [](const std::string& a) {
    return tessera::lm::HfTokenizer::from_json(
        R"({"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["\u2581", )" + a +
        R"(], ["-", -6.703884110664366], ["--", -6.443298969276074]]}})");
  };
  auto t1 = make("-3.1932574830059846"), t2 = make("-3.1932574830059837");
  EXPECT_EQ(t1->encode("\xE2\x96\x81---"), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(t1->encode("\xE2\x96\x81-----"), (std::vector<int32_t>{1, 3, 3, 2}));
  EXPECT_EQ(t2->encode("\xE2\x96\x81---"), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(t2->encode("\xE2\x96\x81-----"), (std::vector<int32_t>{1, 2, 3, 3}));
}
