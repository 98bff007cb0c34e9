// CUDA kernels of the fused fast ops: rms_norm (one block per row, held in registers with 16-byte
// loads when it fits) and rope (one thread per pair).
#include "tessera/backend/cuda/kernels/vec.cuh"

namespace tessera::cuda {

namespace {

template <typename T, typename W>
__global__ void rms_norm_kernel(const T* x, const W* w, T* out, int d, float eps) {
  __shared__ float shared[32];
  const T* row = x + blockIdx.x * int64_t(d);
  T* orow = out + blockIdx.x * int64_t(d);
  float s = 0.0f;
  for (int j = threadIdx.x; j < d; j += blockDim.x) {
    float v = to_f(row[j]);
    s += v * v;
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x < 32) {
    s = threadIdx.x < blockDim.x / 32 ? shared[threadIdx.x] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (threadIdx.x == 0) shared[0] = s;
  }
  __syncthreads();
  float r = rsqrtf(shared[0] / d + eps);
  for (int j = threadIdx.x; j < d; j += blockDim.x) {
    float v = to_f(row[j]) * r;
    if (w) v *= to_f(w[j]);
    orow[j] = from_f<T>(v);
  }
}

// The row in registers: PPT packs of V elements a thread; x, out (and w) rows 16-byte aligned,
// d a multiple of V. Accumulates in float; reads x once.
template <typename T, typename W, int PPT>
__global__ void rms_norm_vec(const T* x, const W* w, T* out, int d, float eps) {
  constexpr int V = pack_of<T>();
  using P = Pack<T, V>;
  using PW = Pack<W, V>;
  __shared__ float shared[32];
  int np = d / V;
  auto row = reinterpret_cast<const P*>(x + blockIdx.x * int64_t(d));
  auto orow = reinterpret_cast<P*>(out + blockIdx.x * int64_t(d));
  P p[PPT];
  float s = 0.0f;
#pragma unroll
  for (int k = 0; k < PPT; ++k) {
    int j = threadIdx.x + k * blockDim.x;
    if (j < np) {
      p[k] = row[j];
#pragma unroll
      for (int e = 0; e < V; ++e) {
        float f = to_f(p[k].v[e]);
        s += f * f;
      }
    }
  }
  s = block_all_reduce<false>(s, shared);
  float r = rsqrtf(s / d + eps);
  auto wp = reinterpret_cast<const PW*>(w);
#pragma unroll
  for (int k = 0; k < PPT; ++k) {
    int j = threadIdx.x + k * blockDim.x;
    if (j >= np) continue;
    P o;
    if (w) {
      PW wv = wp[j];
#pragma unroll
      for (int e = 0; e < V; ++e) o.v[e] = from_f<T>(to_f(p[k].v[e]) * r * to_f(wv.v[e]));
    } else {
#pragma unroll
      for (int e = 0; e < V; ++e) o.v[e] = from_f<T>(to_f(p[k].v[e]) * r);
    }
    orow[j] = o;
  }
}

template <typename T>
__global__ void rope_kernel(const T* x, T* out, int64_t rows, int L, int d, int half, int dims, bool trad, float base,
                            float scale, const int32_t* offsets, int64_t rows_per_offset, const float* freqs) {
  int64_t n = rows * half;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n; t += int64_t(gridDim.x) * blockDim.x) {
    int64_t r = t / half;
    int i = static_cast<int>(t % half);
    double pos = (static_cast<double>(offsets[r / rows_per_offset]) + static_cast<double>(r % L)) * scale;
    double inv = freqs ? 1.0 / static_cast<double>(freqs[i]) : exp(-2.0 * i / dims * log(static_cast<double>(base)));
    double s, c;
    sincos(pos * inv, &s, &c);
    const T* xr = x + r * d;
    T* yr = out + r * d;
    int i1 = trad ? 2 * i : i, i2 = trad ? 2 * i + 1 : i + half;
    float a = to_f(xr[i1]), b = to_f(xr[i2]);
    float cf = static_cast<float>(c), sf = static_cast<float>(s);
    yr[i1] = from_f<T>(a * cf - b * sf);
    yr[i2] = from_f<T>(a * sf + b * cf);
    if (i == 0) {
      for (int j = 2 * half; j < d; ++j) yr[j] = xr[j];
    }
  }
}

}  // namespace

void rms_norm(int dt, const void* x, const void* w, bool w_f32, void* out, size_t rows, int d, float eps,
              cudaStream_t st) {
  if (rows == 0 || d == 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    auto go = [&](auto wt) {
      using W = decltype(wt);
      constexpr int V = pack_of<T>();
      auto xp = static_cast<const T*>(x);
      auto wp = static_cast<const W*>(w);
      auto op = static_cast<T*>(out);
      int threads = 0;
      int ppt = d % V == 0 && aligned_to(16, x, out) && aligned_to(sizeof(W) * V, w) ? row_plan(d / V, &threads) : 0;
      for (size_t r0 = 0; r0 < rows; r0 += 0x7fffffff) {
        unsigned n = static_cast<unsigned>(rows - r0 < 0x7fffffff ? rows - r0 : 0x7fffffff);
        const T* x0 = xp + r0 * d;
        T* o0 = op + r0 * d;
        switch (ppt) {
          case 1: rms_norm_vec<T, W, 1><<<n, threads, 0, st>>>(x0, wp, o0, d, eps); break;
          case 2: rms_norm_vec<T, W, 2><<<n, threads, 0, st>>>(x0, wp, o0, d, eps); break;
          case 4: rms_norm_vec<T, W, 4><<<n, threads, 0, st>>>(x0, wp, o0, d, eps); break;
          case 8: rms_norm_vec<T, W, 8><<<n, threads, 0, st>>>(x0, wp, o0, d, eps); break;
          default: {
            int th = d >= 4096 ? 1024 : d >= 1024 ? 256 : 128;
            rms_norm_kernel<T, W><<<n, th, 0, st>>>(x0, wp, o0, d, eps);
          }
        }
        TESSERA_KERNEL_CHECK();
      }
    };
    if (w_f32) go(float{});
    else go(T{});
  });
}

void rope(int dt, const void* x, void* out, size_t rows, int L, int d, int dims, bool traditional, float base,
          float scale, const int32_t* offsets, int noff, const float* freqs, cudaStream_t st) {
  int half = dims / 2;
  if (rows == 0 || half == 0) return;
  dispatch_float(dt, [&](auto t) {
    using T = decltype(t);
    rope_kernel<T><<<blocks_for(rows * half, 256), 256, 0, st>>>(static_cast<const T*>(x), static_cast<T*>(out),
                                                                 rows, L, d, half, dims, traditional, base, scale, offsets,
                                                                 static_cast<int64_t>(rows / noff), freqs);
  });
  TESSERA_KERNEL_CHECK();
}

}  // namespace tessera::cuda
