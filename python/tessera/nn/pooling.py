"""Pooling layers (MLX): MaxPool1d/2d and AvgPool1d/2d over channels-last inputs (N, *spatial, C), on the
C++ nn::functional max_pool / avg_pool (tessera.core._nn) that the C++ layers use."""

from tessera.core import _nn

from .module import Module


def _tuple(v, n, name):
    if isinstance(v, int):
        return (v,) * n
    v = tuple(v)
    if len(v) != n or not all(isinstance(i, int) for i in v):
        raise ValueError(f"[nn] {name} must be an int or a tuple of {n} ints, got {v}.")
    return v


class _Pool(Module):
    """Windows of kernel_size taps every stride along the spatial axes, reduced by max or mean."""

    def __init__(self, dims, reduce, kernel_size, stride=None, padding=0):
        super().__init__()
        self._reduce = reduce
        self.kernel_size = _tuple(kernel_size, dims, "kernel_size")
        self.padding = _tuple(padding, dims, "padding")
        stride = _tuple(stride if stride is not None else self.kernel_size, dims, "stride")
        self.stride = tuple(_nn.pool_strides(type(self).__name__, self.kernel_size, stride, self.padding))

    def _extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def __call__(self, x):
        fn = _nn.max_pool if self._reduce == "max" else _nn.avg_pool
        return fn(x, self.kernel_size, self.stride, self.padding)


class MaxPool1d(_Pool):
    """Max over windows of (N, L, C); padding uses -inf."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(1, "max", kernel_size, stride, padding)


class MaxPool2d(_Pool):
    """Max over windows of (N, H, W, C); padding uses -inf."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(2, "max", kernel_size, stride, padding)


class AvgPool1d(_Pool):
    """Mean over windows of (N, L, C); padding uses zeros (counted in the mean, as MLX)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(1, "mean", kernel_size, stride, padding)


class AvgPool2d(_Pool):
    """Mean over windows of (N, H, W, C); padding uses zeros (counted in the mean, as MLX)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(2, "mean", kernel_size, stride, padding)
