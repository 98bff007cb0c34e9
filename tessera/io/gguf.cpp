// GGUF layout: "GGUF", version, tensor/kv counts, metadata kv pairs, tensor infos, aligned data.
#include "tessera/io/gguf.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>

#include "tessera/io/ggml_quants.h"
#include "tessera/memory.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

constexpr int kMaxArrayDepth = 8;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

[[noreturn]] void fail(const std::string& m) { throw std::runtime_error("[gguf] " + m); }

size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

// Smallest encoding of one value of type t (to bound counts by the bytes left).
size_t min_value_size(GGUFValueType t) {
  switch (t) {
    case GGUFValueType::UINT8:
    case GGUFValueType::INT8:
    case GGUFValueType::BOOL: return 1;
    case GGUFValueType::UINT16:
    case GGUFValueType::INT16: return 2;
    case GGUFValueType::UINT32:
    case GGUFValueType::INT32:
    case GGUFValueType::FLOAT32: return 4;
    case GGUFValueType::UINT64:
    case GGUFValueType::INT64:
    case GGUFValueType::FLOAT64:
    case GGUFValueType::STRING: return 8;
    case GGUFValueType::ARRAY: return 12;
  }
  return 1;
}

std::string read_string(io::Reader& r, const char* what) {
  uint64_t n = r.get<uint64_t>(what);
  if (n > r.remaining()) fail(std::string(what) + " length " + std::to_string(n) + " is past the end of the file.");
  const uint8_t* p = r.take(n, what);
  return std::string(reinterpret_cast<const char*>(p), n);
}

GGUFValueType read_type(io::Reader& r) {
  uint32_t t = r.get<uint32_t>("value type");
  if (t > static_cast<uint32_t>(GGUFValueType::FLOAT64)) fail("unknown metadata value type " + std::to_string(t) + ".");
  return static_cast<GGUFValueType>(t);
}

GGUFValue read_value(io::Reader& r, GGUFValueType t, int depth) {
  switch (t) {
    case GGUFValueType::UINT8: return GGUFValue(r.get<uint8_t>("UINT8"));
    case GGUFValueType::INT8: return GGUFValue(r.get<int8_t>("INT8"));
    case GGUFValueType::UINT16: return GGUFValue(r.get<uint16_t>("UINT16"));
    case GGUFValueType::INT16: return GGUFValue(r.get<int16_t>("INT16"));
    case GGUFValueType::UINT32: return GGUFValue(r.get<uint32_t>("UINT32"));
    case GGUFValueType::INT32: return GGUFValue(r.get<int32_t>("INT32"));
    case GGUFValueType::FLOAT32: return GGUFValue(r.get<float>("FLOAT32"));
    case GGUFValueType::BOOL: {
      uint8_t b = r.get<uint8_t>("BOOL");
      if (b > 1) fail("BOOL value " + std::to_string(b) + " is neither 0 nor 1.");
      return GGUFValue(b != 0);
    }
    case GGUFValueType::STRING: return GGUFValue(read_string(r, "string"));
    case GGUFValueType::UINT64: return GGUFValue(r.get<uint64_t>("UINT64"));
    case GGUFValueType::INT64: return GGUFValue(r.get<int64_t>("INT64"));
    case GGUFValueType::FLOAT64: return GGUFValue(r.get<double>("FLOAT64"));
    case GGUFValueType::ARRAY: {
      if (depth >= kMaxArrayDepth) fail("metadata arrays nested too deeply.");
      GGUFValueType et = read_type(r);
      uint64_t n = r.get<uint64_t>("array length");
      if (n > r.remaining() / min_value_size(et)) {
        fail("array length " + std::to_string(n) + " does not fit in the " + std::to_string(r.remaining()) + " bytes left.");
      }
      GGUFValue::Array items;
      items.reserve(n);
      for (uint64_t i = 0; i < n; ++i) items.push_back(read_value(r, et, depth + 1));
      return GGUFValue::array(et, std::move(items));
    }
  }
  fail("unknown metadata value type.");
}

void write_string(io::Writer& w, const std::string& s) {
  w.put<uint64_t>(s.size());
  w.write(s.data(), s.size());
}

