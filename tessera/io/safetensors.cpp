// safetensors format: 8-byte header length, JSON header (dtype, shape, data_offsets), raw data.
#include "tessera/io/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <vector>

#include "tessera/io/float8.h"

namespace tessera {

namespace {

using nlohmann::json;

constexpr size_t kMaxHeader = 100u << 20;  // as the reference implementation
constexpr int kMaxDims = 64;

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error("[safetensors] " + msg); }

enum class F8 { none, e4m3, e5m2 };

struct DtypeInfo {
  Dtype dtype;
  F8 f8;
  size_t file_size;  // bytes per element in the file
};

DtypeInfo parse_dtype(const std::string& s) {
  static const std::map<std::string, DtypeInfo> table = {
      {"BOOL", {bool_, F8::none, 1}},     {"U8", {uint8, F8::none, 1}},       {"U16", {uint16, F8::none, 2}},
      {"U32", {uint32, F8::none, 4}},     {"U64", {uint64, F8::none, 8}},     {"I8", {int8, F8::none, 1}},
      {"I16", {int16, F8::none, 2}},      {"I32", {int32, F8::none, 4}},      {"I64", {int64, F8::none, 8}},
      {"F16", {float16, F8::none, 2}},    {"BF16", {bfloat16, F8::none, 2}},  {"F32", {float32, F8::none, 4}},
      {"F64", {float64, F8::none, 8}},    {"C64", {complex64, F8::none, 8}},  {"F8_E4M3", {float32, F8::e4m3, 1}},
      {"F8_E5M2", {float32, F8::e5m2, 1}},
  };
  auto it = table.find(s);
  if (it == table.end()) fail("unsupported dtype '" + s + "'.");
  return it->second;
}

std::string dtype_str(Dtype d) {
  switch (d.val) {
    case Dtype::Val::bool_: return "BOOL";
    case Dtype::Val::uint8: return "U8";
    case Dtype::Val::uint16: return "U16";
    case Dtype::Val::uint32: return "U32";
    case Dtype::Val::uint64: return "U64";
    case Dtype::Val::int8: return "I8";
    case Dtype::Val::int16: return "I16";
    case Dtype::Val::int32: return "I32";
    case Dtype::Val::int64: return "I64";
    case Dtype::Val::float16: return "F16";
    case Dtype::Val::bfloat16: return "BF16";
    case Dtype::Val::float32: return "F32";
    case Dtype::Val::float64: return "F64";
    case Dtype::Val::complex64: return "C64";
  }
  fail("unknown dtype.");
}

// Rejects JSON nested deeper than `limit` before handing it to the parser (bounded recursion).
void check_nesting(const char* p, size_t n, int limit) {
  int depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < n; ++i) {
    char c = p[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) fail("header JSON is nested too deeply.");
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}

struct Entry {
  std::string name;
  DtypeInfo info;
  Shape shape;
  size_t begin, end;
};

Entry parse_entry(const std::string& name, const json& v, size_t data_size) {
  if (!v.is_object()) fail("entry '" + name + "' is not an object.");
  auto dt = v.find("dtype");
  auto sh = v.find("shape");
  auto off = v.find("data_offsets");
  if (dt == v.end() || !dt->is_string()) fail("entry '" + name + "' has no string 'dtype'.");
  if (sh == v.end() || !sh->is_array()) fail("entry '" + name + "' has no 'shape' list.");
  if (off == v.end() || !off->is_array() || off->size() != 2) fail("entry '" + name + "' needs 'data_offsets' [begin, end].");
  Entry e{name, parse_dtype(dt->get<std::string>()), {}, 0, 0};
  if (sh->size() > kMaxDims) fail("entry '" + name + "' has too many dimensions.");
  size_t numel = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0)) {
      fail("entry '" + name + "' has a shape entry that is not a non-negative integer.");
    }
    uint64_t dim = d.get<uint64_t>();
    if (dim > static_cast<uint64_t>(INT32_MAX)) fail("entry '" + name + "' has dimension " + std::to_string(dim) + " (too large).");
    if (!io::mul_ok(numel, dim, &numel)) fail("entry '" + name + "' has an absurd shape (element count overflows).");
    e.shape.push_back(static_cast<ShapeElem>(dim));
  }
  for (int i = 0; i < 2; ++i) {
    if (!(*off)[i].is_number_unsigned() && !((*off)[i].is_number_integer() && (*off)[i].get<int64_t>() >= 0)) {
      fail("entry '" + name + "' has a data offset that is not a non-negative integer.");
    }
  }
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.end < e.begin) fail("entry '" + name + "' has data_offsets end < begin.");
  if (e.end > data_size) {
    fail("entry '" + name + "' has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
         "] past the end of the data (" + std::to_string(data_size) + " bytes).");
  }
  size_t nbytes;
  if (!io::mul_ok(numel, e.info.file_size, &nbytes) || nbytes != e.end - e.begin) {
    fail("entry '" + name + "' has " + std::to_string(e.end - e.begin) + " bytes but dtype " + dt->get<std::string>() +
         " and shape need " + std::to_string(numel) + " x " + std::to_string(e.info.file_size) + ".");
  }
  return e;
}

array f8_to_float(const uint8_t* src, Shape shape, F8 kind) {
  size_t n = shape_size(shape);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = kind == F8::e4m3 ? io::f8_e4m3_to_float(src[i]) : io::f8_e5m2_to_float(src[i]);
  return array(out, std::move(shape), float32);
}

}  // namespace

