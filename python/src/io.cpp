// Bindings for tessera/io.h as MLX's mx.load / save / savez / savez_compressed / save_safetensors /
// save_gguf.
#include "tessera/io.h"

#include <nanobind/stl/map.h>
#include <nanobind/stl/unordered_map.h>

#include <filesystem>
#include <limits>
#include <string>

#include "utils.h"

using namespace tessera;

namespace {

// str or os.PathLike -> path string.
std::string to_path(nb::handle file) {
  if (nb::isinstance<nb::str>(file)) return nb::cast<std::string>(file);
  nb::object p = nb::module_::import_("os").attr("fspath")(file);
  if (!nb::isinstance<nb::str>(p))
    throw nb::type_error("[io] the file must be a str or an os.PathLike of str.");
  return nb::cast<std::string>(p);
}

std::string extension(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  return e.empty() ? e : e.substr(1);
}

// Appends ".ext" when the path has no extension at all (as MLX does).
std::string with_extension(const std::string& path, const char* ext) {
  if (std::filesystem::path(path).has_extension()) return path;
  return path + "." + ext;
}

std::unordered_map<std::string, array> to_array_map(const char* area, nb::handle arrays) {
  if (!nb::isinstance<nb::dict>(arrays)) {
    throw nb::type_error((std::string("[") + area + "] arrays must be a dict of str to array.").c_str());
  }
  std::unordered_map<std::string, array> out;
  for (auto [k, v] : nb::borrow<nb::dict>(arrays)) {
    if (!nb::isinstance<nb::str>(k)) {
      throw nb::type_error((std::string("[") + area + "] array names must be str.").c_str());
    }
    out.emplace(nb::cast<std::string>(k), txpy::to_array(v));
  }
  return out;
}

nb::dict to_dict(const std::unordered_map<std::string, array>& arrays) {
  nb::dict d;
  for (const auto& [k, v] : arrays) d[nb::str(k.c_str())] = nb::cast(v);
  return d;
}

// ---- GGUF metadata <-> Python: strings as str, lists of strings as list[str], numbers as arrays (MLX).
Dtype gguf_dtype(GGUFValueType t) {
  switch (t) {
    case GGUFValueType::UINT8:
      return uint8;
    case GGUFValueType::INT8:
      return int8;
    case GGUFValueType::UINT16:
      return uint16;
    case GGUFValueType::INT16:
      return int16;
    case GGUFValueType::UINT32:
      return uint32;
    case GGUFValueType::INT32:
      return int32;
    case GGUFValueType::UINT64:
      return uint64;
    case GGUFValueType::INT64:
      return int64;
    case GGUFValueType::FLOAT32:
      return float32;
    case GGUFValueType::FLOAT64:
      return float64;
    case GGUFValueType::BOOL:
      return bool_;
    default:
      throw std::invalid_argument("[gguf] no array dtype for this value type");
  }
}

array scalar_array(const GGUFValue& v) {
  Dtype dt = gguf_dtype(v.type());
  if (v.type() == GGUFValueType::BOOL) return array(v.as_bool());
  if (v.is_float()) return astype(array(v.as_float(), float64), dt);
  if (v.type() == GGUFValueType::UINT64) return astype(array(static_cast<int64_t>(v.as_uint()), int64), dt);
  return astype(array(v.as_int(), int64), dt);
}

nb::object gguf_to_py(const GGUFValue& v) {
  if (v.is_string()) return nb::str(v.as_string().c_str());
  if (!v.is_array()) return nb::cast(scalar_array(v));
  const auto& items = v.as_array();
  if (v.array_type() == GGUFValueType::STRING) {
    nb::list l;
    for (const auto& x : items) l.append(nb::str(x.as_string().c_str()));
    return l;
  }
  if (v.array_type() == GGUFValueType::ARRAY) {
    nb::list l;
    for (const auto& x : items) l.append(gguf_to_py(x));
    return l;
  }
  Dtype dt = gguf_dtype(v.array_type());
  Shape shape{static_cast<int>(items.size())};
  if (items.empty()) return nb::cast(zeros(shape, dt));
  if (v.array_type() == GGUFValueType::FLOAT32 || v.array_type() == GGUFValueType::FLOAT64) {
    return nb::cast(astype(array(v.as_floats(), shape, float64), dt));
  }
  if (v.array_type() == GGUFValueType::UINT64) {
    std::vector<uint64_t> u;
    for (const auto& x : items) u.push_back(x.as_uint());
    return nb::cast(array(u, shape, uint64));
  }
  if (v.array_type() == GGUFValueType::BOOL) {
    std::vector<int64_t> b;
    for (const auto& x : items) b.push_back(x.as_bool() ? 1 : 0);
    return nb::cast(astype(array(b, shape, int64), dt));
  }
  return nb::cast(astype(array(v.as_ints(), shape, int64), dt));
}

GGUFValueType gguf_type_of(Dtype d) {
  switch (d.val) {
    case Dtype::Val::uint8:
      return GGUFValueType::UINT8;
    case Dtype::Val::int8:
      return GGUFValueType::INT8;
    case Dtype::Val::uint16:
      return GGUFValueType::UINT16;
    case Dtype::Val::int16:
      return GGUFValueType::INT16;
    case Dtype::Val::uint32:
      return GGUFValueType::UINT32;
    case Dtype::Val::int32:
      return GGUFValueType::INT32;
    case Dtype::Val::uint64:
      return GGUFValueType::UINT64;
    case Dtype::Val::int64:
      return GGUFValueType::INT64;
    case Dtype::Val::float32:
      return GGUFValueType::FLOAT32;
    case Dtype::Val::float64:
      return GGUFValueType::FLOAT64;
    case Dtype::Val::bool_:
      return GGUFValueType::BOOL;
    default:
      throw nb::type_error("[gguf] metadata arrays must be bool, (u)int8..64, float32 or float64.");
  }
}

// Element i of a contiguous, evaluated array `wide` (float64 for float types, uint64 for UINT64, else
// int64) as a GGUF value of type t.
GGUFValue gguf_element(array& wide, int64_t i, GGUFValueType t) {
  auto iv = [&] { return wide.data<int64_t>()[i]; };
  switch (t) {
    case GGUFValueType::UINT8:
      return GGUFValue(static_cast<uint8_t>(iv()));
    case GGUFValueType::INT8:
      return GGUFValue(static_cast<int8_t>(iv()));
    case GGUFValueType::UINT16:
      return GGUFValue(static_cast<uint16_t>(iv()));
    case GGUFValueType::INT16:
      return GGUFValue(static_cast<int16_t>(iv()));
    case GGUFValueType::UINT32:
      return GGUFValue(static_cast<uint32_t>(iv()));
    case GGUFValueType::INT32:
      return GGUFValue(static_cast<int32_t>(iv()));
    case GGUFValueType::UINT64:
      return GGUFValue(wide.data<uint64_t>()[i]);
    case GGUFValueType::INT64:
      return GGUFValue(iv());
    case GGUFValueType::FLOAT32:
      return GGUFValue(static_cast<float>(wide.data<double>()[i]));
    case GGUFValueType::FLOAT64:
      return GGUFValue(wide.data<double>()[i]);
    case GGUFValueType::BOOL:
      return GGUFValue(iv() != 0);
    default:
      throw std::logic_error("[gguf] unexpected type");
  }
}

array widen(const array& a, GGUFValueType t) {
  Dtype d = t == GGUFValueType::FLOAT32 || t == GGUFValueType::FLOAT64
                ? float64
                : (t == GGUFValueType::UINT64 ? uint64 : int64);
  array w = contiguous(astype(reshape(a, {-1}), d));
  txpy::eval_arrays({w});
  return w;
}

GGUFValue py_to_gguf(const std::string& key, nb::handle v) {
  if (nb::isinstance<nb::str>(v)) return GGUFValue(nb::cast<std::string>(v));
  if (nb::isinstance<nb::bool_>(v)) return GGUFValue(nb::cast<bool>(v));
  if (nb::isinstance<nb::int_>(v)) {
    int64_t x = nb::cast<int64_t>(v);
    if (x >= std::numeric_limits<int32_t>::min() && x <= std::numeric_limits<int32_t>::max()) {
      return GGUFValue(static_cast<int32_t>(x));
    }
    return GGUFValue(x);
  }
  if (nb::isinstance<nb::float_>(v)) return GGUFValue(static_cast<float>(nb::cast<double>(v)));
  if (nb::isinstance<nb::list>(v) || nb::isinstance<nb::tuple>(v)) {
    bool all_str = true;
    for (auto h : v) all_str = all_str && nb::isinstance<nb::str>(h);
    if (all_str && nb::len(v) > 0) {
      GGUFValue::Array items;
      for (auto h : v) items.emplace_back(nb::cast<std::string>(h));
      return GGUFValue::array(GGUFValueType::STRING, std::move(items));
    }
  }
  if (nb::isinstance<array>(v) || nb::isinstance<nb::list>(v) || nb::isinstance<nb::tuple>(v) ||
      nb::hasattr(v, "__array__")) {
    array a = txpy::to_array(v);
    GGUFValueType t = gguf_type_of(a.dtype());
    if (a.ndim() > 1)
      throw nb::value_error(("[gguf] metadata " + key + ": arrays must be 0-D or 1-D.").c_str());
    array w = widen(a, t);
    if (a.ndim() == 0) return gguf_element(w, 0, t);
    GGUFValue::Array items;
    for (int64_t i = 0; i < a.size(); ++i) items.push_back(gguf_element(w, i, t));
    return GGUFValue::array(t, std::move(items));
  }
  throw nb::type_error(("[gguf] metadata " + key +
                        ": values must be str, list of str, int, float, bool or an array (0-D or 1-D).")
                           .c_str());
}

nb::object load_file(nb::handle file, std::optional<std::string> format, bool return_metadata) {
  std::string path = to_path(file);
  std::string fmt = format ? *format : extension(path);
  if (fmt.empty() && std::filesystem::is_directory(path)) fmt = "safetensors";
  if (fmt.empty())
    throw nb::value_error(("[load] cannot infer the format of " + path + "; pass format=.").c_str());
  if (return_metadata && fmt != "safetensors" && fmt != "gguf") {
    throw nb::value_error("[load] metadata is only supported for safetensors and gguf files.");
  }
  if (fmt == "npy") return nb::cast(load_npy(path));
  if (fmt == "npz") return to_dict(load_npz(path));
  if (fmt == "safetensors") {
    auto [arrays, meta] =
        std::filesystem::is_directory(path) ? load_safetensors_dir(path) : load_safetensors(path);
    if (!return_metadata) return to_dict(arrays);
    nb::dict md;
    for (const auto& [k, v] : meta) md[nb::str(k.c_str())] = nb::str(v.c_str());
    return nb::make_tuple(to_dict(arrays), md);
  }
  if (fmt == "gguf") {
    auto [arrays, meta] = load_gguf(path);
    if (!return_metadata) return to_dict(arrays);
    nb::dict md;
    for (const auto& [k, v] : meta) md[nb::str(k.c_str())] = gguf_to_py(v);
    return nb::make_tuple(to_dict(arrays), md);
  }
  throw nb::value_error(("[load] unknown format '" + fmt + "' (npy, npz, safetensors, gguf).").c_str());
}

std::unordered_map<std::string, array> savez_arrays(const nb::args& args, const nb::kwargs& kwargs) {
  std::unordered_map<std::string, array> out;
  for (size_t i = 0; i < args.size(); ++i) out.emplace("arr_" + std::to_string(i), txpy::to_array(args[i]));
  for (auto [k, v] : kwargs) {
    std::string name = nb::cast<std::string>(k);
    if (out.count(name))
      throw nb::value_error(("[savez] cannot use un-named variables and keyword " + name).c_str());
    out.emplace(name, txpy::to_array(v));
  }
  return out;
}

}  // namespace

