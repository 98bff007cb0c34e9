// The public C++ API of tessera in one include.
#pragma once

#include "tessera/array.h"
#include "tessera/compile.h"
#include "tessera/device.h"
#include "tessera/dtype.h"
#include "tessera/fast.h"
#include "tessera/memory.h"
#include "tessera/ops.h"
#include "tessera/random.h"
#include "tessera/scheduler.h"
#include "tessera/transforms.h"
