"""PyTorch reference for benchmarks/gpu_bench.cpp: the same cases, timing and table format.

bf16 GEMM (8192^3; x @ W.T with W (11008, 4096) at M = 1, 2, 4, 8, 16, 512), add/exp/sigmoid on
2^26 f32/bf16 elements, rms_norm, softmax and log_softmax on (8192, 4096) bf16, against a device-to-device copy. CUDA events
bracket a batch of repetitions (queued back to back, results kept); median of N batches.
Usage: python3 benchmarks/gpu_torch_ref.py [batches]
"""
import statistics
import sys

import torch


def median_seconds(batch, reps, batches):
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)
    batch(1)  # warm-up
    torch.cuda.synchronize()
    times = []
    for _ in range(batches):
        start.record()
        batch(reps)
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1e-3 / reps)
    return statistics.median(times)


def time_op(op, reps, batches):
    def batch(n):
        outs = [op() for _ in range(n)]
        del outs

    return median_seconds(batch, reps, batches)


def rms_norm(x, w, eps=1e-5):
    # What a fused implementation computes: float32 accumulation, one rounding at the end.
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w.float()).to(x.dtype)


def main():
    batches = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    dev = torch.device("cuda")
    prop = torch.cuda.get_device_properties(0)
    print(f"torch {torch.__version__} gpu_torch_ref on {prop.name} ({prop.multi_processor_count} SMs, "
          f"{prop.total_memory / 2**30:.1f} GiB), median of {batches} batches")
    torch.backends.cuda.matmul.allow_tf32 = False

    copy_bytes = 512 << 20
    src = torch.ones(copy_bytes, dtype=torch.uint8, device=dev)
    dst = torch.empty_like(src)

    def copies(n):
        for _ in range(n):
            dst.copy_(src)

    copy_gbs = 2.0 * copy_bytes / median_seconds(copies, 10, batches) / 1e9
    del src, dst
    rows = []

    def bandwidth_row(name, nbytes, s):
        gbs = nbytes / s / 1e9
        rows.append((name, s * 1e6, gbs, "GB/s", gbs / copy_gbs))

    n = 8192
    a = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    s = time_op(lambda: a @ b, 5, batches)
    rows.append(("bf16 GEMM 8192^3", s * 1e6, 2.0 * n ** 3 / s / 1e12, "TFLOP/s", None))
    del a, b

    K, N = 4096, 11008
    w = torch.randn(N, K, device=dev, dtype=torch.bfloat16)
    for M in (1, 2, 4, 8, 16, 512):
        x = torch.randn(M, K, device=dev, dtype=torch.bfloat16)
        s = time_op(lambda: x @ w.t(), 20, batches)
        nbytes = 2.0 * (N * K + M * K + M * N)
        name = f"bf16 x @ W.T, M={M} K=4096 N=11008"
        if M <= 16:
            bandwidth_row(name + " (weight-read bound)", nbytes, s)
        else:
            rows.append((name, s * 1e6, 2.0 * M * N * K / s / 1e12, "TFLOP/s", None))
    del w

    ne = 1 << 26
    for dt, dn in ((torch.float32, "f32"), (torch.bfloat16, "bf16")):
        a = torch.randn(ne, device=dev, dtype=dt)
        b = torch.randn(ne, device=dev, dtype=dt)
        size = a.element_size()
        s = time_op(lambda: a + b, 20, batches)
        bandwidth_row(f"add {dn} 2^26", 3.0 * ne * size, s)
        s = time_op(lambda: torch.exp(a), 20, batches)
        bandwidth_row(f"exp {dn} 2^26", 2.0 * ne * size, s)
        s = time_op(lambda: torch.sigmoid(a), 20, batches)
        bandwidth_row(f"sigmoid {dn} 2^26", 2.0 * ne * size, s)
        del a, b

    R, D = 8192, 4096
    x = torch.randn(R, D, device=dev, dtype=torch.bfloat16)
    w = torch.randn(D, device=dev, dtype=torch.bfloat16)
    fused = getattr(torch.nn.functional, "rms_norm", None)
    if fused is not None:
        s = time_op(lambda: fused(x, (D,), w, 1e-5), 20, batches)
        bandwidth_row("rms_norm bf16 (8192, 4096)", 2.0 * R * D * 2 + D * 2, s)
    else:
        s = time_op(lambda: rms_norm(x, w), 20, batches)
        bandwidth_row("rms_norm bf16 (8192, 4096) (unfused)", 2.0 * R * D * 2 + D * 2, s)
    s = time_op(lambda: torch.softmax(x, -1), 20, batches)
    bandwidth_row("softmax bf16 (8192, 4096)", 2.0 * R * D * 2, s)
    s = time_op(lambda: torch.log_softmax(x, -1), 20, batches)
    bandwidth_row("log_softmax bf16 (8192, 4096)", 2.0 * R * D * 2, s)

    print("\n| case | median us | rate | of copy bandwidth |\n|---|---|---|---|")
    print(f"| device-to-device copy (read + write) | - | {copy_gbs:.0f} GB/s | 1.00 |")
    for name, us, rate, unit, ratio in rows:
        r = "-" if ratio is None else f"{ratio:.2f}"
        print(f"| {name} | {us:.1f} | {rate:.1f} {unit} | {r} |")


if __name__ == "__main__":
    main()
