"""Learning-rate schedules (MLX's mlx.optimizers schedulers), bound from C++ tessera/optimizers/schedulers.h.
A schedule is called with the step and returns the learning rate as a scalar array."""

import tessera.core as tx
from tessera.core import _nn


class _Schedule:
    """A C++ schedule (step -> float) that returns float32 scalar arrays, as MLX's schedules do."""

    def __init__(self, fn, keep=()):
        self._fn = fn
        self._keep = list(keep)  # callables the C++ schedule borrows

    def __call__(self, step):
        return tx.array(self._fn(int(step)), dtype=tx.float32)


def _cpp(schedule):
    """The C++ callable of a schedule, or a float-returning wrapper of any Python callable."""
    if isinstance(schedule, _Schedule):
        return schedule._fn
    return lambda step: float(schedule(step))


def exponential_decay(init, decay_rate):
    """init * decay_rate^step."""
    return _Schedule(_nn.exponential_decay(init, decay_rate))


def step_decay(init, decay_rate, step_size):
    """init * decay_rate^(step // step_size)."""
    return _Schedule(_nn.step_decay(init, decay_rate, step_size))


def cosine_decay(init, decay_steps, end=0.0):
    """end + 0.5 (1 + cos(pi min(step, decay_steps) / decay_steps)) (init - end)."""
    return _Schedule(_nn.cosine_decay(init, decay_steps, end))


def linear_schedule(init, end, steps):
    """init + min(step, steps) (end - init) / steps."""
    return _Schedule(_nn.linear_schedule(init, end, steps))


def join_schedules(schedules, boundaries):
    """schedules[0] before boundaries[0], then schedules[i + 1](step - boundaries[i]) from boundaries[i] on."""
    fns = [_cpp(s) for s in schedules]
    return _Schedule(_nn.join_schedules(fns, list(boundaries)), keep=list(schedules) + fns)
