// All array ops, one header per family under tessera/ops/ (fast and random have their own).
#pragma once

#include "tessera/ops/conv.h"
#include "tessera/ops/creation.h"
#include "tessera/ops/elementwise.h"
#include "tessera/ops/indexing.h"
#include "tessera/ops/linalg.h"
#include "tessera/ops/manipulation.h"
#include "tessera/ops/quantized.h"
#include "tessera/ops/reduce.h"
#include "tessera/ops/shape.h"
#include "tessera/ops/sort.h"
