// Tests of the progress reporting of long model steps: the bar's text, load-time quantization and
// convert's per-tensor callback on stories260K.
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "tessera/io/safetensors.h"
#include "tessera/lm/convert.h"
#include "tessera/lm/load.h"
#include "tessera/lm/progress.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::lm;

namespace fs = std::filesystem;

namespace {

const std::string kModel = std::string(TESSERA_SHARED_DATA) + "/models/stories260K/stories260K.bin";

struct Call {
  std::string stage;
  size_t done, total;
};

ProgressFn recorder(std::vector<Call>& calls) {
  return [&calls](const std::string& s, size_t d, size_t t) { calls.push_back({s, d, t}); };
}

// Every stage counts 1, 2, ..., total in order.
void expect_counts_up(const std::vector<Call>& calls, const std::string& stage_prefix) {
  ASSERT_FALSE(calls.empty());
  size_t expect = 0;
  std::string stage = calls[0].stage;
  for (const auto& c : calls) {
    EXPECT_EQ(c.stage.rfind(stage_prefix, 0), 0u) << c.stage;
    if (c.stage != stage) {
      expect = 0;
      stage = c.stage;
    }
    EXPECT_EQ(c.done, ++expect);
    EXPECT_LE(c.done, c.total);
  }
  EXPECT_EQ(calls.back().done, calls.back().total);
}

}  // namespace

TEST(Progress, BarText) {
  EXPECT_EQ(progress_bar_line("quantizing", 0, 4, 0.0, 8), "quantizing [........] 0/4 0.0s");
  EXPECT_EQ(progress_bar_line("quantizing", 2, 4, 1.25, 8), "quantizing [####....] 2/4 1.2s");
  EXPECT_EQ(progress_bar_line("x", 3, 3, 2.0, 4), "x [####] 3/3 2.0s");
  EXPECT_EQ(progress_bar_line("x", 0, 0, 0.0, 4), "x [####] 0/0 0.0s");  // an empty step is complete
}

TEST(Progress, LoadTimeQuantizationReportsEveryWeight) {
  std::vector<Call> calls;
  auto plain = load(kModel);
  auto q = load(kModel, "", "int8", recorder(calls));
  expect_counts_up(calls, "quantizing");
  EXPECT_GT(calls.back().total, 10u);  // stories260K has 5 layers of 9+ tensors
  // Same model as without the callback: the logits of a few tokens agree closely.
  calls.clear();
  auto q2 = load(kModel, "", "int8");
  auto ids = array({1, 403, 407, 261}, {1, 4}, int32);
  auto a = (*q.model)(ids), b = (*q2.model)(ids), c = (*plain.model)(ids);
  EXPECT_TRUE(tessera::testing::all_close(a, b.to_vector<double>(), 0, 0));
  EXPECT_TRUE(tessera::testing::all_close(a, c.to_vector<double>(), 0.05, 0.5));
  EXPECT_TRUE(calls.empty());
  // No quantization: nothing to report.
  load(kModel, "", "", recorder(calls));
  EXPECT_TRUE(calls.empty());
}

TEST(Progress, ConvertReportsEveryTensorWritten) {
  auto out = fs::temp_directory_path() / ("tessera_progress_" + std::to_string(::getpid()));
  fs::remove_all(out);
  std::vector<Call> calls;
  ConvertOptions o;
  o.tensor_progress = recorder(calls);
  convert(kModel, out.string(), o);
  expect_counts_up(calls, "writing model");
  size_t written = 0;
  for (const auto& c : calls) written += c.done == c.total ? c.total : 0;
  EXPECT_EQ(written, load_safetensors((out / "model.safetensors").string()).first.size());
  calls.clear();
  o.quantize = true;
  o.quantization.bits = 8;
  o.quantization.group_size = 32;
  convert(kModel, (out / "q.gguf").string(), o);
  expect_counts_up(calls, "encoding q.gguf");
  fs::remove_all(out);
}
