// CUDA scatter kernels: one thread per update element; plain scatter stores (duplicates: the last
// one wins, as on the CPU), reductions combine atomically (atomicAdd for 32/64-bit sums, a compare-and-swap
// loop on the element's bits otherwise, on the enclosing 32-bit word for 8-bit types). NaN propagates through max/min as on the CPU.
#include "tessera/backend/cuda/kernels/dtypes.cuh"
#include "tessera/backend/cuda/kernels_scatter.h"
#include "tessera/backend/cuda/runtime.h"

namespace tessera::cuda {

namespace {

template <typename T>
__device__ __forceinline__ T combine(int op, T old, T u) {
  if constexpr (std::is_same_v<T, bool>) {
    return (op == sc_sum || op == sc_max) ? (old || u) : (old && u);
  } else {
    using A = acc_of<T>;
    A x = to_acc(old), y = to_acc(u);
    switch (op) {
      case sc_sum: return from_acc<T>(A(x + y));
      case sc_prod: return from_acc<T>(A(x * y));
      case sc_max: return (y > x || y != y) ? u : old;
      case sc_min: return (y < x || y != y) ? u : old;
      default: return u;
    }
  }
}

template <typename T>
using bits_of = std::conditional_t<sizeof(T) == 2, unsigned short, std::conditional_t<sizeof(T) == 4, unsigned int,
                                                                                        unsigned long long>>;

template <typename T>
__device__ __forceinline__ void atomic_combine(int op, T* p, T u) {
  if (op == sc_none) {
    *p = u;
    return;
  }
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                std::is_same_v<T, uint32_t>) {
    if (op == sc_sum) {
      atomicAdd(p, u);
      return;
    }
  }
  if constexpr (sizeof(T) == 8 && !std::is_floating_point_v<T>) {
    if (op == sc_sum) {  // two's complement: the unsigned add is the signed add
      atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(u));
      return;
    }
  }
  if constexpr (sizeof(T) == 1) {
    // No 8-bit CAS: swap the byte inside its aligned 32-bit word (device buffers are allocated in
    // 256-byte classes, so the word never leaves the allocation; during a reduction every write to
    // the buffer goes through this loop, so neighbouring bytes are never lost).
    auto addr = reinterpret_cast<uintptr_t>(p);
    unsigned int* wp = reinterpret_cast<unsigned int*>(addr & ~uintptr_t(3));
    unsigned int shift = static_cast<unsigned int>(addr & 3) * 8u;
    unsigned int old = *reinterpret_cast<volatile unsigned int*>(wp);
    while (true) {
      unsigned char ob = static_cast<unsigned char>((old >> shift) & 0xffu);
      T ov;
      memcpy(&ov, &ob, 1);
      T nv = combine<T>(op, ov, u);
      unsigned char nb8;
      memcpy(&nb8, &nv, 1);
      if (nb8 == ob) return;
      unsigned int nw = (old & ~(0xffu << shift)) | (static_cast<unsigned int>(nb8) << shift);
      unsigned int seen = atomicCAS(wp, old, nw);
      if (seen == old) return;
      old = seen;
    }
  } else {
    using B = bits_of<T>;
    B* bp = reinterpret_cast<B*>(p);
    B old = *reinterpret_cast<volatile B*>(bp);
    while (true) {
      T ov;
      memcpy(&ov, &old, sizeof(T));
      T nv = combine<T>(op, ov, u);
      B nb;
      memcpy(&nb, &nv, sizeof(T));
      if (nb == old) return;
      B seen = atomicCAS(bp, old, nb);
      if (seen == old) return;
      old = seen;
    }
  }
}

// Destination offset of update element t (index tuple ii, element j of the slice); false when the
// tuple is out of range. coord[d]: j's coordinate in the slice; v[k]: the wrapped index of axis k.
__device__ __forceinline__ bool scatter_target(const ScatterArgs& a, int64_t ii, int64_t j, int64_t* coord,
                                               int64_t* v, int64_t& off) {
  off = 0;
  bool ok = true;
  for (int d = a.ndim - 1; d >= 0; --d) {
    int64_t sz = a.upd_shape[d];
    coord[d] = j % sz;
    off += coord[d] * a.out_strides[d];
    j /= sz;
  }
  for (int k = 0; k < a.naxes; ++k) {
    int ax = a.axes[k];
    v[k] = a.idx[k][ii];
    if (v[k] < 0) v[k] += a.out_shape[ax];
    ok &= v[k] >= 0 && v[k] + a.upd_shape[ax] <= a.out_shape[ax];
    off += v[k] * a.out_strides[ax];
  }
  return ok;
}

// Plain scatter, deterministic as on the CPU: the last update of an element wins. True when a later
// in-range index tuple's slice also covers this element (few tuples: checked directly).
__device__ __forceinline__ bool overwritten_later(const ScatterArgs& a, int64_t ii, const int64_t* coord,
                                                  const int64_t* v) {
  for (int64_t later = ii + 1; later < static_cast<int64_t>(a.n_idx); ++later) {
    bool covers = true;
    for (int k = 0; k < a.naxes && covers; ++k) {
      int ax = a.axes[k];
      int64_t w = a.idx[k][later];
      if (w < 0) w += a.out_shape[ax];
      int64_t pos = v[k] + coord[ax];
      covers = w >= 0 && w + a.upd_shape[ax] <= a.out_shape[ax] && w <= pos && pos < w + a.upd_shape[ax];
    }
    if (covers) return true;
  }
  return false;
}

