// NumPy .npz archives (a zip of .npy files) through libzip: read, savez (stored), savez_compressed.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "tessera/array.h"

namespace tessera {

// Entries "<name>.npy" become arrays named <name>. Throws "[npz] ..." on a bad archive or entry.
std::unordered_map<std::string, array> load_npz(const std::string& path);
std::unordered_map<std::string, array> load_npz(const uint8_t* data, size_t size);  // archive in memory

// Each array is serialized while the archive is written (one tensor in memory at a time).
void savez(const std::string& path, const std::unordered_map<std::string, array>& arrays);
void savez_compressed(const std::string& path, const std::unordered_map<std::string, array>& arrays);

}  // namespace tessera
