// (placeholder: filled in by the fast work) fast ops.
#pragma once

#include "tessera/array.h"
#include "tessera/device.h"

namespace tessera {}  // namespace tessera
