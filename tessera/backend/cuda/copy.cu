// CUDA copies: strided (broadcast, transposed, sliced) copies with dtype conversion among every dtype
// (bool, all integer widths, f16, bf16, f32, f64, complex64 with the CPU's rules), and fills.
#include "tessera/backend/cuda/kernels/dtypes.cuh"

namespace tessera::cuda {

namespace {

// complex64 as stored: interleaved real and imaginary float32.
struct alignas(8) cf32 {
  float re, im;
};

// The CPU's conversion rules (backend/cpu/copy.cpp): complex64 to a real type takes the real part,
// a real type to complex64 goes through float with a zero imaginary part, 16-bit floats convert
// through float, to bool is "!= 0" in the source's compute type.
template <typename S, typename D>
__device__ __forceinline__ D convert(S v) {
  if constexpr (std::is_same_v<S, D>) {
    return v;
  } else if constexpr (std::is_same_v<D, cf32>) {
    if constexpr (std::is_same_v<S, double>) return {static_cast<float>(v), 0.0f};
    else return {to_f(v), 0.0f};
  } else if constexpr (std::is_same_v<S, cf32>) {
    if constexpr (std::is_same_v<D, bool>) return v.re != 0.0f;
    else if constexpr (std::is_same_v<D, __half> || std::is_same_v<D, __nv_bfloat16>) return from_f<D>(v.re);
    else return static_cast<D>(v.re);
  } else if constexpr (std::is_same_v<D, bool>) {
    if constexpr (std::is_same_v<S, double>) return v != 0.0;  // a float cast would flush tiny values
    else if constexpr (std::is_integral_v<S>) return v != 0;
    else return to_f(v) != 0.0f;
  } else if constexpr (std::is_same_v<D, __half> || std::is_same_v<D, __nv_bfloat16>) {
    return from_f<D>(to_f(v));
  } else if constexpr (std::is_same_v<S, __half> || std::is_same_v<S, __nv_bfloat16>) {
    return static_cast<D>(to_f(v));
  } else {
    return static_cast<D>(v);
  }
}

template <typename S, typename D>
__global__ void copy_kernel(const S* src, D* dst, Strided s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    dst[strided_offset(s, 1, i)] = convert<S, D>(src[strided_offset(s, 0, i)]);
  }
}

template <typename S, typename D>
__global__ void copy_contig_kernel(const S* src, D* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    dst[i] = convert<S, D>(src[i]);
  }
}

template <typename T>
__global__ void fill_kernel(T* dst, T v, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    dst[i] = v;
  }
}

// Every dtype: the real ones and complex64.
template <typename F>
bool dispatch_convertible(int dt, F&& f) {
  if (dt == dtx_c64) {
    f(cf32{});
    return true;
  }
  return dispatch_real(dt, f);
}

bool contiguous_same(const Strided& s) {
  int64_t st = 1;
  for (int d = s.ndim - 1; d >= 0; --d) {
    if (s.shape[d] == 1) continue;
    if (s.strides[0][d] != st || s.strides[1][d] != st) return false;
    st *= s.shape[d];
  }
  return true;
}

template <typename S, typename D>
void launch(const void* src, void* dst, const Strided& s, size_t n, cudaStream_t st) {
  if (contiguous_same(s)) {
    copy_contig_kernel<S, D><<<blocks_for(n, 256), 256, 0, st>>>(static_cast<const S*>(src), static_cast<D*>(dst), n);
  } else {
    copy_kernel<S, D><<<blocks_for(n, 256), 256, 0, st>>>(static_cast<const S*>(src), static_cast<D*>(dst), s, n);
  }
}

int size_of(int dt) {
  switch (dt) {
    case 0: case 1: case 5: return 1;
    case 2: case 6: case 9: case 10: return 2;
    case 3: case 7: case 11: return 4;
    default: return 8;
  }
}

}  // namespace

bool copy_supported(int src_dt, int dst_dt) {
  if (src_dt == dst_dt) return true;
  bool ok = false;
  dispatch_convertible(src_dt, [&](auto) { dispatch_convertible(dst_dt, [&](auto) { ok = true; }); });
  return ok;
}

void copy_strided(const void* src, int src_dt, void* dst, int dst_dt, const Strided& s, size_t n, cudaStream_t st) {
  if (n == 0) return;
  if (src_dt == dst_dt && contiguous_same(s)) {
    // A plain block copy: the copy engine path of the driver (full bandwidth, no kernel).
    cudaError_t e = cudaMemcpyAsync(dst, src, n * static_cast<size_t>(size_of(src_dt)), cudaMemcpyDeviceToDevice, st);
    if (e != cudaSuccess) {
      cudaGetLastError();
      throw std::runtime_error(std::string("[cuda] device copy failed: ") + cudaGetErrorString(e));
    }
    return;
  }
  if (src_dt == dst_dt) {
    switch (size_of(src_dt)) {
      case 1: launch<uint8_t, uint8_t>(src, dst, s, n, st); break;
      case 2: launch<uint16_t, uint16_t>(src, dst, s, n, st); break;
      case 4: launch<uint32_t, uint32_t>(src, dst, s, n, st); break;
      default: launch<uint64_t, uint64_t>(src, dst, s, n, st); break;
    }
  } else {
    dispatch_convertible(src_dt, [&](auto sv) {
      dispatch_convertible(dst_dt, [&](auto dv) { launch<decltype(sv), decltype(dv)>(src, dst, s, n, st); });
    });
  }
  TESSERA_KERNEL_CHECK();
}

void fill(void* dst, int elem_size, const void* value, size_t n, cudaStream_t st) {
  if (n == 0) return;
  switch (elem_size) {
    case 1: fill_kernel<<<blocks_for(n, 256), 256, 0, st>>>(static_cast<uint8_t*>(dst), *static_cast<const uint8_t*>(value), n); break;
    case 2: fill_kernel<<<blocks_for(n, 256), 256, 0, st>>>(static_cast<uint16_t*>(dst), *static_cast<const uint16_t*>(value), n); break;
    case 4: fill_kernel<<<blocks_for(n, 256), 256, 0, st>>>(static_cast<uint32_t*>(dst), *static_cast<const uint32_t*>(value), n); break;
    default: fill_kernel<<<blocks_for(n, 256), 256, 0, st>>>(static_cast<uint64_t*>(dst), *static_cast<const uint64_t*>(value), n); break;
  }
  TESSERA_KERNEL_CHECK();
}

}  // namespace tessera::cuda
