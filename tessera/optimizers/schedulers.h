// Learning-rate schedules (MLX's mlx.optimizers schedulers): functions of the step.
#pragma once

#include <vector>

#include "tessera/optimizers/optimizer.h"

namespace tessera::optimizers {

Schedule exponential_decay(float init, float decay_rate);                 // init * decay_rate^step
Schedule step_decay(float init, float decay_rate, int step_size);         // init * decay_rate^(step / step_size)
// end + 0.5 (1 + cos(pi min(step, decay_steps) / decay_steps)) (init - end).
Schedule cosine_decay(float init, int decay_steps, float end = 0.0f);
// init + min(step, steps) (end - init) / steps.
Schedule linear_schedule(float init, float end, int steps);
// schedules[0] before boundaries[0], then schedules[i + 1](step - boundaries[i]) from boundaries[i] on.
// boundaries.size() must be schedules.size() - 1 (else "[optimizers] ...").
Schedule join_schedules(std::vector<Schedule> schedules, std::vector<int> boundaries);

}  // namespace tessera::optimizers
