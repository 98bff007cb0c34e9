// npz through libzip: entries are read fully (size checked against the archive) then parsed as .npy;
// writing streams each .npy from a zip_source_function callback.
#include "tessera/io/npz.h"

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>

#include "tessera/io/bytes.h"
#include "tessera/io/npy.h"
#include "tessera/ops.h"

namespace tessera {

namespace {

[[noreturn]] void fail(const std::string& m) { throw std::runtime_error("[npz] " + m); }

struct ArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using Archive = std::unique_ptr<zip_t, ArchiveCloser>;

std::unordered_map<std::string, array> read_archive(zip_t* za, size_t archive_size) {
  std::unordered_map<std::string, array> out;
  zip_int64_t n = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, i, 0, &st) != 0) fail(std::string("cannot stat entry: ") + zip_strerror(za));
    if (!(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) {
      fail("entry without name or size.");
    }
    std::string name = st.name;
    if (!name.empty() && name.back() == '/') continue;  // directory
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".npy") != 0) fail("entry '" + name + "' is not an .npy file.");
    // Never allocate what the directory claims before checking it against the archive itself.
    if (st.comp_size > archive_size) fail("entry '" + name + "' claims more compressed bytes than the archive has.");
    bool stored = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE;
    if (stored ? st.size != st.comp_size : st.size > st.comp_size * 1100 + 1024) {
      fail("entry '" + name + "' has an implausible size " + std::to_string(st.size) + ".");
    }
    zip_file_t* zf = zip_fopen_index(za, i, 0);
    if (!zf) fail("cannot open entry '" + name + "': " + zip_strerror(za));
    std::vector<uint8_t> buf(st.size);
    size_t got = 0;
    while (got < buf.size()) {
      zip_int64_t k = zip_fread(zf, buf.data() + got, buf.size() - got);
      if (k < 0) {
        std::string e = zip_file_strerror(zf);
        zip_fclose(zf);
        fail("reading entry '" + name + "' failed: " + e);
      }
      if (k == 0) break;
      got += static_cast<size_t>(k);
    }
    uint8_t extra;
    bool more = got == buf.size() && zip_fread(zf, &extra, 1) > 0;
    int rc = zip_fclose(zf);
    if (got != buf.size() || more || rc != 0) fail("entry '" + name + "' is corrupt (size or checksum mismatch).");
    std::string key = name.substr(0, name.size() - 4);
    out.insert_or_assign(key, load_npy(io::own_bytes(std::move(buf)), "npz"));
  }
  return out;
}

// Streams one array as an .npy entry: header bytes, then the evaluated row-major data.
struct EntrySource {
  array a{0.0f};
  std::string header;
  array data{0.0f};
  size_t pos{0};
  size_t total{0};
  std::string error;
  zip_error_t zerr;
};

zip_int64_t entry_callback(void* user, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
  auto* s = static_cast<EntrySource*>(user);
  switch (cmd) {
    case ZIP_SOURCE_OPEN:
      try {
        s->data = s->a;
        s->data.eval();
        if (s->data.size() > 0 && (!s->data.flags().row_contiguous || s->data.data_size() != s->data.size())) {
          s->data = contiguous(s->data);
          s->data.eval();
        }
        s->pos = 0;
        return 0;
      } catch (const std::exception& e) {
        s->error = e.what();
        zip_error_set(&s->zerr, ZIP_ER_READ, 0);
        return -1;
      }
    case ZIP_SOURCE_READ: {
      size_t n = 0;
      auto* out = static_cast<uint8_t*>(data);
      while (n < len && s->pos < s->total) {
        size_t hs = s->header.size();
        if (s->pos < hs) {
          size_t k = std::min<size_t>(len - n, hs - s->pos);
          std::memcpy(out + n, s->header.data() + s->pos, k);
          n += k;
          s->pos += k;
        } else {
          size_t k = std::min<size_t>(len - n, s->total - s->pos);
          std::memcpy(out + n, s->data.data<uint8_t>() + (s->pos - hs), k);
          n += k;
          s->pos += k;
        }
      }
      return static_cast<zip_int64_t>(n);
    }
    case ZIP_SOURCE_CLOSE:
      s->data = array(0.0f);  // release the evaluated copy
      return 0;
    case ZIP_SOURCE_STAT: {
      auto* st = static_cast<zip_stat_t*>(data);
      zip_stat_init(st);
      st->size = s->total;
      st->valid |= ZIP_STAT_SIZE;
      return sizeof(zip_stat_t);
    }
    case ZIP_SOURCE_ERROR: return zip_error_to_data(&s->zerr, data, len);
    case ZIP_SOURCE_FREE: return 0;  // owned by save_zip
    case ZIP_SOURCE_SUPPORTS:
      return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                            ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    default:
      zip_error_set(&s->zerr, ZIP_ER_OPNOTSUPP, 0);
      return -1;
  }
}

void save_zip(const std::string& path, const std::unordered_map<std::string, array>& arrays, bool compress) {
  std::vector<std::unique_ptr<EntrySource>> sources;  // outlives the archive (its callbacks use them)
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!za) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string m = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    fail("cannot create " + path + ": " + m);
  }
  Archive guard(za);
  std::map<std::string, array> sorted(arrays.begin(), arrays.end());
  for (const auto& [name, a] : sorted) {
    auto s = std::make_unique<EntrySource>();
    s->a = a;
    s->header = npy_header(a.dtype(), a.shape(), "npz");
    zip_error_init(&s->zerr);
    s->total = s->header.size() + a.nbytes();
    zip_source_t* src = zip_source_function(za, entry_callback, s.get());
    if (!src) fail(std::string("cannot create a zip source: ") + zip_strerror(za));
    zip_int64_t idx = zip_file_add(za, (name + ".npy").c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
    if (idx < 0) {
      zip_source_free(src);
      fail("cannot add '" + name + "': " + zip_strerror(za));
    }
    zip_set_file_compression(za, idx, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
    sources.push_back(std::move(s));
  }
  int rc = zip_close(za);
  if (rc != 0) {
    std::string m = zip_strerror(za);
    for (auto& s : sources) {
      if (!s->error.empty()) m = s->error;
    }
    fail("writing " + path + " failed: " + m);
  }
  guard.release();
  for (auto& s : sources) zip_error_fini(&s->zerr);
}

}  // namespace

std::unordered_map<std::string, array> load_npz(const std::string& path) {
  auto bytes = io::map_file(path, "npz");
  return load_npz(bytes->data(), bytes->size());
}

std::unordered_map<std::string, array> load_npz(const uint8_t* data, size_t size) {
  if (size == 0) fail("empty file is not a zip archive.");
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t* src = zip_source_buffer_create(data, size, 0, &ze);
  if (!src) {
    std::string m = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    fail("cannot read archive: " + m);
  }
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
  if (!za) {
    zip_source_free(src);
    std::string m = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    fail("not a valid zip archive: " + m);
  }
  zip_error_fini(&ze);
  Archive guard(za);
  return read_archive(za, size);
}

void savez(const std::string& path, const std::unordered_map<std::string, array>& arrays) { save_zip(path, arrays, false); }

void savez_compressed(const std::string& path, const std::unordered_map<std::string, array>& arrays) {
  save_zip(path, arrays, true);
}

}  // namespace tessera
