// adopt_device_memory in builds without CUDA: a clear error (the GPU side is in gpu_interop_tests).
#include "tessera/interop.h"
#include "test_utils.h"

using namespace tessera;

#ifndef TESSERA_CUDA
TEST(Interop, AdoptDeviceMemoryNeedsCuda) {
  bool released = false;
  float dummy = 0.0f;
  try {
    adopt_device_memory(&dummy, {1}, float32, [&] { released = true; });
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("[gpu]"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(released);
}
#endif
