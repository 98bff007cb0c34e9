"""Convolution layers (MLX): channels-last Conv1d / Conv2d on the C++ nn::functional conv1d / conv2d
(tessera.core._nn), shared with the C++ layers."""

import math

import tessera.core as tx
from tessera.core import _nn

from .module import Module


class Conv1d(Module):
    """x (N, L, C_in) -> (N, L_out, C_out); weight (C_out, K, C_in / groups), uniform in +-sqrt(1/(C_in K))."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        super().__init__()
        if in_channels % groups != 0:
            raise ValueError(f"[nn] in_channels {in_channels} is not divisible by groups {groups}.")
        scale = math.sqrt(1.0 / (in_channels * kernel_size))
        self.weight = tx.random.uniform(-scale, scale, (out_channels, kernel_size, in_channels // groups))
        if bias:
            self.bias = tx.zeros((out_channels,))
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def __call__(self, x):
        return _nn.conv1d(x, self["weight"], self.get("bias"), self.stride, self.padding, self.dilation, self.groups)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class Conv2d(Module):
    """x (N, H, W, C_in) -> (N, H_out, W_out, C_out); weight (C_out, KH, KW, C_in / groups)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        super().__init__()
        if in_channels % groups != 0:
            raise ValueError(f"[nn] in_channels {in_channels} is not divisible by groups {groups}.")
        kh, kw = _pair(kernel_size)
        scale = math.sqrt(1.0 / (in_channels * kh * kw))
        self.weight = tx.random.uniform(-scale, scale, (out_channels, kh, kw, in_channels // groups))
        if bias:
            self.bias = tx.zeros((out_channels,))
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.groups = groups

    def __call__(self, x):
        return _nn.conv2d(x, self["weight"], self.get("bias"), self.stride, self.padding, self.dilation, self.groups)
