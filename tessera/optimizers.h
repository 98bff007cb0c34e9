// tessera::optimizers in one include: optimizers, schedules, clip_grad_norm.
#pragma once

#include "tessera/optimizers/adafactor.h"
#include "tessera/optimizers/adam.h"
#include "tessera/optimizers/adaptive.h"
#include "tessera/optimizers/optimizer.h"
#include "tessera/optimizers/schedulers.h"
#include "tessera/optimizers/sgd.h"
