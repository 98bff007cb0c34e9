// Per-block kernels for the GGML quantized layouts (ggml-common.h / gguf-py quants.py describe them).
#include "tessera/io/ggml_quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tessera/backend/cpu/threading.h"

namespace tessera::io {

namespace {

constexpr int QK = 32;
constexpr int QK_K = 256;
constexpr int8_t kIQ4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

inline float ld_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return float16_t::to_float(h);
}
inline void st_f16(uint8_t* p, float v) {
  uint16_t h = float16_t::from_float(v);
  std::memcpy(p, &h, 2);
}
inline float round_f16(float v) { return float16_t::to_float(float16_t::from_float(v)); }
inline int nearest(float v) { return static_cast<int>(std::lrintf(v)); }
inline int clampi(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// The value of largest magnitude (keeping its sign).
inline float signed_absmax(const float* x, int n) {
  float m = 0, am = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > am) {
      am = std::fabs(x[i]);
      m = x[i];
    }
  }
  return m;
}
inline float inv(float d) { return d != 0 ? 1.0f / d : 0.0f; }

// ---- 32-element blocks ----

void dq_q4_0(const uint8_t* b, float* y) {
  float d = ld_f16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = ((qs[j] & 0xF) - 8) * d;
    y[j + 16] = ((qs[j] >> 4) - 8) * d;
  }
}
void q_q4_0(const float* x, uint8_t* b) {
  float d = signed_absmax(x, QK) / -8, id = inv(d);
  st_f16(b, d);
  for (int j = 0; j < 16; ++j) {
    int a = std::min(15, static_cast<int>(x[j] * id + 8.5f));
    int c = std::min(15, static_cast<int>(x[j + 16] * id + 8.5f));
    b[2 + j] = static_cast<uint8_t>(a | (c << 4));
  }
}

void dq_q4_1(const uint8_t* b, float* y) {
  float d = ld_f16(b), m = ld_f16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = (qs[j] & 0xF) * d + m;
    y[j + 16] = (qs[j] >> 4) * d + m;
  }
}
void q_q4_1(const float* x, uint8_t* b) {
  float mn = *std::min_element(x, x + QK), mx = *std::max_element(x, x + QK);
  float d = (mx - mn) / 15, id = inv(d);
  st_f16(b, d);
  st_f16(b + 2, mn);
  for (int j = 0; j < 16; ++j) {
    int a = clampi(static_cast<int>((x[j] - mn) * id + 0.5f), 0, 15);
    int c = clampi(static_cast<int>((x[j + 16] - mn) * id + 0.5f), 0, 15);
    b[4 + j] = static_cast<uint8_t>(a | (c << 4));
  }
}

void dq_q5_0(const uint8_t* b, float* y) {
  float d = ld_f16(b);
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    int a = (qs[j] & 0xF) | (((qh >> j) & 1) << 4);
    int c = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = (a - 16) * d;
    y[j + 16] = (c - 16) * d;
  }
}
void q_q5_0(const float* x, uint8_t* b) {
  float d = signed_absmax(x, QK) / -16, id = inv(d);
  st_f16(b, d);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    int a = std::min(31, static_cast<int>(x[j] * id + 16.5f));
    int c = std::min(31, static_cast<int>(x[j + 16] * id + 16.5f));
    b[6 + j] = static_cast<uint8_t>((a & 0xF) | ((c & 0xF) << 4));
    qh |= static_cast<uint32_t>(a >> 4) << j;
    qh |= static_cast<uint32_t>(c >> 4) << (j + 16);
  }
  std::memcpy(b + 2, &qh, 4);
}

void dq_q5_1(const uint8_t* b, float* y) {
  float d = ld_f16(b), m = ld_f16(b + 2);
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    int a = (qs[j] & 0xF) | (((qh >> j) & 1) << 4);
    int c = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = a * d + m;
    y[j + 16] = c * d + m;
  }
}
void q_q5_1(const float* x, uint8_t* b) {
  float mn = *std::min_element(x, x + QK), mx = *std::max_element(x, x + QK);
  float d = (mx - mn) / 31, id = inv(d);
  st_f16(b, d);
  st_f16(b + 2, mn);
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    int a = clampi(static_cast<int>((x[j] - mn) * id + 0.5f), 0, 31);
    int c = clampi(static_cast<int>((x[j + 16] - mn) * id + 0.5f), 0, 31);
    b[8 + j] = static_cast<uint8_t>((a & 0xF) | ((c & 0xF) << 4));
    qh |= static_cast<uint32_t>(a >> 4) << j;
    qh |= static_cast<uint32_t>(c >> 4) << (j + 16);
  }
  std::memcpy(b + 4, &qh, 4);
}

