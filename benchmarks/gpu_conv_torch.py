#!/usr/bin/env python3
"""torch (cuDNN) convolution timings for the shapes of tessera's GpuCudnn.DISABLED_Timings (tests/gpu_cudnn_tests.cpp).

Channels-last (NHWC / NLC) inputs like tessera's, bf16 / f16 / f32 (TF32 off, as tessera's f32
path excludes it), forward only, CUDA events over 20 calls. TFLOP/s = 2 * outputs * MACs per
output. Usage: python benchmarks/gpu_conv_torch.py
"""
import torch
import torch.nn.functional as F

from gpu_attention_torch import time_ms  # same directory: CUDA-event timing of a call

SHAPES = [  # name, N, Cin, Cout, groups, spatial in, kernel, stride, padding
    ("resnet 3x3 N=32 56x56 64->64", 32, 64, 64, 1, (56, 56), (3, 3), 1, 1),
    ("stem 7x7/2 N=32 224x224 3->64", 32, 3, 64, 1, (224, 224), (7, 7), 2, 3),
    ("1x1 N=32 28x28 256->512", 32, 256, 512, 1, (28, 28), (1, 1), 1, 0),
    ("depthwise 3x3 N=32 112x112 C=96", 32, 96, 96, 96, (112, 112), (3, 3), 1, 1),
    ("conv1d k=3 N=8 L=4096 512->512", 8, 512, 512, 1, (4096,), (3,), 1, 1),
]


def main():
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()} on {torch.cuda.get_device_name()}")
    print(f"{'convolution (channels-last)':36s} {'dtype':8s} {'ms':>10s} {'TFLOP/s':>10s}")
    for name, n, cin, cout, groups, sp, k, stride, pad in SHAPES:
        for dt in (torch.bfloat16, torch.float16, torch.float32):
            x = torch.empty(n, cin, *sp, device="cuda", dtype=dt).uniform_(-1, 1)
            w = torch.empty(cout, cin // groups, *k, device="cuda", dtype=dt).uniform_(-1, 1)
            if len(sp) == 2:
                x = x.to(memory_format=torch.channels_last)
                w = w.to(memory_format=torch.channels_last)
                conv = F.conv2d
            else:
                # NLC storage: a (N, C, L) view of a contiguous (N, L, C) tensor
                x = x.transpose(1, 2).contiguous().transpose(1, 2)
                w = w.transpose(1, 2).contiguous().transpose(1, 2)
                conv = F.conv1d
            y = conv(x, w, stride=stride, padding=pad, groups=groups)
            ms = time_ms(lambda: conv(x, w, stride=stride, padding=pad, groups=groups), 20)
            flops = 2.0 * y.numel() * (cin // groups) * torch.tensor(k).prod().item()
            print(f"{name:36s} {str(dt).replace('torch.', ''):8s} {ms:10.3f} {flops / ms / 1e9:10.1f}")


if __name__ == "__main__":
    main()