void write_value(io::Writer& w, const GGUFValue& v) {
  switch (v.type()) {
    case GGUFValueType::UINT8: w.put<uint8_t>(static_cast<uint8_t>(v.as_uint())); break;
    case GGUFValueType::INT8: w.put<int8_t>(static_cast<int8_t>(v.as_int())); break;
    case GGUFValueType::UINT16: w.put<uint16_t>(static_cast<uint16_t>(v.as_uint())); break;
    case GGUFValueType::INT16: w.put<int16_t>(static_cast<int16_t>(v.as_int())); break;
    case GGUFValueType::UINT32: w.put<uint32_t>(static_cast<uint32_t>(v.as_uint())); break;
    case GGUFValueType::INT32: w.put<int32_t>(static_cast<int32_t>(v.as_int())); break;
    case GGUFValueType::FLOAT32: w.put<float>(static_cast<float>(v.as_float())); break;
    case GGUFValueType::BOOL: w.put<uint8_t>(v.as_bool() ? 1 : 0); break;
    case GGUFValueType::STRING: write_string(w, v.as_string()); break;
    case GGUFValueType::UINT64: w.put<uint64_t>(v.as_uint()); break;
    case GGUFValueType::INT64: w.put<int64_t>(v.as_int()); break;
    case GGUFValueType::FLOAT64: w.put<double>(v.as_float()); break;
    case GGUFValueType::ARRAY: {
      w.put<uint32_t>(static_cast<uint32_t>(v.array_type()));
      w.put<uint64_t>(v.as_array().size());
      for (const auto& x : v.as_array()) {
        if (x.type() != v.array_type()) {
          fail(std::string("array element of type ") + gguf_type_name(x.type()) + " in an array of " +
               gguf_type_name(v.array_type()) + ".");
        }
        write_value(w, x);
      }
      break;
    }
  }
}

size_t tensor_nbytes(GGMLType type, const Shape& shape) {
  const auto& tr = ggml_traits(type);
  size_t n = shape_size(shape);
  if (!shape.empty() && shape.back() % tr.block_size != 0) {
    fail(std::string("last dimension ") + std::to_string(shape.back()) + " is not a multiple of the " + tr.name +
         " block size " + std::to_string(tr.block_size) + ".");
  }
  if (shape.empty() && tr.block_size != 1) fail("a scalar cannot have a block type.");
  return n / tr.block_size * tr.type_size;
}

std::optional<Dtype> plain_dtype(GGMLType t) {
  switch (t) {
    case GGMLType::F32: return float32;
    case GGMLType::F16: return float16;
    case GGMLType::BF16: return bfloat16;
    case GGMLType::F64: return float64;
    case GGMLType::I8: return int8;
    case GGMLType::I16: return int16;
    case GGMLType::I32: return int32;
    case GGMLType::I64: return int64;
    default: return std::nullopt;
  }
}

std::optional<GGMLType> natural_type(Dtype d) {
  switch (d.val) {
    case Dtype::Val::float32: return GGMLType::F32;
    case Dtype::Val::float16: return GGMLType::F16;
    case Dtype::Val::bfloat16: return GGMLType::BF16;
    case Dtype::Val::float64: return GGMLType::F64;
    case Dtype::Val::int8: return GGMLType::I8;
    case Dtype::Val::int16: return GGMLType::I16;
    case Dtype::Val::int32: return GGMLType::I32;
    case Dtype::Val::int64: return GGMLType::I64;
    default: return std::nullopt;
  }
}

// An evaluated row-contiguous array (copying only when needed).
array evaluated(array a) {
  a.eval();
  if (a.size() > 0 && (!a.flags().row_contiguous || a.data_size() != a.size())) {
    a = contiguous(a);
    a.eval();
  }
  return a;
}

// Raw bytes of an evaluated array as a uint8 [nbytes] array sharing its buffer.
array bytes_of(const array& a) {
  array e = evaluated(a);
  void* p = const_cast<void*>(e.size() > 0 ? e.raw_data() : nullptr);
  static uint8_t empty = 0;
  if (!p) p = &empty;
  return array(p, {static_cast<ShapeElem>(e.nbytes())}, uint8, [keep = e](void*) mutable { keep = array(0.0f); });
}