SafetensorsLoad load_safetensors(std::shared_ptr<const io::Bytes> bytes) {
  io::Reader r(bytes->data(), bytes->size(), "safetensors");
  uint64_t hlen = r.get<uint64_t>("header length");
  if (hlen > r.remaining()) {
    fail("header length " + std::to_string(hlen) + " is past the end of the file (" + std::to_string(bytes->size()) + " bytes).");
  }
  if (hlen > kMaxHeader) fail("header length " + std::to_string(hlen) + " exceeds the 100 MB limit.");
  const char* hp = reinterpret_cast<const char*>(r.take(hlen, "header"));
  check_nesting(hp, hlen, 8);
  json header = json::parse(hp, hp + hlen, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) fail("header is not valid JSON.");
  if (!header.is_object()) fail("header is not a JSON object.");
  size_t data_start = 8 + hlen;
  size_t data_size = bytes->size() - data_start;

  SafetensorsLoad out;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) fail("__metadata__ is not an object.");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) fail("__metadata__ value for '" + m.key() + "' is not a string.");
        out.second[m.key()] = m->get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(it.key(), *it, data_size));
  }
  // Tensors must not overlap.
  std::vector<const Entry*> order;
  for (const auto& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i]->begin < order[i - 1]->end) {
      fail("tensors '" + order[i - 1]->name + "' and '" + order[i]->name + "' overlap.");
    }
  }
  for (auto& e : entries) {
    size_t off = data_start + e.begin;
    if (e.info.f8 != F8::none) {
      out.first.emplace(e.name, f8_to_float(bytes->data() + off, e.shape, e.info.f8));
    } else {
      out.first.emplace(e.name, io::view_bytes(bytes, off, e.shape, e.info.dtype));
    }
  }
  return out;
}

SafetensorsLoad load_safetensors(const std::string& path) {
  return load_safetensors(io::map_file(path, "safetensors"));
}

SafetensorsLoad load_safetensors_dir(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path), dir, index;
  if (fs::is_directory(p)) {
    dir = p;
    if (fs::exists(p / "model.safetensors.index.json")) index = p / "model.safetensors.index.json";
  } else if (p.string().size() > 11 && p.string().ends_with(".index.json")) {
    dir = p.parent_path();
    index = p;
  } else {
    fail(path + " is neither a directory nor an *.index.json file.");
  }
  SafetensorsLoad out;
  auto merge = [&](const fs::path& file, const std::set<std::string>* wanted) {
    auto [arrays, meta] = load_safetensors(file.string());
    for (auto& [k, v] : arrays) {
      if (wanted && !wanted->count(k)) continue;
      if (!out.first.emplace(k, v).second) fail("tensor '" + k + "' appears in more than one shard.");
    }
    for (auto& [k, v] : meta) out.second[k] = v;
  };
  if (index.empty()) {
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(dir)) {
      if (f.is_regular_file() && f.path().extension() == ".safetensors") files.push_back(f.path());
    }
    if (files.empty()) fail("no *.safetensors files in " + dir.string() + ".");
    std::sort(files.begin(), files.end());
    for (const auto& f : files) merge(f, nullptr);
    return out;
  }
  std::ifstream in(index);
  if (!in) fail("cannot open " + index.string() + ".");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(index.string() + " is not valid JSON.");
  auto wm = j.find("weight_map");
  if (wm == j.end() || !wm->is_object()) fail(index.string() + " has no 'weight_map' object.");
  std::map<std::string, std::set<std::string>> by_file;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it->is_string()) fail("weight_map entry '" + it.key() + "' is not a file name.");
    std::string f = it->get<std::string>();
    if (f.find('/') != std::string::npos || f.find("..") != std::string::npos) fail("weight_map names a file outside the directory: " + f);
    by_file[f].insert(it.key());
  }
  for (const auto& [f, names] : by_file) {
    merge(dir / f, &names);
    for (const auto& n : names) {
      if (!out.first.count(n)) fail("tensor '" + n + "' listed in the index is missing from " + f + ".");
    }
  }
  return out;
}

void save_safetensors(const std::string& path, const ArrayMap& arrays, const StringMap& metadata) {
  std::vector<std::string> names;
  for (const auto& [k, v] : arrays) {
    if (k == "__metadata__") fail("'__metadata__' is reserved and cannot name a tensor.");
    names.push_back(k);
  }
  // Larger elements first, so every tensor is naturally aligned (the data start is 8-aligned).
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    size_t sa = arrays.at(a).itemsize(), sb = arrays.at(b).itemsize();
    return sa != sb ? sa > sb : a < b;
  });
  json header = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  size_t offset = 0;
  for (const auto& n : names) {
    const array& a = arrays.at(n);
    json e;
    e["dtype"] = dtype_str(a.dtype());
    e["shape"] = a.shape();
    e["data_offsets"] = {offset, offset + a.nbytes()};
    offset += a.nbytes();
    header[n] = std::move(e);
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  io::Writer w(path, "safetensors");
  w.put<uint64_t>(h.size());
  w.write(h.data(), h.size());
  for (const auto& n : names) io::write_array_data(w, arrays.at(n));
  w.close();
}

}  // namespace tessera
