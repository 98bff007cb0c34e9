"""tessera.optimizers (MLX's mlx.optimizers): SGD, Adam, AdamW, Adamax, Lion, RMSprop, Adagrad, Adafactor,
learning-rate schedules and clip_grad_norm. The update rules and state are the C++ ones of
tessera/optimizers/*.h (one implementation); these classes give them MLX's Python signatures."""

from .optimizers import (  # noqa: F401
    SGD, Adafactor, Adagrad, Adam, Adamax, AdamW, Lion, Optimizer, RMSprop, clip_grad_norm,
)
from .schedulers import cosine_decay, exponential_decay, join_schedules, linear_schedule, step_decay  # noqa: F401
