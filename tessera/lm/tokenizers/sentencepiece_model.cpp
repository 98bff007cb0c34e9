// Protobuf wire-format reader for ModelProto: pieces (1), trainer_spec (2), normalizer_spec (3).
#include "tessera/lm/tokenizers/sentencepiece_model.h"

#include <cstring>
#include <stdexcept>

namespace tessera::lm {

namespace {

// One length-delimited message; fields are visited in order.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool done() const { return pos_ >= b_.size(); }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) fail("truncated varint");
      auto c = static_cast<unsigned char>(b_[pos_++]);
      v |= static_cast<uint64_t>(c & 0x7F) << shift;
      if (!(c & 0x80)) return v;
    }
    fail("varint too long");
    return 0;
  }
  std::string_view bytes() {
    uint64_t n = varint();
    if (n > b_.size() - pos_) fail("length-delimited field runs past the end");
    auto s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  float fixed32_float() {
    if (b_.size() - pos_ < 4) fail("truncated fixed32");
    float f;
    std::memcpy(&f, b_.data() + pos_, 4);
    pos_ += 4;
    return f;
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1:
        if (b_.size() - pos_ < 8) fail("truncated fixed64");
        pos_ += 8;
        break;
      case 2: bytes(); break;
      case 5:
        if (b_.size() - pos_ < 4) fail("truncated fixed32");
        pos_ += 4;
        break;
      default: fail("unsupported wire type " + std::to_string(wire));
    }
  }
  [[noreturn]] static void fail(const std::string& what) {
    throw std::invalid_argument("[tokenizer] malformed SentencePiece model: " + what);
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

void expect_wire(int got, int want) {
  if (got != want) Reader::fail("unexpected wire type");
}

SpmPiece parse_piece(std::string_view b) {
  SpmPiece p;
  Reader r(b);
  while (!r.done()) {
    uint64_t key = r.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1) {
      expect_wire(wire, 2);
      p.piece = std::string(r.bytes());
    } else if (field == 2) {
      expect_wire(wire, 5);
      p.score = r.fixed32_float();
    } else if (field == 3) {
      expect_wire(wire, 0);
      p.type = static_cast<int>(r.varint());
    } else {
      r.skip(wire);
    }
  }
  return p;
}

void parse_trainer(std::string_view b, SpmModel& m) {
  Reader r(b);
  while (!r.done()) {
    uint64_t key = r.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    auto as_int = [&] {
      expect_wire(wire, 0);
      return static_cast<int32_t>(static_cast<int64_t>(r.varint()));
    };
    switch (field) {
      case 3: m.model_type = as_int(); break;
      case 24: m.treat_whitespace_as_suffix = as_int() != 0; break;
      case 35: m.byte_fallback = as_int() != 0; break;
      case 40: m.unk_id = as_int(); break;
      case 41: m.bos_id = as_int(); break;
      case 42: m.eos_id = as_int(); break;
      case 43: m.pad_id = as_int(); break;
      case 44:
        expect_wire(wire, 2);
        m.unk_surface = std::string(r.bytes());
        break;
      default: r.skip(wire);
    }
  }
}

void parse_normalizer(std::string_view b, SpmModel& m) {
  Reader r(b);
  while (!r.done()) {
    uint64_t key = r.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    switch (field) {
      case 1: expect_wire(wire, 2); m.normalizer_name = std::string(r.bytes()); break;
      case 2: expect_wire(wire, 2); m.precompiled_charsmap = std::string(r.bytes()); break;
      case 3: expect_wire(wire, 0); m.add_dummy_prefix = r.varint() != 0; break;
      case 4: expect_wire(wire, 0); m.remove_extra_whitespaces = r.varint() != 0; break;
      case 5: expect_wire(wire, 0); m.escape_whitespaces = r.varint() != 0; break;
      default: r.skip(wire);
    }
  }
}

}  // namespace

SpmModel parse_sentencepiece_model(std::string_view bytes) {
  SpmModel m;
  Reader r(bytes);
  while (!r.done()) {
    uint64_t key = r.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1) {
      expect_wire(wire, 2);
      m.pieces.push_back(parse_piece(r.bytes()));
    } else if (field == 2) {
      expect_wire(wire, 2);
      parse_trainer(r.bytes(), m);
    } else if (field == 3) {
      expect_wire(wire, 2);
      parse_normalizer(r.bytes(), m);
    } else {
      r.skip(wire);
    }
  }
  if (m.pieces.empty()) Reader::fail("no pieces");
  auto n = static_cast<int32_t>(m.pieces.size());
  for (int32_t* id : {&m.unk_id, &m.bos_id, &m.eos_id, &m.pad_id})
    if (*id >= n) Reader::fail("special id out of range");
  return m;
}

}  // namespace tessera::lm
