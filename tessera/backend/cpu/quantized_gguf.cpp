// CPU kernels for GGUF (ggml) block-quantized weights: block decoders, fused GEMV, tiled GEMM, dequantize.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>
#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "tessera/backend/cpu/quantized_common.h"
#include "tessera/backend/cpu/quantized_int8.h"
#include "tessera/backend/cpu/threading.h"
#include "tessera/primitives/quantized.h"

namespace tessera {

using namespace cpu::quant;

namespace {

inline float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return float16_t::to_float(h);
#endif
}

// Q4_0 (18 bytes / 32): f16 d, 16 bytes of nibbles; value j = d * (nibble - 8), low nibbles are
// values 0..15 and high nibbles 16..31.
void decode_q4_0(const uint8_t* b, float* y) {
  float d = f16_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 15) - 8);
    y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

// Q4_1 (20 bytes / 32): f16 d, f16 m, nibbles as Q4_0; value = d * nibble + m.
void decode_q4_1(const uint8_t* b, float* y) {
  float d = f16_at(b), m = f16_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 15) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

// Q8_0 (34 bytes / 32): f16 d, 32 int8; value = d * q.
void decode_q8_0(const uint8_t* b, float* y) {
  float d = f16_at(b);
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(qs[j]);
}

// Q4_K (144 bytes / 256): f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles. Each
// 64-value chunk uses 32 bytes: low nibbles are sub-block 2c, high nibbles sub-block 2c+1.
void decode_q4_k(const uint8_t* b, float* y) {
  float d = f16_at(b), dmin = f16_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  for (int c = 0; c < 4; ++c) {
    int s0, m0, s1, m1;
    scale_min_k(2 * c, scales, s0, m0);
    scale_min_k(2 * c + 1, scales, s1, m1);
    float d0 = d * s0, mm0 = dmin * m0, d1 = d * s1, mm1 = dmin * m1;
    for (int l = 0; l < 32; ++l) {
      y[64 * c + l] = d0 * static_cast<float>(q[32 * c + l] & 15) - mm0;
      y[64 * c + 32 + l] = d1 * static_cast<float>(q[32 * c + l] >> 4) - mm1;
    }
  }
}

// Q5_K (176 bytes / 256): as Q4_K plus 32 bytes qh holding the fifth bit: bit 2c of qh[l] for
// value 64c + l and bit 2c+1 for value 64c + 32 + l. Layout: d, dmin, scales[12], qh[32], qs[128].
void decode_q5_k(const uint8_t* b, float* y) {
  float d = f16_at(b), dmin = f16_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* q = b + 48;
  for (int c = 0; c < 4; ++c) {
    int s0, m0, s1, m1;
    scale_min_k(2 * c, scales, s0, m0);
    scale_min_k(2 * c + 1, scales, s1, m1);
    float d0 = d * s0, mm0 = dmin * m0, d1 = d * s1, mm1 = dmin * m1;
    for (int l = 0; l < 32; ++l) {
      int lo = (q[32 * c + l] & 15) | (((qh[l] >> (2 * c)) & 1) << 4);
      int hi = (q[32 * c + l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4);
      y[64 * c + l] = d0 * static_cast<float>(lo) - mm0;
      y[64 * c + 32 + l] = d1 * static_cast<float>(hi) - mm1;
    }
  }
}

// Q6_K (210 bytes / 256): ql[128] low 4 bits, qh[64] high 2 bits, int8 scales[16] (one per 16
// values), f16 d; value = d * scale * (q - 32). Each half of 128 values uses ql[64], qh[32], scales[8].
void decode_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  float d = f16_at(b + 208);
  for (int h = 0; h < 2; ++h) {
    const uint8_t* L = ql + 64 * h;
    const uint8_t* H = qh + 32 * h;
    const int8_t* S = sc + 8 * h;
    float* Y = y + 128 * h;
    for (int l = 0; l < 32; ++l) {
      int is = l / 16;
      int q1 = ((L[l] & 15) | (((H[l] >> 0) & 3) << 4)) - 32;
      int q2 = ((L[l + 32] & 15) | (((H[l] >> 2) & 3) << 4)) - 32;
      int q3 = ((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32;
      int q4 = ((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32;
      Y[l] = d * S[is] * static_cast<float>(q1);
      Y[l + 32] = d * S[is + 2] * static_cast<float>(q2);
      Y[l + 64] = d * S[is + 4] * static_cast<float>(q3);
      Y[l + 96] = d * S[is + 6] * static_cast<float>(q4);
    }
  }
}

using BlockDecoder = void (*)(const uint8_t*, float*);

BlockDecoder decoder(GGUFType t) {
  switch (t) {
    case GGUFType::Q4_0:
      return decode_q4_0;
    case GGUFType::Q4_1:
      return decode_q4_1;
    case GGUFType::Q8_0:
      return decode_q8_0;
    case GGUFType::Q4_K:
      return decode_q4_k;
    case GGUFType::Q5_K:
      return decode_q5_k;
    case GGUFType::Q6_K:
      return decode_q6_k;
  }
  throw std::invalid_argument("[gguf] unsupported block type.");
}

// Rows [r0, r1) of the block matrix decoded to floats.
RowDequant gguf_rows(const uint8_t* blocks, GGUFType t, int64_t K) {
  int bs = gguf_block_size(t), bb = gguf_block_bytes(t);
  BlockDecoder dec = decoder(t);
  return [=](int64_t r0, int64_t r1, float* dst) {
    int64_t nb = K / bs, row_bytes = nb * bb;
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t i = 0; i < nb; ++i) dec(blocks + r * row_bytes + i * bb, dst + (r - r0) * K + i * bs);
    }
  };
}

// Fused GEMV (few rows of x): each block is decoded into a small buffer in L1 and dotted at once.
template <int MR>
void gguf_gemv(const float* x, const uint8_t* w, GGUFType t, int64_t K, int64_t N, int64_t n0, int64_t n1,
               float* out) {
  int bs = gguf_block_size(t), bb = gguf_block_bytes(t);
  BlockDecoder dec = decoder(t);
  int64_t nb = K / bs;
  alignas(64) float buf[256];
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* wp = w + n * nb * bb;
    v8f acc[MR];
    for (int m = 0; m < MR; ++m) acc[m] = v8f{};
    for (int64_t i = 0; i < nb; ++i) {
      dec(wp + i * bb, buf);
      for (int c = 0; c < bs; c += 8) {
        v8f v = load8(buf + c);
        for (int m = 0; m < MR; ++m) acc[m] += v * load8(x + m * K + i * bs + c);
      }
    }
    for (int m = 0; m < MR; ++m) out[m * N + n] = hsum(acc[m]);
  }
}

}  // namespace