void dq_q8_0(const uint8_t* b, float* y) {
  float d = ld_f16(b);
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < QK; ++j) y[j] = qs[j] * d;
}
void q_q8_0(const float* x, uint8_t* b) {
  float d = std::fabs(signed_absmax(x, QK)) / 127, id = inv(d);
  st_f16(b, d);
  for (int j = 0; j < QK; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(clampi(nearest(x[j] * id), -127, 127)));
}

void dq_iq4_nl(const uint8_t* b, float* y) {
  float d = ld_f16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * kIQ4Values[qs[j] & 0xF];
    y[j + 16] = d * kIQ4Values[qs[j] >> 4];
  }
}
// Index of the IQ4 level nearest to v.
inline int iq4_index(float v) {
  int best = 0;
  float bd = std::fabs(v - kIQ4Values[0]);
  for (int i = 1; i < 16; ++i) {
    float dd = std::fabs(v - kIQ4Values[i]);
    if (dd < bd) {
      bd = dd;
      best = i;
    }
  }
  return best;
}
void q_iq4_nl(const float* x, uint8_t* b) {
  float d = signed_absmax(x, QK) / kIQ4Values[0];
  st_f16(b, d);
  float id = inv(round_f16(d));
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(iq4_index(x[j] * id) | (iq4_index(x[j + 16] * id) << 4));
}

// ---- 256-element super-blocks ----

void dq_q2_k(const uint8_t* b, float* y) {
  const uint8_t* sc = b;
  const uint8_t* qs = b + 16;
  float d = ld_f16(b + 80), dmin = ld_f16(b + 82);
  for (int h = 0; h < 2; ++h) {
    for (int s = 0; s < 4; ++s) {
      for (int l = 0; l < 32; ++l) {
        int idx = h * 128 + s * 32 + l;
        uint8_t scale = sc[idx / 16];
        int q = (qs[h * 32 + l] >> (2 * s)) & 3;
        y[idx] = d * (scale & 0xF) * q - dmin * (scale >> 4);
      }
    }
  }
}
void q_q2_k(const float* x, uint8_t* b) {
  float scale[16], mins[16], max_scale = 0, max_min = 0;
  for (int j = 0; j < 16; ++j) {
    const float* v = x + 16 * j;
    float mn = std::min(0.0f, *std::min_element(v, v + 16)), mx = *std::max_element(v, v + 16);
    scale[j] = (mx - mn) / 3;
    mins[j] = -mn;
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, mins[j]);
  }
  float d = round_f16(max_scale / 15), dmin = round_f16(max_min / 15);
  st_f16(b + 80, d);
  st_f16(b + 82, dmin);
  std::memset(b + 16, 0, 64);
  for (int j = 0; j < 16; ++j) {
    int ls = clampi(nearest(scale[j] * inv(d)), 0, 15), lm = clampi(nearest(mins[j] * inv(dmin)), 0, 15);
    b[j] = static_cast<uint8_t>(ls | (lm << 4));
    float dl = d * ls, ml = dmin * lm;
    for (int i = 0; i < 16; ++i) {
      int idx = 16 * j + i;
      int q = clampi(nearest((x[idx] + ml) * inv(dl)), 0, 3);
      int h = idx / 128, s = (idx % 128) / 32, l = idx % 32;
      b[16 + h * 32 + l] |= static_cast<uint8_t>(q << (2 * s));
    }
  }
}

inline int q3k_scale(const uint8_t* s, int j) {
  int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
  int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}
