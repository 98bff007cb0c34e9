// Host buffers handed out writable (NumPy / memoryview / an aliased CPU DLPack import): the owner of
// the view may write the host bytes at any time, so the device copy of such a buffer is never trusted.
#pragma once

#include "tessera/array.h"

namespace tessera {

// Marks a's buffer exported: its device copy is stale now, and every later upload (a GPU kernel
// reading it) copies the host side again while the host side is the valid one. A GPU kernel that
// writes the buffer in place makes the device side the valid one as usual. No-op without CUDA.
void mark_host_exported(const array& a);
// Whether a's buffer was marked exported.
bool is_host_exported(const array& a);

}  // namespace tessera
