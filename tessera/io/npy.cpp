// .npy: magic "\x93NUMPY", version, little-endian header length, a Python dict literal, raw data.
#include "tessera/io/npy.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include "tessera/ops.h"

namespace tessera {

namespace {

constexpr int kMaxDims = 64;

struct Header {
  std::string descr;
  bool fortran{false};
  Shape shape;
};

// Parses the dict literal numpy writes: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class DictParser {
 public:
  DictParser(const std::string& s, const std::string& area) : s_(s), area_(area) {}

  Header parse() {
    Header h;
    bool got_descr = false, got_fortran = false, got_shape = false;
    ws();
    expect('{');
    while (true) {
      ws();
      if (peek() == '}') break;
      std::string key = str();
      ws();
      expect(':');
      ws();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"') fail("'descr' must be a string (structured dtypes are not supported).");
        h.descr = str();
        got_descr = true;
      } else if (key == "fortran_order") {
        if (s_.compare(i_, 4, "True") == 0) {
          h.fortran = true;
          i_ += 4;
        } else if (s_.compare(i_, 5, "False") == 0) {
          i_ += 5;
        } else {
          fail("'fortran_order' must be True or False.");
        }
        got_fortran = true;
      } else if (key == "shape") {
        h.shape = tuple();
        got_shape = true;
      } else {
        fail("unexpected key '" + key + "' in header.");
      }
      ws();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      ws();
      if (peek() != '}') fail("expected ',' or '}' in header.");
    }
    if (!got_descr || !got_fortran || !got_shape) fail("header lacks 'descr', 'fortran_order' or 'shape'.");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& m) const { throw std::runtime_error("[" + area_ + "] " + m); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("malformed header: expected '") + c + "'.");
    ++i_;
  }
  std::string str() {
    char q = peek();
    if (q != '\'' && q != '"') fail("malformed header: expected a string.");
    ++i_;
    size_t end = s_.find(q, i_);
    if (end == std::string::npos) fail("malformed header: unterminated string.");
    std::string r = s_.substr(i_, end - i_);
    i_ = end + 1;
    return r;
  }
  Shape tuple() {
    Shape shape;
    expect('(');
    while (true) {
      ws();
      if (peek() == ')') {
        ++i_;
        return shape;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("malformed header: shape entries must be non-negative integers.");
      uint64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        v = v * 10 + (s_[i_++] - '0');
        if (v > static_cast<uint64_t>(INT32_MAX)) fail("shape dimension too large.");
      }
      if (shape.size() >= static_cast<size_t>(kMaxDims)) fail("too many dimensions.");
      shape.push_back(static_cast<ShapeElem>(v));
      ws();
      if (peek() == ',') ++i_;
      else if (peek() != ')') fail("malformed header: expected ',' or ')' in shape.");
    }
  }

  const std::string& s_;
  std::string area_;
  size_t i_{0};
};

// descr -> (dtype, big endian)
std::pair<Dtype, bool> parse_descr(const std::string& d, const std::string& area) {
  auto fail = [&]() -> std::pair<Dtype, bool> {
    throw std::runtime_error("[" + area + "] unsupported dtype descr '" + d + "'.");
  };
  if (d.size() < 3) fail();
  char order = d[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') fail();
  std::string t = d.substr(1);
  Dtype dt = float32;
  if (t == "b1") dt = bool_;
  else if (t == "u1") dt = uint8;
  else if (t == "u2") dt = uint16;
  else if (t == "u4") dt = uint32;
  else if (t == "u8") dt = uint64;
  else if (t == "i1") dt = int8;
  else if (t == "i2") dt = int16;
  else if (t == "i4") dt = int32;
  else if (t == "i8") dt = int64;
  else if (t == "f2") dt = float16;
  else if (t == "f4") dt = float32;
  else if (t == "f8") dt = float64;
  else if (t == "c8") dt = complex64;
  else fail();
  return {dt, order == '>' && dt.size > 1};
}

std::string descr_of(Dtype d, const std::string& area) {
  switch (d.val) {
    case Dtype::Val::bool_: return "|b1";
    case Dtype::Val::uint8: return "|u1";
    case Dtype::Val::uint16: return "<u2";
    case Dtype::Val::uint32: return "<u4";
    case Dtype::Val::uint64: return "<u8";
    case Dtype::Val::int8: return "|i1";
    case Dtype::Val::int16: return "<i2";
    case Dtype::Val::int32: return "<i4";
    case Dtype::Val::int64: return "<i8";
    case Dtype::Val::float16: return "<f2";
    case Dtype::Val::float32: return "<f4";
    case Dtype::Val::float64: return "<f8";
    case Dtype::Val::complex64: return "<c8";
    case Dtype::Val::bfloat16:
      throw std::invalid_argument("[" + area + "] bfloat16 has no NumPy dtype; convert with astype(float32) "
                                  "or save as safetensors/GGUF.");
  }
  throw std::invalid_argument("[" + area + "] unknown dtype.");
}

}  // namespace

