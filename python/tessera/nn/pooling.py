"""Pooling layers (MLX): MaxPool1d/2d and AvgPool1d/2d over channels-last inputs (N, *spatial, C)."""

import tessera.core as tx

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

    def __init__(self, dims, reduce, pad_value, kernel_size, stride=None, padding=0):
        super().__init__()
        self._dims = dims
        self._reduce = reduce
        self._pad_value = pad_value
        self.kernel_size = _tuple(kernel_size, dims, "kernel_size")
        self.stride = _tuple(stride if stride is not None else self.kernel_size, dims, "stride")
        self.padding = _tuple(padding, dims, "padding")
        for k, s, p in zip(self.kernel_size, self.stride, self.padding):
            if k < 1 or s < 1 or p < 0:
                raise ValueError("[nn] Pooling needs kernel_size >= 1, stride >= 1 and padding >= 0.")
            if p > k // 2:
                raise ValueError(f"[nn] Pooling padding ({p}) must be at most half the kernel size ({k}).")

    def _extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def __call__(self, x):
        d = self._dims
        if x.ndim != d + 2:
            raise ValueError(f"[nn] {type(self).__name__} expects (N, {d} spatial dims, C) inputs, got {x.shape}.")
        if any(self.padding):
            widths = [(0, 0)] + [(p, p) for p in self.padding] + [(0, 0)]
            x = tx.pad(x, widths, constant_values=self._pad_value)
        out = []
        for a in range(d):
            span = x.shape[a + 1] - self.kernel_size[a]
            if span < 0:
                raise ValueError(f"[nn] The pooling window ({self.kernel_size}) is larger than the input {x.shape}.")
            out.append(span // self.stride[a] + 1)
        # One strided slice per kernel tap, stacked on a new last axis and reduced.
        taps = []
        for tap in range(_prod(self.kernel_size)):
            offs, rest = [], tap
            for k in reversed(self.kernel_size):
                offs.append(rest % k)
                rest //= k
            offs.reverse()
            idx = tuple(slice(o, o + (n - 1) * s + 1, s) for o, n, s in zip(offs, out, self.stride))
            taps.append(x[(slice(None),) + idx])
        windows = tx.stack(taps, axis=-1)
        return tx.max(windows, axis=-1) if self._reduce == "max" else tx.mean(windows, axis=-1)


def _prod(v):
    r = 1
    for i in v:
        r *= i
    return r


class MaxPool1d(_Pool):
    """Max over windows of (N, L, C); padding uses -inf."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(1, "max", float("-inf"), kernel_size, stride, padding)


class MaxPool2d(_Pool):
    """Max over windows of (N, H, W, C); padding uses -inf."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(2, "max", float("-inf"), kernel_size, stride, padding)


class AvgPool1d(_Pool):
    """Mean over windows of (N, L, C); padding uses zeros (counted in the mean, as MLX)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(1, "mean", 0.0, kernel_size, stride, padding)


class AvgPool2d(_Pool):
    """Mean over windows of (N, H, W, C); padding uses zeros (counted in the mean, as MLX)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(2, "mean", 0.0, kernel_size, stride, padding)
