// GPU tests of adopt_device_memory (DLPack imports): memory of another owner is read by kernels
// and the host, never written by tessera, and released once, after the last array using it.
#include <cuda_runtime.h>

#include <atomic>
#include <cmath>

#include "tessera/backend/gpu.h"
#include "tessera/interop.h"
#include "gpu_test_utils.h"
#include "test_utils.h"

using namespace tessera;
using namespace tessera::testing;

namespace {

class GpuInterop : public tessera::testing::GpuTest {};

// Device copy of `values` (cudaMalloc'd: owned by the test, like another framework's tensor).
float* to_device(const std::vector<float>& values) {
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, values.size() * sizeof(float)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(p, values.data(), values.size() * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  return static_cast<float*>(p);
}

std::vector<float> from_device(const float* p, size_t n) {
  std::vector<float> out(n);
  EXPECT_EQ(cudaMemcpy(out.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  return out;
}

}  // namespace

TEST_F(GpuInterop, AdoptedMemoryFeedsKernelsAndIsReleasedOnce) {
  std::vector<float> host(2000);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(std::sin(0.01 * static_cast<double>(i)));
  float* p = to_device(host);
  std::atomic<int> released{0};
  {
    array a = adopt_device_memory(p, {40, 50}, float32, [&] { released++; });
    EXPECT_TRUE(a.is_available());
    array b = exp(a);
    eval(b);
    std::vector<double> want(host.size());
    for (size_t i = 0; i < host.size(); ++i) want[i] = std::exp(static_cast<double>(host[i]));
    EXPECT_TRUE(all_close(b, want, 1e-5, 1e-6));
    // A host read makes a host copy; the device memory stays the owner's.
    auto v = a.to_vector<float>();
    EXPECT_EQ(v, host);
    array c = sum(a, std::vector<int>{1});
    eval(c);
    EXPECT_EQ(released.load(), 0);  // still in use by a
  }
  EXPECT_EQ(released.load(), 1);
  EXPECT_EQ(from_device(p, host.size()), host);  // never written
  cudaFree(p);
}

TEST_F(GpuInterop, AdoptedMemoryIsNeverDonatedToKernels) {
  std::vector<float> host(256, 1.0f);
  float* p = to_device(host);
  std::atomic<int> released{0};
  {
    // The adopted array is used only by this graph: a host-owned buffer would be written in place.
    array u = slice_update(adopt_device_memory(p, {256}, float32, [&] { released++; }), array({7.0f, 8.0f}, {2}),
                           Shape{0}, Shape{2});
    array e = exp(adopt_device_memory(p, {256}, float32, [&] { released++; }));
    eval({u, e});
    auto uv = u.to_vector<float>();
    EXPECT_EQ(uv[0], 7.0f);
    EXPECT_EQ(uv[1], 8.0f);
    EXPECT_EQ(uv[2], 1.0f);
    EXPECT_TRUE(all_close(e, std::vector<double>(256, std::exp(1.0)), 1e-6, 1e-6));
  }
  EXPECT_EQ(released.load(), 2);
  EXPECT_EQ(from_device(p, host.size()), host);
  cudaFree(p);
}

TEST_F(GpuInterop, EmptyAdoptionReleasesAtOnce) {
  int released = 0;
  array a = adopt_device_memory(nullptr, {0, 3}, float32, [&] { released++; });
  EXPECT_EQ(released, 1);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.shape(), (Shape{0, 3}));
}

TEST_F(GpuInterop, ExportedBlocksReturnToThePool) {
  size_t before = get_active_memory_on(Device::gpu);
  {
    array a = exp(random_array({4096}, float32, -1, 1, 3));
    eval(a);
    ASSERT_NE(a.data_shared_ptr()->device_ptr, nullptr);
    gpu::mark_exported(a.data_shared_ptr()->device_ptr);  // as a DLPack device export does
    EXPECT_GT(get_active_memory_on(Device::gpu), before);
  }
  EXPECT_EQ(get_active_memory_on(Device::gpu), before);  // freed (after a device sync), not leaked
}
