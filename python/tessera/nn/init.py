"""Parameter initializers (MLX's mlx.nn.init), bound from C++ tessera/nn/init.h: each returns a function of
an array giving a new array of its shape."""

import tessera.core as tx
from tessera.core import _nn


def constant(value, dtype=tx.float32):
    return lambda a: _nn.init_constant(a, value, dtype)


def normal(mean=0.0, std=1.0, dtype=tx.float32):
    return lambda a: _nn.init_normal(a, mean, std, dtype)


def uniform(low=0.0, high=1.0, dtype=tx.float32):
    return lambda a: _nn.init_uniform(a, low, high, dtype)


def identity(dtype=tx.float32):
    return lambda a: _nn.init_identity(a, dtype)


def glorot_normal(dtype=tx.float32):
    return lambda a, gain=1.0: _nn.init_glorot(a, gain, False, dtype)


def glorot_uniform(dtype=tx.float32):
    return lambda a, gain=1.0: _nn.init_glorot(a, gain, True, dtype)


def he_normal(dtype=tx.float32):
    return lambda a, mode="fan_in", gain=1.0: _nn.init_he(a, mode, gain, False, dtype)


def he_uniform(dtype=tx.float32):
    return lambda a, mode="fan_in", gain=1.0: _nn.init_he(a, mode, gain, True, dtype)