void init_io(nb::module_& m) {
  m.def("load", &load_file, "file"_a, "format"_a = nb::none(), "return_metadata"_a = false,
        nb::sig(
            "def load(file: str | os.PathLike, format: str | None = None, return_metadata: bool = False) -> "
            "array | dict[str, array] | tuple[dict[str, array], dict]"),
        "Loads an .npy (array), .npz, .safetensors or .gguf file (dict of arrays). format overrides the "
        "extension. return_metadata (safetensors, gguf) also returns the metadata dict.");
  m.def(
      "save",
      [](nb::handle file, const ArrayLike& a) {
        save(with_extension(to_path(file), "npy"), txpy::to_array(a));
      },
      "file"_a, "arr"_a, nb::sig("def save(file: str | os.PathLike, arr: array) -> None"),
      "Saves an array as a NumPy .npy file (.npy is appended when the name has no extension).");
  m.def(
      "savez",
      [](nb::handle file, nb::args args, nb::kwargs kwargs) {
        savez(with_extension(to_path(file), "npz"), savez_arrays(args, kwargs));
      },
      "file"_a, "args"_a, "kwargs"_a,
      nb::sig("def savez(file: str | os.PathLike, *args: array, **kwargs: array) -> None"),
      "Saves arrays to an uncompressed .npz (positional ones as arr_0, arr_1, ...).");
  m.def(
      "savez_compressed",
      [](nb::handle file, nb::args args, nb::kwargs kwargs) {
        savez_compressed(with_extension(to_path(file), "npz"), savez_arrays(args, kwargs));
      },
      "file"_a, "args"_a, "kwargs"_a,
      nb::sig("def savez_compressed(file: str | os.PathLike, *args: array, **kwargs: array) -> None"),
      "Saves arrays to a deflate-compressed .npz.");
  m.def(
      "save_safetensors",
      [](nb::handle file, nb::handle arrays, std::optional<nb::dict> metadata) {
        StringMap md;
        if (metadata) {
          for (auto [k, v] : *metadata) {
            if (!nb::isinstance<nb::str>(k) || !nb::isinstance<nb::str>(v)) {
              throw nb::type_error("[safetensors] metadata must be a dict of str to str.");
            }
            md.emplace(nb::cast<std::string>(k), nb::cast<std::string>(v));
          }
        }
        save_safetensors(with_extension(to_path(file), "safetensors"), to_array_map("safetensors", arrays),
                         md);
      },
      "file"_a, "arrays"_a, "metadata"_a = nb::none(),
      nb::sig("def save_safetensors(file: str | os.PathLike, arrays: dict[str, array], metadata: dict[str, "
              "str] | "
              "None = None) -> None"),
      "Saves a dict of arrays (and optional str metadata) as .safetensors.");
  m.def(
      "save_gguf",
      [](nb::handle file, nb::handle arrays, std::optional<nb::dict> metadata) {
        GGUFMetadata md;
        if (metadata) {
          for (auto [k, v] : *metadata) {
            if (!nb::isinstance<nb::str>(k)) throw nb::type_error("[gguf] metadata keys must be str.");
            std::string key = nb::cast<std::string>(k);
            md.emplace(key, py_to_gguf(key, v));
          }
        }
        save_gguf(with_extension(to_path(file), "gguf"), to_array_map("gguf", arrays), md);
      },
      "file"_a, "arrays"_a, "metadata"_a = nb::none(),
      nb::sig("def save_gguf(file: str | os.PathLike, arrays: dict[str, array], metadata: dict[str, str | "
              "list[str] "
              "| int | float | bool | array] | None = None) -> None"),
      "Saves a dict of arrays as GGUF v3; metadata values: str, list[str], int (int32/int64), float "
      "(float32), "
      "bool, or an array (0-D or 1-D) whose dtype gives the GGUF type.");
}
