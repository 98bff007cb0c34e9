// fast::cuda_kernel without a GPU: argument checks, the generated signature (verbose) and the clear
// "needs a GPU" error of a CPU stream (the kernels themselves run in tests/gpu_nvrtc_tests.cpp).
#include "tessera/primitives/custom_kernel.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

const char* kBody = "  const int i = blockIdx.x * blockDim.x + threadIdx.x;\n  if (i < inp_shape[0]) out[i] = inp[i];\n";

std::vector<array> call(const fast::CudaKernelFunction& k, const std::vector<array>& ins,
                        std::tuple<int, int, int> tg = {32, 1, 1},
                        const std::vector<std::pair<std::string, fast::TemplateArg>>& tmpl = {},
                        bool verbose = false) {
  return k(ins, {{4}}, {float32}, {4, 1, 1}, tg, tmpl, std::nullopt, verbose, Device::cpu);
}

}  // namespace

TEST(CudaKernel, CpuStreamGivesClearError) {
  auto k = fast::cuda_kernel("copy", {"inp"}, {"out"}, kBody);
  auto x = array({1.0f, 2.0f, 3.0f, 4.0f});
  try {
    call(k, {x});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("[cuda_kernel] needs a GPU"), std::string::npos) << e.what();
  }
  // A CustomKernel node evaluated on the CPU (built directly) fails the same way.
  fast::CustomKernelLaunch launch;
  auto y = array({4}, float32, std::make_shared<fast::CustomKernel>(to_stream(Device::cpu), launch), {x});
  auto msg = error_message([&] { eval(y); });
  EXPECT_NE(msg.find("[cuda_kernel] needs a GPU"), std::string::npos) << msg;
}

TEST(CudaKernel, ArgumentChecks) {
  EXPECT_THROW(fast::cuda_kernel("bad name", {"inp"}, {"out"}, kBody), std::invalid_argument);
  EXPECT_THROW(fast::cuda_kernel("k", {"1inp"}, {"out"}, kBody), std::invalid_argument);
  EXPECT_THROW(fast::cuda_kernel("k", {"inp"}, {"inp"}, kBody), std::invalid_argument);  // repeated name
  EXPECT_THROW(fast::cuda_kernel("k", {"inp"}, {}, kBody), std::invalid_argument);       // no output
  EXPECT_THROW(fast::cuda_kernel("k", {"inp"}, {"out"}, kBody, "", true, -1), std::invalid_argument);
  auto k = fast::cuda_kernel("copy", {"inp"}, {"out"}, kBody);
  auto x = array({1.0f, 2.0f, 3.0f, 4.0f});
  EXPECT_THROW(call(k, {}), std::invalid_argument);      // input count
  EXPECT_THROW(call(k, {x, x}), std::invalid_argument);
  EXPECT_THROW(call(k, {x}, {2048, 1, 1}), std::invalid_argument);  // threadgroup too large
  EXPECT_THROW(call(k, {x}, {0, 1, 1}), std::invalid_argument);
  EXPECT_THROW(call(k, {x}, {32, 1, 1}, {{"not valid", 1}}), std::invalid_argument);
  EXPECT_THROW(call(k, {x}, {32, 1, 1}, {{"inp", 1}}), std::invalid_argument);  // clashes with an input
  EXPECT_THROW(call(k, {astype(x, complex64)}), std::invalid_argument);
  EXPECT_THROW(k({x}, {{4}, {4}}, {float32}, {4, 1, 1}, {4, 1, 1}, {}, std::nullopt, false, Device::cpu),
               std::invalid_argument);  // output shapes vs names
  EXPECT_THROW(k({x}, {{-4}}, {float32}, {4, 1, 1}, {4, 1, 1}, {}, std::nullopt, false, Device::cpu),
               std::invalid_argument);
  EXPECT_THROW(k({x}, {{4}}, {float32}, {-1, 1, 1}, {4, 1, 1}, {}, std::nullopt, false, Device::cpu),
               std::invalid_argument);
}

TEST(CudaKernel, GeneratedSignature) {
  // verbose prints the source before the device check, so the signature is visible on the CPU.
  auto k = fast::cuda_kernel("scale", {"inp", "w"}, {"out"},
                             "  out[0] = static_cast<T>(inp[0] * N) + w[0] * inp_strides[0];\n",
                             "__device__ float helper(float v) { return v; }");
  auto x = astype(array({1.0f, 2.0f, 3.0f, 4.0f}), float16);
  auto w = array({1.0f});
  ::testing::internal::CaptureStdout();
  EXPECT_THROW(call(k, {x, w}, {32, 1, 1}, {{"T", float16}, {"N", 4}, {"FLAG", false}}, true), std::runtime_error);
  std::string src = ::testing::internal::GetCapturedStdout();
  for (const char* part : {"#include <cuda_fp16.h>", "__device__ float helper(float v)",
                           "extern \"C\" __global__ void tessera_kernel_scale(",
                           "const __half* __restrict__ inp, const tessera_dims<long long> inp_strides, "
                           "const float* __restrict__ w, float* __restrict__ out)",
                           "using T = __half;", "constexpr int N = 4;", "constexpr bool FLAG = false;"}) {
    EXPECT_NE(src.find(part), std::string::npos) << "missing '" << part << "' in\n" << src;
  }
  // Unused shape/ndim parameters are left out; inp_shape is not mentioned.
  EXPECT_EQ(src.find("inp_shape"), std::string::npos);
  EXPECT_EQ(src.find("inp_ndim"), std::string::npos);
  EXPECT_EQ(src.find("cuda_bf16.h"), std::string::npos);
}