struct Pending {
  std::string name;
  GGMLType type;
  Shape shape;
  std::function<array()> encode;  // the tensor's bytes (uint8 array), made when written
};

void write_file(const std::string& path, std::vector<Pending>& tensors, const GGUFMetadata& metadata) {
  size_t alignment = 32;
  if (auto it = metadata.find("general.alignment"); it != metadata.end()) {
    uint64_t a = it->second.as_uint();
    if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20)) fail("general.alignment must be a power of two.");
    alignment = a;
  }
  std::set<std::string> seen;
  std::vector<size_t> sizes, offsets;
  size_t off = 0;
  for (const auto& t : tensors) {
    if (!seen.insert(t.name).second) fail("duplicate tensor name '" + t.name + "'.");
    if (t.shape.size() > kMaxDims) fail("tensor '" + t.name + "' has more than 4 dimensions.");
    off = align_up(off, alignment);
    offsets.push_back(off);
    sizes.push_back(tensor_nbytes(t.type, t.shape));
    off += sizes.back();
  }
  io::Writer w(path, "gguf");
  w.write("GGUF", 4);
  w.put<uint32_t>(3);
  w.put<uint64_t>(tensors.size());
  w.put<uint64_t>(metadata.size());
  for (const auto& [k, v] : metadata) {
    write_string(w, k);
    w.put<uint32_t>(static_cast<uint32_t>(v.type()));
    write_value(w, v);
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    write_string(w, t.name);
    Shape dims = t.shape.empty() ? Shape{1} : t.shape;
    w.put<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (auto it = dims.rbegin(); it != dims.rend(); ++it) w.put<uint64_t>(static_cast<uint64_t>(*it));
    w.put<uint32_t>(static_cast<uint32_t>(t.type));
    w.put<uint64_t>(offsets[i]);
  }
  w.pad_to(alignment);
  size_t data_start = w.pos();
  for (size_t i = 0; i < tensors.size(); ++i) {
    w.pad_to(alignment);
    if (w.pos() - data_start != offsets[i]) fail("internal error: tensor offset mismatch.");
    array b = evaluated(tensors[i].encode());
    if (b.nbytes() != sizes[i]) fail("tensor '" + tensors[i].name + "' has " + std::to_string(b.nbytes()) + " bytes, expected " + std::to_string(sizes[i]) + ".");
    if (sizes[i] > 0) w.write(b.raw_data(), sizes[i]);
  }
  w.close();
}

}  // namespace

