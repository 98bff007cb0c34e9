// (placeholder: filled in by the conv work) conv ops.
#pragma once

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {}  // namespace tessera