void dq_q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* sc = b + 96;
  float d = ld_f16(b + 108);
  int scales[16];
  for (int j = 0; j < 16; ++j) scales[j] = q3k_scale(sc, j);
  for (int idx = 0; idx < QK_K; ++idx) {
    int h = idx / 128, s = (idx % 128) / 32, l = idx % 32;
    int q = (qs[h * 32 + l] >> (2 * s)) & 3;
    int hb = (hmask[l] >> (idx / 32)) & 1;
    y[idx] = d * scales[idx / 16] * (q - (hb ? 0 : 4));
  }
}
void q_q3_k(const float* x, uint8_t* b) {
  float s[16], smax = 0;
  for (int j = 0; j < 16; ++j) {
    s[j] = signed_absmax(x + 16 * j, 16) / -4;
    if (std::fabs(s[j]) > std::fabs(smax)) smax = s[j];
  }
  float d = round_f16(smax / -32);
  std::memset(b, 0, 110);
  st_f16(b + 108, d);
  uint8_t* sc = b + 96;
  for (int j = 0; j < 16; ++j) {
    int ls = clampi(nearest(s[j] * inv(d)), -32, 31);
    int u = ls + 32;
    if (j < 8) sc[j] |= static_cast<uint8_t>(u & 0xF);
    else sc[j - 8] |= static_cast<uint8_t>((u & 0xF) << 4);
    sc[8 + j % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (j / 4)));
    float dl = d * ls;
    for (int i = 0; i < 16; ++i) {
      int idx = 16 * j + i;
      int q = clampi(nearest(x[idx] * inv(dl)), -4, 3) + 4;  // 0..7
      int h = idx / 128, sh = (idx % 128) / 32, l = idx % 32;
      b[32 + h * 32 + l] |= static_cast<uint8_t>((q & 3) << (2 * sh));
      b[l] |= static_cast<uint8_t>((q >> 2) << (idx / 32));
    }
  }
}

// 6-bit scales and mins of Q4_K / Q5_K, packed in 12 bytes.
inline void k4_scale_min(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}
inline void k4_pack(const int* sc, const int* m, uint8_t* s) {
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

void dq_q4_k(const uint8_t* b, float* y) {
  float d = ld_f16(b), dmin = ld_f16(b + 2);
  const uint8_t* qs = b + 16;
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    k4_scale_min(b + 4, j, &sc, &m);
    float dl = d * sc, ml = dmin * m;
    const uint8_t* q = qs + (j / 2) * 32;
    int shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) y[j * 32 + l] = dl * ((q[l] >> shift) & 0xF) - ml;
  }
}
void dq_q5_k(const uint8_t* b, float* y) {
  float d = ld_f16(b), dmin = ld_f16(b + 2);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    k4_scale_min(b + 4, j, &sc, &m);
    float dl = d * sc, ml = dmin * m;
    const uint8_t* q = qs + (j / 2) * 32;
    int shift = 4 * (j % 2);
    for (int l = 0; l < 32; ++l) y[j * 32 + l] = dl * (((q[l] >> shift) & 0xF) | (((qh[l] >> j) & 1) << 4)) - ml;
  }
}
// Shared quantizer of Q4_K (levels 0..15) and Q5_K (0..31).
void q_k45(const float* x, uint8_t* b, int nmax, bool five) {
  float scale[8], mins[8], max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* v = x + 32 * j;
    float mn = std::min(0.0f, *std::min_element(v, v + 32)), mx = *std::max_element(v, v + 32);
    scale[j] = (mx - mn) / nmax;
    mins[j] = -mn;
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, mins[j]);
  }
  float d = round_f16(max_scale / 63), dmin = round_f16(max_min / 63);
  std::memset(b, 0, five ? 176 : 144);
  st_f16(b, d);
  st_f16(b + 2, dmin);
  int ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = clampi(nearest(scale[j] * inv(d)), 0, 63);
    lm[j] = clampi(nearest(mins[j] * inv(dmin)), 0, 63);
  }
  k4_pack(ls, lm, b + 4);
  uint8_t* qh = b + 16;
  uint8_t* qs = b + (five ? 48 : 16);
  for (int j = 0; j < 8; ++j) {
    float dl = d * ls[j], ml = dmin * lm[j];
    for (int l = 0; l < 32; ++l) {
      int q = clampi(nearest((x[32 * j + l] + ml) * inv(dl)), 0, nmax);
      qs[(j / 2) * 32 + l] |= static_cast<uint8_t>((q & 0xF) << (4 * (j % 2)));
      if (five) qh[l] |= static_cast<uint8_t>((q >> 4) << j);
    }
  }
}
void q_q4_k(const float* x, uint8_t* b) { q_k45(x, b, 15, false); }
void q_q5_k(const float* x, uint8_t* b) { q_k45(x, b, 31, true); }