GGUFFile load_gguf_file(std::shared_ptr<const io::Bytes> bytes) {
  io::Reader r(bytes->data(), bytes->size(), "gguf");
  const uint8_t* magic = r.take(4, "magic");
  if (std::memcmp(magic, "GGUF", 4) != 0) fail("not a GGUF file (bad magic).");
  GGUFFile f;
  f.version = r.get<uint32_t>("version");
  if (f.version == 1) fail("GGUF version 1 is not supported (only 2 and 3).");
  if (f.version != 2 && f.version != 3) {
    uint32_t swapped = __builtin_bswap32(f.version);
    if (swapped >= 1 && swapped <= 3) fail("big-endian GGUF files are not supported.");
    fail("unsupported GGUF version " + std::to_string(f.version) + ".");
  }
  uint64_t n_tensors = r.get<uint64_t>("tensor count");
  uint64_t n_kv = r.get<uint64_t>("metadata count");
  if (n_kv > r.remaining() / 13) fail("metadata count " + std::to_string(n_kv) + " does not fit in the file.");
  if (n_tensors > r.remaining() / 24) fail("tensor count " + std::to_string(n_tensors) + " does not fit in the file.");
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string(r, "metadata key");
    GGUFValueType t = read_type(r);
    GGUFValue v = read_value(r, t, 0);
    if (!f.metadata.emplace(key, std::move(v)).second) fail("duplicate metadata key '" + key + "'.");
  }
  if (auto it = f.metadata.find("general.alignment"); it != f.metadata.end()) {
    if (!it->second.is_integer()) fail("general.alignment is not an integer.");
    uint64_t a = it->second.as_uint();
    if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20)) fail("general.alignment " + std::to_string(a) + " is not a power of two.");
    f.alignment = a;
  }
  struct Info {
    std::string name;
    GGMLType type;
    Shape shape;
    uint64_t offset;
    size_t nbytes;
  };
  std::vector<Info> infos;
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Info info;
    info.name = read_string(r, "tensor name");
    if (!names.insert(info.name).second) fail("duplicate tensor name '" + info.name + "'.");
    uint32_t nd = r.get<uint32_t>("n_dims");
    if (nd > kMaxDims) fail("tensor '" + info.name + "' has " + std::to_string(nd) + " dimensions (at most 4).");
    std::vector<uint64_t> ne(nd);
    size_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      ne[d] = r.get<uint64_t>("dimension");
      if (ne[d] > static_cast<uint64_t>(INT32_MAX)) fail("tensor '" + info.name + "' has dimension " + std::to_string(ne[d]) + " (too large).");
      if (!io::mul_ok(numel, ne[d], &numel)) fail("tensor '" + info.name + "' has an absurd shape.");
    }
    for (auto it = ne.rbegin(); it != ne.rend(); ++it) info.shape.push_back(static_cast<ShapeElem>(*it));
    uint32_t t = r.get<uint32_t>("tensor type");
    if (!ggml_is_supported(t)) fail("tensor '" + info.name + "' has unsupported tensor type " + std::to_string(t) + ".");
    info.type = static_cast<GGMLType>(t);
    const auto& tr = ggml_traits(info.type);
    if (nd == 0 && tr.block_size != 1) fail("tensor '" + info.name + "' is a scalar of a block type.");
    if (nd > 0 && ne[0] % tr.block_size != 0) {
      fail("tensor '" + info.name + "' has innermost dimension " + std::to_string(ne[0]) + ", not a multiple of the " +
           tr.name + " block size.");
    }
    if (!io::mul_ok(numel / tr.block_size, tr.type_size, &info.nbytes)) fail("tensor '" + info.name + "' is too large.");
    info.offset = r.get<uint64_t>("tensor offset");
    if (info.offset % f.alignment != 0) fail("tensor '" + info.name + "' offset is not aligned.");
    infos.push_back(std::move(info));
  }
  size_t data_start = align_up(r.pos(), f.alignment);
  if (data_start > bytes->size()) {
    if (!infos.empty()) fail("file ends before the tensor data.");
    data_start = bytes->size();
  }
  size_t data_size = bytes->size() - data_start;
  std::vector<const Info*> order;
  for (const auto& info : infos) {
    if (info.offset > data_size || info.nbytes > data_size - info.offset) {
      fail("tensor '" + info.name + "' data [" + std::to_string(info.offset) + ", +" + std::to_string(info.nbytes) +
           ") is past the end of the file.");
    }
    order.push_back(&info);
  }
  std::sort(order.begin(), order.end(), [](const Info* a, const Info* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i]->offset < order[i - 1]->offset + order[i - 1]->nbytes) {
      fail("tensors '" + order[i - 1]->name + "' and '" + order[i]->name + "' overlap.");
    }
  }
  for (auto& info : infos) {
    array data = io::view_bytes(bytes, data_start + info.offset, {static_cast<ShapeElem>(info.nbytes)}, uint8);
    f.tensors.emplace_back(info.name, GGUFTensor{info.type, info.shape, data});
  }
  return f;
}

GGUFFile load_gguf_file(const std::string& path) { return load_gguf_file(io::map_file(path, "gguf")); }

