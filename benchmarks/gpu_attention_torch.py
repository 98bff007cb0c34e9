#!/usr/bin/env python3
"""torch SDPA timings for the shapes of tessera's GpuAttention.DISABLED_Timings (tests/gpu_attention_tests.cpp).

Prefill: q, k, v (1, 32, 4096, 128) bf16, causal and full (TFLOP/s counting the causal half).
Decode: q (1, 32, 1, 128) over k, v (1, 8, Lk, 128) bf16 views of a longer cache, Lk 8192 and 4096
(GB/s of K and V read), GQA through enable_gqa (torch >= 2.5) or, before that, repeated KV heads.
Timed with CUDA events (kernel time; tessera's test times wall clock per eval, so the per-call host
overhead shows there and not here). Usage: python benchmarks/gpu_attention_torch.py
"""
import torch
import torch.nn.functional as F


def time_ms(fn, reps):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def gqa_sdpa(q, k, v, scale):
    try:
        return F.scaled_dot_product_attention(q, k, v, scale=scale, enable_gqa=True)
    except TypeError:  # torch < 2.5: repeat the KV heads (extra traffic counted in the time)
        g = q.shape[1] // k.shape[1]
        return F.scaled_dot_product_attention(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1), scale=scale)


def main():
    dev = "cuda"
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
    B, H, L, D = 1, 32, 4096, 128
    q, k, v = (torch.empty(B, H, L, D, device=dev, dtype=torch.bfloat16).uniform_(-1, 1) for _ in range(3))
    for causal in (True, False):
        ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal), 10)
        flops = 4.0 * B * H * L * L * D * (0.5 if causal else 1.0)
        print(f"torch sdpa prefill B=1 H=32 L=4096 D=128 bf16 {'causal' if causal else 'full'}: "
              f"{ms:.3f} ms, {flops / ms / 1e9:.1f} TFLOP/s")
    Hq, Hkv = 32, 8
    for Lk in (8192, 4096):
        q = torch.empty(1, Hq, 1, D, device=dev, dtype=torch.bfloat16).uniform_(-1, 1)
        kc = torch.empty(1, Hkv, Lk + 1024, D, device=dev, dtype=torch.bfloat16).uniform_(-1, 1)
        vc = torch.empty_like(kc).uniform_(-1, 1)
        k, v = kc[:, :, :Lk], vc[:, :, :Lk]
        ms = time_ms(lambda: gqa_sdpa(q, k, v, 0.088), 50)
        nbytes = 2.0 * Hkv * Lk * D * 2
        print(f"torch sdpa decode Lk={Lk} Hq=32 Hkv=8 D=128 bf16 (cache view): {ms * 1e3:.1f} us, "
              f"{nbytes / ms / 1e6:.0f} GB/s")


if __name__ == "__main__":
    main()