void GGUFMatmul::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  array x = float_contiguous(inputs[0]);
  array w = row_contiguous(inputs[1]);
  int64_t M = out.shape(0), N = out.shape(1), K = x.shape(1);
  float* o = out.data<float>();
  if (M == 0 || N == 0) return;
  const float* xp = x.data<float>();
  const uint8_t* wp = w.data<uint8_t>();
  cpu::CpuIsa isa = cpu::cpu_isa();
  if (M <= 4 && int8_gguf_supported(isa, type_)) {
    // int8 activations (rounded per block of 32, as llama.cpp does): each block product is an
    // integer dot product (AVX2 maddubs or AVX-512 VNNI vpdpbusd, chosen at run time).
    Q8Act xq = quantize_act(xp, M, K, false);
    cpu::parallel_for(static_cast<size_t>(N), 16, [&](size_t n0, size_t n1) {
      int8_gguf_rows(isa, type_, wp, xq, 0, static_cast<int>(M), static_cast<int64_t>(n0),
                     static_cast<int64_t>(n1), o, N);
    });
    return;
  }
  if (M <= 4) {
    cpu::parallel_for(static_cast<size_t>(N), 16, [&](size_t n0, size_t n1) {
      switch (M) {
        case 1:
          return gguf_gemv<1>(xp, wp, type_, K, N, n0, n1, o);
        case 2:
          return gguf_gemv<2>(xp, wp, type_, K, N, n0, n1, o);
        case 3:
          return gguf_gemv<3>(xp, wp, type_, K, N, n0, n1, o);
        default:
          return gguf_gemv<4>(xp, wp, type_, K, N, n0, n1, o);
      }
    });
  } else {
    tiled_gemm_nt(xp, M, K, N, o, gguf_rows(wp, type_, K));
  }
}

void GGUFDequantize::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  auto& out = outputs[0];
  out.set_data(allocator::malloc(out.nbytes()));
  array b = row_contiguous(inputs[0]);
  int64_t rows = out.shape(0), K = out.shape(1);
  auto f = gguf_rows(b.data<uint8_t>(), type_, K);
  cpu::parallel_for(static_cast<size_t>(rows), 4, [&](size_t r0, size_t r1) {
    f(static_cast<int64_t>(r0), static_cast<int64_t>(r1), out.data<float>() + r0 * K);
  });
}

bool GGUFMatmul::is_equivalent(const Primitive& o) const {
  return type_ == static_cast<const GGUFMatmul&>(o).type_;
}
bool GGUFDequantize::is_equivalent(const Primitive& o) const {
  return type_ == static_cast<const GGUFDequantize&>(o).type_;
}

}  // namespace tessera
