// Index math of the affine quantized GEMV kernels (plain C++, host and device): the CUDA kernels in
// quantized_gemv.cu and the host emulation test (tests/quantized_gemv_emulation_tests.cpp) both call
// these functions, so the emulation checks the very formulas the kernels use.
#pragma once

#if defined(__CUDACC__)
#define TESSERA_QHD __host__ __device__ __forceinline__
#else
#define TESSERA_QHD inline
#endif

namespace tessera::cuda::qidx {

// ---- qmv_t_kernel ("old"): kWarps warps of kRows rows of W each; lane l takes chunks l, l + 32, ... ----
constexpr int kWarps = 4, kRows = 2;
// First row of W of warp `warp` of block `block`.
TESSERA_QHD int t_row0(int block, int warp) { return (block * kWarps + warp) * kRows; }
// Chunk of step `it` (U chunks per step) and slot u of lane `lane`.
TESSERA_QHD int t_chunk(int it, int U, int u, int lane) { return lane + 32 * (U * it + u); }

// ---- qmv_fast_kernel: blocks of kWR row groups x kWK K-interleaved warps, x staged per K tile ----
constexpr int kFastThreads = 256;
constexpr int kWK = 2, kWR = kFastThreads / 32 / kWK;
constexpr int kXTile = 8192;  // x floats staged per block: K tile = kXTile / MR values

// Rows of W per warp and chunks in flight per row, by rows of x.
template <int MR>
struct FastShape {
  static constexpr int R = MR <= 2 ? 4 : 2;
  static constexpr int U = MR <= 4 ? 2 : 1;
  static constexpr int KT = kXTile / MR, CT = KT / 32;  // K tile (values, 32-value chunks)
};

// First row of W of row group `wr` in block `block`.
TESSERA_QHD int fast_row0(int block, int wr, int R) { return block * (kWR * R) + wr * R; }
// Chunk of the K tile that lane `lane` of K-warp `wk` takes at batch step i (i = i0 + u).
TESSERA_QHD int fast_chunk(int i, int wk, int lane) { return (i * kWK + wk) * 32 + lane; }
// Staging item e of a K tile (8 values of one x row; per_m = tile values / 8 items per row).
struct StageItem {
  int m, c, j8;  // x row, chunk of the tile, 8-value part of the chunk (0..3)
};
TESSERA_QHD StageItem fast_stage_item(int e, int per_m) {
  const int e8 = e % per_m;
  return StageItem{e / per_m, e8 >> 2, e8 & 3};
}
// float4 index in the staged x tile of values 4h .. 4h + 3 (h 0..7) of chunk c of row m (swizzled
// by chunk so that the lanes of a warp read distinct banks).
TESSERA_QHD int fast_xs_index(int m, int c, int h, int CT) { return (m * CT + c) * 8 + (h ^ (c & 7)); }
// Index of the x sum of chunk c of row m (x sums are per 32-value chunk: a group of 64 or 128
// values spans several chunks, each adding bias * its own part of the sum).
TESSERA_QHD int fast_xsum_index(int m, int c, int CT) { return m * CT + c; }

// ---- qmv_lop3_kernel ("lop3", bits 4/8): a block of kLWarps warps on the same R rows of W; warp
// wk takes the 32-value chunks (i * kLWarps + wk) * 32 + lane, i = 0, 1, ...; the kLWarps partial
// sums of a row are added in a fixed order. Weights decode without conversion instructions. ----
constexpr int kLWarps = 4;
// Rows of W per block and chunk steps per row in flight, by rows of x and width.
template <int MR, int bits>
struct LopShape {
  static constexpr int R = MR == 1 ? 8 : MR == 2 ? 4 : 2;
  static constexpr int U = bits == 4 && MR == 4 ? 2 : 1;
};
// First row of W of block `block` (R rows a block).
TESSERA_QHD int lop_row0(int block, int R) { return block * R; }
// Chunk of step i of lane `lane` of warp `wk` (consecutive steps kLStep chunks apart).
constexpr int kLStep = kLWarps * 32;
TESSERA_QHD int lop_chunk(int i, int wk, int lane) { return i * kLStep + wk * 32 + lane; }
// log2(gs / 32) for a power-of-two group size >= 32 (the group of chunk c is c >> shift), else -1.
TESSERA_QHD int lop_group_shift(int gs) {
  int s = 0;
  while (s < 16 && (32 << s) < gs) ++s;
  return (32 << s) == gs ? s : -1;
}

// ---- qmv_h2_kernel ("h2", bits 4/8, f16/bf16 x, M = 1): x staged once per block as f16, each chunk
// scaled by a power of two; weights decoded two at a time into f16 pairs (LOP3 into 1024's mantissa, one packed
// subtract) and multiplied by packed FMAs; each 32-value chunk's f16 sum goes to a float32 total. ----
constexpr int kHWarps = 8;
// Rows of W per warp and chunk steps in flight per row (16-byte weight loads: 8 per lane either way).
template <int bits>
struct H2Shape {
  static constexpr int R = 2;
  static constexpr int U = bits == 4 ? 4 : 2;
};
// First row of W of warp `warp` of block `block`.
TESSERA_QHD int h2_row0(int block, int warp, int R) { return (block * kHWarps + warp) * R; }
// Chunk of step i of lane `lane` (a warp's lanes take 32 consecutive chunks of its rows).
TESSERA_QHD int h2_chunk(int i, int lane) { return i * 32 + lane; }
// 16-byte slot of the staged x holding 8-value unit u (0..3) of chunk c (swizzled: the 8 lanes of a
// shared-memory phase, chunks c .. c + 7, read distinct banks).
TESSERA_QHD int h2_unit_slot(int c, int u) { return c * 4 + (u ^ ((c >> 1) & 3)); }
// Value (0..7) of an 8-value unit that half h (0..7) of its staged copy holds: f16 pair p = halves
// 2p, 2p + 1 meets the pair of weights that decode p of the unit's words yields (4 bits: one word,
// pairs (0,4) (1,5) (2,6) (3,7); 8 bits: two words, pairs (0,2) (1,3) (4,6) (5,7)).
TESSERA_QHD int h2_half_value(int bits, int h) {
  return bits == 4 ? (h >> 1) + 4 * (h & 1) : 4 * (h >> 2) + ((h >> 1) & 1) + 2 * (h & 1);
}
// Each 32-value chunk of x is scaled by 2^k so that its max |x| lies in [2^(E-1), 2^E): its 32
// products q x then sum to less than 32 (2^bits - 1) 2^E < 2^15, inside f16's range (4 bits: 64,
// 8 bits: 4).
TESSERA_QHD int h2_scale_exp(int bits) { return bits == 4 ? 6 : 2; }
// k for max |x| = m 2^e (m in [0.5, 1)), clamped so that 2^k and 2^-k stay normal floats.
TESSERA_QHD int h2_scale_shift(int bits, int e) {
  const int k = h2_scale_exp(bits) - e;
  return k < -120 ? -120 : k > 120 ? 120 : k;
}
// Dynamic shared memory of a block: the staged f16 x (64 bytes a chunk), each chunk's sum and 2^-k.
TESSERA_QHD int h2_smem_bytes(int K) { return K / 32 * (64 + 8); }

// ---- GGUF Q4_0 / Q8_0 decode of the staged GGUF kernel: field t of quant word i (bytes 4i .. 4i + 3
// of the block's quants) is at bits 16 (t / P) + bits (t % P) of the word, P = 16 / bits; the value
// of the block (0..31) it holds (ggml: byte j holds value j in its low nibble, j + 16 in its high
// nibble for Q4_0; byte j is value j for Q8_0). ----
TESSERA_QHD int gg_q4_0_value(int i, int t) {
  const int byte = 4 * i + 2 * (t / 4) + ((t % 4) >> 1);
  return byte + 16 * (t & 1);
}
TESSERA_QHD int gg_q8_0_value(int i, int t) { return 4 * i + t; }

// ---- qmv_tc_kernel: one 16-row tile of W per block; 128-value super-steps; lane (g, t) ----
// After the quad transposes of MODE (0: gs 128, 1: gs 64, 2: gs 32), word slot i of lane t holds
// values 32 rho + 8 omega + [0, 8) of the super-step; the 4 lanes of a slot lie in one group.
template <int MODE>
TESSERA_QHD int tc_offset(int i, int t) {
  const int rho = MODE == 0 ? t : MODE == 1 ? 2 * (i >> 1) + (t & 1) : i;
  const int omega = MODE == 0 ? i : MODE == 1 ? 2 * (t >> 1) + (i & 1) : t;
  return 32 * rho + 8 * omega;
}
// Quad transpose step s (1: with lane t ^ 2, 2: with lane t ^ 1), exchange j (0, 1): the word slot
// that lane t sends to its partner and overwrites with the partner's word.
TESSERA_QHD int tc_swap_mask(int s) { return s == 1 ? 2 : 1; }
TESSERA_QHD int tc_swap_slot(int s, int t, int j) {
  if (s == 1) return (t & 2) ? j : 2 + j;
  return (t & 1) ? 2 * j : 2 * j + 1;
}
// Steps of MODE (0: none, 1: step 1, 2: steps 1 and 2).
TESSERA_QHD int tc_steps(int mode) { return mode; }
// MODE by group size (-1: not supported by the tensor-core GEMV).
TESSERA_QHD int tc_mode(int gs) { return gs == 128 ? 0 : gs == 64 ? 1 : gs == 32 ? 2 : -1; }

}  // namespace tessera::cuda::qidx
