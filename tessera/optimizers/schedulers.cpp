// Learning-rate schedules.
#include "tessera/optimizers/schedulers.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace tessera::optimizers {

Schedule exponential_decay(float init, float decay_rate) {
  return [=](int step) { return static_cast<float>(init * std::pow(static_cast<double>(decay_rate), step)); };
}

Schedule step_decay(float init, float decay_rate, int step_size) {
  if (step_size <= 0) throw std::invalid_argument("[optimizers] step_decay step_size must be positive.");
  return [=](int step) {
    return static_cast<float>(init * std::pow(static_cast<double>(decay_rate), step / step_size));
  };
}

Schedule cosine_decay(float init, int decay_steps, float end) {
  if (decay_steps <= 0) throw std::invalid_argument("[optimizers] cosine_decay decay_steps must be positive.");
  return [=](int step) {
    double s = std::min(step, decay_steps);
    double decay = 0.5 * (1.0 + std::cos(std::numbers::pi / decay_steps * s));
    return static_cast<float>(end + decay * (init - end));
  };
}

Schedule linear_schedule(float init, float end, int steps) {
  if (steps < 1) throw std::invalid_argument("[optimizers] linear_schedule steps must be at least 1.");
  return [=](int step) {
    double s = std::min(step, steps);
    return static_cast<float>(s * ((static_cast<double>(end) - init) / steps) + init);
  };
}

Schedule join_schedules(std::vector<Schedule> schedules, std::vector<int> boundaries) {
  if (schedules.empty() || boundaries.size() + 1 != schedules.size()) {
    throw std::invalid_argument("[optimizers] join_schedules needs one boundary fewer than schedules, got " +
                                std::to_string(boundaries.size()) + " boundaries for " +
                                std::to_string(schedules.size()) + " schedules.");
  }
  return [schedules = std::move(schedules), boundaries = std::move(boundaries)](int step) {
    float out = schedules[0](step);
    for (size_t i = 0; i < boundaries.size(); ++i) {
      if (step >= boundaries[i]) out = schedules[i + 1](step - boundaries[i]);
    }
    return out;
  };
}

}  // namespace tessera::optimizers