array load_npy(std::shared_ptr<const io::Bytes> bytes, const std::string& area) {
  io::Reader r(bytes->data(), bytes->size(), area);
  const uint8_t* magic = r.take(6, "magic");
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0) r.fail("not an .npy file (bad magic).");
  uint8_t major = r.get<uint8_t>("version"), minor = r.get<uint8_t>("version");
  size_t hlen;
  if (major == 1) hlen = r.get<uint16_t>("header length");
  else if (major == 2 || major == 3) hlen = r.get<uint32_t>("header length");
  else r.fail("unsupported format version " + std::to_string(major) + "." + std::to_string(minor) + ".");
  if (hlen > r.remaining()) r.fail("header length " + std::to_string(hlen) + " is past the end of the file.");
  const char* hp = reinterpret_cast<const char*>(r.take(hlen, "header"));
  std::string hs(hp, hlen);
  Header h = DictParser(hs, area).parse();
  auto parsed = parse_descr(h.descr, area);  // (no structured binding: lambdas below capture these)
  Dtype dtype = parsed.first;
  bool big = parsed.second;
  size_t n = 1, nbytes;
  for (auto d : h.shape) {
    if (!io::mul_ok(n, static_cast<size_t>(d), &n)) r.fail("absurd shape (element count overflows).");
  }
  if (!io::mul_ok(n, dtype.size, &nbytes)) r.fail("absurd shape (byte count overflows).");
  if (nbytes != r.remaining()) {
    r.fail("data has " + std::to_string(r.remaining()) + " bytes but shape " + shape_str(h.shape) + " of " +
           h.descr + " needs " + std::to_string(nbytes) + ".");
  }
  Shape shape = h.shape;
  if (h.fortran) std::reverse(shape.begin(), shape.end());
  array out = [&] {
    if (!big) return io::view_bytes(bytes, r.pos(), shape, dtype);
    // Byte-swap into a fresh buffer.
    std::vector<uint8_t> buf(bytes->data() + r.pos(), bytes->data() + r.pos() + nbytes);
    size_t es = dtype == complex64 ? 4 : dtype.size;
    for (size_t i = 0; i < nbytes; i += es) std::reverse(buf.begin() + i, buf.begin() + i + es);
    return io::view_bytes(io::own_bytes(std::move(buf)), 0, shape, dtype);
  }();
  if (h.fortran && out.ndim() > 1) out = transpose(out);
  return out;
}

array load_npy(const std::string& path) { return load_npy(io::map_file(path, "npy"), "npy"); }

std::string npy_header(Dtype dtype, const Shape& shape, const std::string& area) {
  std::string dict = "{'descr': '" + descr_of(dtype, area) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? ", " : "");
  if (shape.size() == 1) dict.pop_back();  // "(3,)"
  dict += "), }";
  bool v2 = dict.size() + 11 > 65535;
  size_t prefix = v2 ? 12 : 10;
  size_t total = prefix + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(v2 ? 2 : 1);
  out.push_back(0);
  uint32_t len = static_cast<uint32_t>(dict.size());
  out.append(reinterpret_cast<const char*>(&len), v2 ? 4 : 2);
  return out + dict;
}

void save(const std::string& path, const array& a) {
  std::string h = npy_header(a.dtype(), a.shape());
  io::Writer w(path, "npy");
  w.write(h.data(), h.size());
  io::write_array_data(w, a);
  w.close();
}

}  // namespace tessera
