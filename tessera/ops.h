// All array ops, one header per family under tessera/ops/.
#pragma once

#include "tessera/ops/creation.h"
#include "tessera/ops/elementwise.h"
#include "tessera/ops/shape.h"