// phase: 0 = apply (op, or plain scatter with the direct check / a winner table), 1 = record the
// last tuple of each element in a.winner (many tuples: atomicMax per element).
template <typename T>
__global__ void scatter_kernel(int op, int phase, ScatterArgs a) {
  int64_t n = static_cast<int64_t>(a.n_idx * a.upd_size);
  const T* upd = static_cast<const T*>(a.upd);
  T* out = static_cast<T*>(a.out);
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n; t += int64_t(gridDim.x) * blockDim.x) {
    int64_t ii = t / a.upd_size, off;
    int64_t coord[kMaxDims], v[4];
    if (!scatter_target(a, ii, t % a.upd_size, coord, v, off)) continue;
    if (phase == 1) {
      atomicMax(a.winner + off, static_cast<int>(ii));
      continue;
    }
    if (op == sc_none) {
      if (a.winner ? a.winner[off] != static_cast<int>(ii) : overwritten_later(a, ii, coord, v)) continue;
    }
    atomic_combine<T>(op, out + off, upd[t]);
  }
}

// Offset of element e of the idx-shaped space in the strided operand, the axis term left out.
__device__ __forceinline__ int64_t along_offset(const AlongAxisArgs& a, int64_t e) {
  int64_t off = 0;
  for (int d = a.ndim - 1; d >= 0; --d) {
    int64_t sz = a.shape[d];
    if (d != a.axis) off += (e % sz) * a.strides[d];
    e /= sz;
  }
  return off;
}

template <typename E>
__global__ void take_along_kernel(const E* src, const int64_t* idx, E* out, AlongAxisArgs a, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t v = idx[e];
    if (v < 0) v += a.axis_size;
    out[e] = (v >= 0 && v < a.axis_size) ? src[along_offset(a, e) + v * a.strides[a.axis]] : E(0);
  }
}

template <typename T>
__global__ void put_along_kernel(int op, const T* vals, const int64_t* idx, T* out, AlongAxisArgs a, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    int64_t v = idx[e];
    if (v < 0) v += a.axis_size;
    if (v < 0 || v >= a.axis_size) continue;
    if (op == sc_none) {  // deterministic as on the CPU: a later index along the axis to the same place wins
      int64_t inner = 1;
      for (int d = a.ndim - 1; d > a.axis; --d) inner *= a.shape[d];
      int64_t k = (e / inner) % a.shape[a.axis];
      bool later = false;
      for (int64_t k2 = k + 1; k2 < a.shape[a.axis] && !later; ++k2) {
        int64_t w = idx[e + (k2 - k) * inner];
        later = (w < 0 ? w + a.axis_size : w) == v;
      }
      if (later) continue;
    }
    atomic_combine<T>(op, out + along_offset(a, e) + v * a.strides[a.axis], vals[e]);
  }
}

}  // namespace

bool scatter_supported(int op, int dt) {
  if (op == sc_none) return true;
  return is_real_dt(dt);  // 8-bit types (bool too) by a CAS on the enclosing 32-bit word
}

void scatter(int op, int dt, int elem_size, const ScatterArgs& a, cudaStream_t st) {
  size_t n = a.n_idx * a.upd_size;
  if (n == 0) return;
  auto go = [&](auto t) {
    using T = decltype(t);
    if (op == sc_none && a.winner) {
      scatter_kernel<T><<<blocks_for(n, 256), 256, 0, st>>>(op, 1, a);
      TESSERA_CUDA_LAUNCH_CHECK();
    }
    scatter_kernel<T><<<blocks_for(n, 256), 256, 0, st>>>(op, 0, a);
    TESSERA_CUDA_LAUNCH_CHECK();
  };
  if (op == sc_none) dispatch_size(elem_size, go);
  else dispatch_real(dt, go);
}

void take_along_axis(const void* src, const int64_t* idx, void* out, int elem_size, const AlongAxisArgs& a, size_t n,
                     cudaStream_t st) {
  if (n == 0) return;
  dispatch_size(elem_size, [&](auto t) {
    using E = decltype(t);
    take_along_kernel<E><<<blocks_for(n, 256), 256, 0, st>>>(static_cast<const E*>(src), idx, static_cast<E*>(out), a,
                                                             n);
    TESSERA_CUDA_LAUNCH_CHECK();
  });
}

void put_along_axis(int op, int dt, int elem_size, const void* vals, const int64_t* idx, void* out,
                    const AlongAxisArgs& a, size_t n, cudaStream_t st) {
  if (n == 0) return;
  auto go = [&](auto t) {
    using T = decltype(t);
    put_along_kernel<T><<<blocks_for(n, 256), 256, 0, st>>>(op, static_cast<const T*>(vals), idx, static_cast<T*>(out),
                                                            a, n);
    TESSERA_CUDA_LAUNCH_CHECK();
  };
  if (op == sc_none) dispatch_size(elem_size, go);
  else dispatch_real(dt, go);
}

}  // namespace tessera::cuda
