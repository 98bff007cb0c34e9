"""numpy reference timings for cpu_bench: softmax and rms_norm over (4096, 4096) float32, written
the way a numpy user writes them. Prints `NUMPY_SOFTMAX_MS=<ms>` and `NUMPY_RMS_NORM_MS=<ms>`."""
import time

import numpy as np


def median_ms(f, reps=7, warmup=2):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1e3


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def rms_norm(x, w, eps=1e-5):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 4096), dtype=np.float32)
    w = rng.standard_normal(4096, dtype=np.float32)
    assert softmax(x).dtype == np.float32 and rms_norm(x, w).dtype == np.float32
    print(f"NUMPY_SOFTMAX_MS={median_ms(lambda: softmax(x)):.3f}")
    print(f"NUMPY_RMS_NORM_MS={median_ms(lambda: rms_norm(x, w)):.3f}")


if __name__ == "__main__":
    main()
