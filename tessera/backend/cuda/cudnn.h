// cuDNN path of the CUDA backend (attention prefill, convolution): libcudnn.so.9 is opened with
// dlopen at first use, never linked; what it cannot run (or when absent / disabled) falls back to
// tessera's own kernels. Control: environment variable TESSERA_CUDNN=0 or set_cudnn_enabled(false);
// TESSERA_CUDNN_VERBOSE=1 prints why a graph was declined; TESSERA_CUDNN_LIBRARY names the library.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::cuda {

// Whether the cuDNN path was compiled in (cudnn.h and the cudnn-frontend headers found by CMake).
bool cudnn_compiled();
// Whether cuDNN is used now: compiled, enabled and libcudnn.so.9 (cuDNN >= 9) loaded. The first
// call opens the library.
bool cudnn_available();
// Enables or disables the path at run time (enabling still needs the library); returns the previous
// setting. The default is on unless TESSERA_CUDNN is "0".
bool set_cudnn_enabled(bool on);
// cuDNN version of the loaded library (e.g. 91400), 0 when not loaded.
int cudnn_version();
// Why cuDNN is not available ("" when it is).
std::string cudnn_status();

// Counters since process start, to observe which path ran: runs on cuDNN, calls declined (shape,
// dtype, mask, disabled or unsupported graph: the caller falls back), graphs built and graphs that
// cuDNN could not support (cached as such, so they are tried once).
struct CudnnStats {
  size_t sdpa_runs = 0, sdpa_declined = 0;
  size_t conv_runs = 0, conv_declined = 0;
  size_t graphs_built = 0, graphs_failed = 0;
};
CudnnStats cudnn_stats();

// Attention prefill on cuDNN's fused flash attention (frontend sdpa node), f16/bf16, D == Dv in
// {64, 128}, no mask array (causal or none), Hq a multiple of Hkv, Lq <= Lk when causal (the
// diagonal is bottom-right aligned like tessera's), q/k/v/out 16-byte aligned with unit last stride
// and strides of dims 0..2 multiples of 8 elements; out is contiguous (B, Hq, Lq, Dv). Returns false
// with nothing launched when not supported.
bool cudnn_sdpa(int dt, const SdpaArgs& a, cudaStream_t st);

// Forward convolution in MLX's channels-last layout: x (N, *in, Cin), w (Cout, *kernel, Cin / groups),
// y (N, *out, Cout), all contiguous and 16-byte aligned; 1 to 3 spatial dims, symmetric padding.
// f32 (no TF32 tensor cores, so it matches the CPU), f16, bf16 (f32 accumulation). Returns false
// with nothing launched when not supported.
struct CudnnConvArgs {
  const void* x = nullptr;
  const void* w = nullptr;
  void* y = nullptr;
  int nsp = 0;  // spatial dims
  int64_t N = 0, Cin = 0, Cout = 0, groups = 1;
  int64_t in[3] = {1, 1, 1}, kernel[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, padding[3] = {0, 0, 0}, dilation[3] = {1, 1, 1};
};
bool cudnn_conv(int dt, const CudnnConvArgs& a, cudaStream_t st);

}  // namespace tessera::cuda