void dq_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  float d = ld_f16(b + 208);
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      int base = h * 128;
      uint8_t hb = qh[h * 32 + l];
      int q1 = ((ql[h * 64 + l] & 0xF) | (((hb >> 0) & 3) << 4)) - 32;
      int q2 = ((ql[h * 64 + l + 32] & 0xF) | (((hb >> 2) & 3) << 4)) - 32;
      int q3 = ((ql[h * 64 + l] >> 4) | (((hb >> 4) & 3) << 4)) - 32;
      int q4 = ((ql[h * 64 + l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32;
      y[base + l] = d * sc[(base + l) / 16] * q1;
      y[base + l + 32] = d * sc[(base + l + 32) / 16] * q2;
      y[base + l + 64] = d * sc[(base + l + 64) / 16] * q3;
      y[base + l + 96] = d * sc[(base + l + 96) / 16] * q4;
    }
  }
}
void q_q6_k(const float* x, uint8_t* b) {
  float s[16], amax = 0;
  for (int j = 0; j < 16; ++j) {
    s[j] = signed_absmax(x + 16 * j, 16) / -32;
    amax = std::max(amax, std::fabs(s[j]));
  }
  float d = round_f16(amax / 127);
  std::memset(b, 0, 210);
  st_f16(b + 208, d);
  for (int j = 0; j < 16; ++j) {
    int ls = clampi(nearest(s[j] * inv(d)), -128, 127);
    b[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(ls));
    float dl = d * ls;
    for (int i = 0; i < 16; ++i) {
      int idx = 16 * j + i;
      int q = clampi(nearest(x[idx] * inv(dl)), -32, 31) + 32;  // 0..63
      int h = idx / 128, r = idx % 128;
      int lo_shift = 4 * (r / 64), k = r % 64;
      b[h * 64 + k] |= static_cast<uint8_t>((q & 0xF) << lo_shift);
      int t = r / 32, l = r % 32;
      b[128 + h * 32 + l] |= static_cast<uint8_t>((q >> 4) << (2 * t));
    }
  }
}

void dq_q8_k(const uint8_t* b, float* y) {
  float d;
  std::memcpy(&d, b, 4);
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 4);
  for (int j = 0; j < QK_K; ++j) y[j] = d * qs[j];
}
void q_q8_k(const float* x, uint8_t* b) {
  float mx = signed_absmax(x, QK_K);
  float d = mx / -127, id = inv(d);
  std::memcpy(b, &d, 4);
  int8_t* qs = reinterpret_cast<int8_t*>(b + 4);
  for (int j = 0; j < QK_K; ++j) qs[j] = static_cast<int8_t>(clampi(nearest(x[j] * id), -128, 127));
  for (int j = 0; j < 16; ++j) {
    int16_t sum = 0;
    for (int i = 0; i < 16; ++i) sum = static_cast<int16_t>(sum + qs[16 * j + i]);
    std::memcpy(b + 260 + 2 * j, &sum, 2);
  }
}

void dq_iq4_xs(const uint8_t* b, float* y) {
  float d = ld_f16(b);
  uint16_t sh;
  std::memcpy(&sh, b + 2, 2);
  const uint8_t* sl = b + 4;
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 8; ++j) {
    int ls = ((sl[j / 2] >> (4 * (j % 2))) & 0xF) | (((sh >> (2 * j)) & 3) << 4);
    float dl = d * (ls - 32);
    const uint8_t* q = qs + 16 * j;
    for (int l = 0; l < 16; ++l) {
      y[32 * j + l] = dl * kIQ4Values[q[l] & 0xF];
      y[32 * j + l + 16] = dl * kIQ4Values[q[l] >> 4];
    }
  }
}
void q_iq4_xs(const float* x, uint8_t* b) {
  float s[8], smax = 0;
  for (int j = 0; j < 8; ++j) {
    s[j] = signed_absmax(x + 32 * j, 32) / kIQ4Values[0];
    if (std::fabs(s[j]) > std::fabs(smax)) smax = s[j];
  }
  float d = round_f16(smax / -32);
  std::memset(b, 0, 136);
  st_f16(b, d);
  uint16_t sh = 0;
  for (int j = 0; j < 8; ++j) {
    int ls = clampi(nearest(s[j] * inv(d)), -32, 31);
    int u = ls + 32;
    b[4 + j / 2] |= static_cast<uint8_t>((u & 0xF) << (4 * (j % 2)));
    sh |= static_cast<uint16_t>((u >> 4) << (2 * j));
    float id = inv(d * ls);
    for (int l = 0; l < 16; ++l) {
      b[8 + 16 * j + l] = static_cast<uint8_t>(iq4_index(x[32 * j + l] * id) | (iq4_index(x[32 * j + l + 16] * id) << 4));
    }
  }
  std::memcpy(b + 2, &sh, 2);
}

