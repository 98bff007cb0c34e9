"""Activation functions (bound from C++ tessera/nn/activations.h) and their parameter-free Modules."""


import tessera.core as tx
from tessera.core._nn import (  # noqa: F401
    celu, elu, gelu, gelu_approx, gelu_fast_approx, glu, hard_tanh, hardswish, leaky_relu, log_sigmoid, mish,
    prelu, relu, relu6, selu, sigmoid, silu, softplus, softsign, step, tanh,
)

from .module import Module


def softmax(x, axis=-1):
    """e^x / sum(e^x) along axis."""
    return tx.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along axis."""
    return tx.log_softmax(x, axis=axis)


def _simple(name, fn):
    def call(self, x):
        return fn(x)

    return type(name, (Module,), {"__call__": call, "__doc__": f"Module form of {fn.__name__}."})


ReLU = _simple("ReLU", relu)
ReLU6 = _simple("ReLU6", relu6)
SELU = _simple("SELU", selu)
SiLU = _simple("SiLU", silu)
Sigmoid = _simple("Sigmoid", sigmoid)
Tanh = _simple("Tanh", tanh)
Softplus = _simple("Softplus", softplus)
Softsign = _simple("Softsign", softsign)
Mish = _simple("Mish", mish)
Hardswish = _simple("Hardswish", hardswish)
LogSigmoid = _simple("LogSigmoid", log_sigmoid)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self._slope = negative_slope

    def __call__(self, x):
        return leaky_relu(x, self._slope)


class ELU(Module):
    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return elu(x, self._alpha)


class CELU(Module):
    def __init__(self, alpha=1.0):
        super().__init__()
        self._alpha = alpha

    def __call__(self, x):
        return celu(x, self._alpha)


class HardTanh(Module):
    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__()
        self._range = (min_val, max_val)

    def __call__(self, x):
        return hard_tanh(x, *self._range)


class GLU(Module):
    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def __call__(self, x):
        return glu(x, self.axis)


class Softmax(Module):
    def __call__(self, x):
        return softmax(x)


class LogSoftmax(Module):
    def __call__(self, x):
        return log_softmax(x)


class Step(Module):
    def __init__(self, threshold=0.0):
        super().__init__()
        self.threshold = threshold

    def __call__(self, x):
        return step(x, self.threshold)


class GELU(Module):
    """approx: "none" (erf), "precise"/"tanh" (tanh formula) or "fast" (x sigmoid(1.702 x))."""

    def __init__(self, approx="none"):
        super().__init__()
        fns = {"none": gelu, "precise": gelu_approx, "tanh": gelu_approx, "fast": gelu_fast_approx}
        if approx not in fns:
            raise ValueError(f"[nn] The approximation should be in {list(fns)} but '{approx}' was given.")
        self._act = fns[approx]

    def __call__(self, x):
        return self._act(x)


class PReLU(Module):
    def __init__(self, num_parameters=1, init=0.25):
        super().__init__()
        self.weight = tx.full((num_parameters,), init)

    def __call__(self, x):
        return prelu(x, self.weight)