array gguf_to_array(const GGUFTensor& t, Dtype dtype) {
  size_t nbytes = tensor_nbytes(t.type, t.shape);
  if (t.data.nbytes() != nbytes) {
    fail(std::string(ggml_traits(t.type).name) + " tensor of shape " + shape_str(t.shape) + " needs " +
         std::to_string(nbytes) + " bytes, got " + std::to_string(t.data.nbytes()) + ".");
  }
  array raw = evaluated(t.data);
  const uint8_t* src = nbytes > 0 ? raw.data<uint8_t>() : nullptr;
  if (auto pd = plain_dtype(t.type)) {
    static uint8_t empty = 0;
    void* p = const_cast<uint8_t*>(src ? src : &empty);
    return array(p, t.shape, *pd, [keep = raw](void*) mutable { keep = array(0.0f); });
  }
  if (dtype != float32 && dtype != float16 && dtype != bfloat16) {
    fail("block types dequantize to float32, float16 or bfloat16, not " + dtype_name(dtype) + ".");
  }
  size_t n = shape_size(t.shape);
  // From tessera's allocator (its cache is reused, and counted in its memory statistics).
  allocator::Buffer buf = allocator::malloc(std::max<size_t>(1, n * dtype.size));
  void* out = buf.ptr;
  try {
    if (dtype == float32) io::dequantize_blocks(t.type, src, n, static_cast<float*>(out));
    else if (dtype == float16) io::dequantize_blocks(t.type, src, n, static_cast<float16_t*>(out));
    else io::dequantize_blocks(t.type, src, n, static_cast<bfloat16_t*>(out));
  } catch (...) {
    allocator::free(buf);
    throw;
  }
  return array(out, t.shape, dtype, [buf](void*) { allocator::free(buf); });
}

GGUFLoad load_gguf(const std::string& path, Dtype dtype) {
  GGUFFile f = load_gguf_file(path);
  GGUFLoad out;
  out.second = std::move(f.metadata);
  for (auto& [name, t] : f.tensors) out.first.emplace(name, gguf_to_array(t, dtype));
  return out;
}

GGUFTensor gguf_quantize(const array& a, GGMLType type) {
  if (a.ndim() > static_cast<int>(kMaxDims)) fail("GGUF tensors have at most 4 dimensions.");
  if (auto pd = plain_dtype(type)) {
    if (is_complex(a.dtype())) fail("complex arrays cannot be stored in GGUF.");
    return GGUFTensor{type, a.shape(), bytes_of(a.dtype() == *pd ? a : astype(a, *pd))};
  }
  if (!is_floating_point(a.dtype())) fail(std::string("only floating arrays can be quantized to ") + ggml_traits(type).name + ".");
  size_t nbytes = tensor_nbytes(type, a.shape());
  array x = evaluated(a.dtype() == float32 ? a : astype(a, float32));
  std::vector<uint8_t> buf(nbytes);
  if (nbytes > 0) io::quantize_blocks(type, x.data<float>(), x.size(), buf.data());
  auto bytes = io::own_bytes(std::move(buf));
  return GGUFTensor{type, a.shape(), io::view_bytes(bytes, 0, {static_cast<ShapeElem>(nbytes)}, uint8)};
}

void save_gguf(const std::string& path, const std::unordered_map<std::string, array>& arrays, const GGUFMetadata& metadata,
               const GGUFSaveOptions& options) {
  std::map<std::string, array> sorted(arrays.begin(), arrays.end());
  for (const auto& [name, t] : options.types) {
    if (!sorted.count(name)) fail("a type is given for '" + name + "', which is not among the arrays.");
  }
  std::vector<Pending> pending;
  for (const auto& entry : sorted) {
    const std::string& name = entry.first;
    const array& a = entry.second;
    GGMLType type;
    if (auto it = options.types.find(name); it != options.types.end()) {
      type = it->second;
    } else {
      auto nt = natural_type(a.dtype());
      if (!nt) fail("tensor '" + name + "' has dtype " + dtype_name(a.dtype()) + ", which GGUF cannot store; convert it first.");
      type = *nt;
      if (options.default_type && is_floating_point(a.dtype()) && a.ndim() >= 2 &&
          a.shape().back() % ggml_traits(*options.default_type).block_size == 0) {
        type = *options.default_type;
      }
    }
    tensor_nbytes(type, a.shape());  // validates block divisibility before anything is written
    pending.push_back({name, type, a.shape(), [a, type] { return gguf_quantize(a, type).data; }});
  }
  write_file(path, pending, metadata);
}

void save_gguf(const std::string& path, const std::vector<std::pair<std::string, GGUFTensor>>& tensors,
               const GGUFMetadata& metadata) {
  std::vector<Pending> pending;
  for (const auto& [name, t] : tensors) pending.push_back({name, t.type, t.shape, [d = t.data] { return d; }});
  write_file(path, pending, metadata);
}

}  // namespace tessera