using DqFn = void (*)(const uint8_t*, float*);
using QFn = void (*)(const float*, uint8_t*);

struct Kernels {
  DqFn dq;
  QFn q;
};

Kernels kernels(GGMLType t) {
  switch (t) {
    case GGMLType::Q4_0: return {dq_q4_0, q_q4_0};
    case GGMLType::Q4_1: return {dq_q4_1, q_q4_1};
    case GGMLType::Q5_0: return {dq_q5_0, q_q5_0};
    case GGMLType::Q5_1: return {dq_q5_1, q_q5_1};
    case GGMLType::Q8_0: return {dq_q8_0, q_q8_0};
    case GGMLType::Q2_K: return {dq_q2_k, q_q2_k};
    case GGMLType::Q3_K: return {dq_q3_k, q_q3_k};
    case GGMLType::Q4_K: return {dq_q4_k, q_q4_k};
    case GGMLType::Q5_K: return {dq_q5_k, q_q5_k};
    case GGMLType::Q6_K: return {dq_q6_k, q_q6_k};
    case GGMLType::Q8_K: return {dq_q8_k, q_q8_k};
    case GGMLType::IQ4_NL: return {dq_iq4_nl, q_iq4_nl};
    case GGMLType::IQ4_XS: return {dq_iq4_xs, q_iq4_xs};
    default:
      throw std::invalid_argument(std::string("[gguf] ") + ggml_traits(t).name + " is not a block type.");
  }
}

template <typename Out>
void dequantize_impl(GGMLType t, const uint8_t* src, size_t n, Out* dst) {
  const auto& tr = ggml_traits(t);
  Kernels k = kernels(t);
  if (n % tr.block_size != 0) throw std::invalid_argument("[gguf] element count is not a multiple of the block size.");
  size_t nb = n / tr.block_size, bs = tr.block_size, ts = tr.type_size;
  size_t grain = std::max<size_t>(1, 16384 / bs);
  cpu::parallel_for(nb, grain, [&](size_t b0, size_t b1) {
    float tmp[QK_K];
    for (size_t i = b0; i < b1; ++i) {
      if constexpr (std::is_same_v<Out, float>) {
        k.dq(src + i * ts, dst + i * bs);
      } else {
        k.dq(src + i * ts, tmp);
        for (size_t j = 0; j < bs; ++j) dst[i * bs + j] = Out(tmp[j]);
      }
    }
  });
}

}  // namespace

void dequantize_blocks(GGMLType t, const uint8_t* src, size_t n, float* dst) { dequantize_impl(t, src, n, dst); }
void dequantize_blocks(GGMLType t, const uint8_t* src, size_t n, float16_t* dst) { dequantize_impl(t, src, n, dst); }
void dequantize_blocks(GGMLType t, const uint8_t* src, size_t n, bfloat16_t* dst) { dequantize_impl(t, src, n, dst); }

void quantize_blocks(GGMLType t, const float* src, size_t n, uint8_t* dst) {
  const auto& tr = ggml_traits(t);
  Kernels k = kernels(t);
  if (n % tr.block_size != 0) throw std::invalid_argument("[gguf] element count is not a multiple of the block size.");
  size_t nb = n / tr.block_size, bs = tr.block_size, ts = tr.type_size;
  cpu::parallel_for(nb, std::max<size_t>(1, 8192 / bs), [&](size_t b0, size_t b1) {
    for (size_t i = b0; i < b1; ++i) k.q(src + i * bs, dst + i * ts);
  });
}

}  // namespace tessera::io
