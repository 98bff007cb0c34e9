"""Per-call overhead of tiny ops from Python: tessera vs MLX and NumPy (whichever are importable).

Usage: python benchmarks/python_overhead.py [--json] [--rounds N]
Each case runs a tiny op (16 float32 elements) many times and reports the median over repeats of
the mean time per call in microseconds. "graph" cases build the lazy graph only; "eval" cases also
evaluate each result (the full per-op cost a user pays in an eager-style loop). With --rounds N
(default 3) the libraries take turns N times per case, and the ratio column is the median of the
per-round ratios, which holds up on a loaded machine better than the absolute times."""
import json
import statistics
import sys
import time


def bench(fn, n=20000, repeats=7):
    for _ in range(n // 10):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(times)


def cases_for(mod_name):
    if mod_name == "tessera":
        import tessera.core as m
    elif mod_name == "mlx":
        import mlx.core as m
    else:
        import numpy as np
        a = np.ones(16, np.float32)
        b = np.ones(16, np.float32)
        return {"add (eager)": lambda: a + b, "exp (eager)": lambda: np.exp(a), "sum (eager)": lambda: a.sum()}
    a = m.ones((16,))
    b = m.ones((16,))
    m.eval(a, b)
    return {
        "array(1.0)": lambda: m.array(1.0),
        "add graph": lambda: a + b,
        "add + eval": lambda: m.eval(a + b),
        "exp + eval": lambda: m.eval(m.exp(a)),
        "sum + eval": lambda: m.eval(a.sum()),
        "5-op chain + eval": lambda: m.eval(m.exp(a * b + a) - b / a),
        "item()": lambda: (a[0] + b[0]).item(),
    }


def main():
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    libs = {}
    for name in ("tessera", "mlx", "numpy"):
        try:
            libs[name] = cases_for(name)
        except ImportError:
            continue
    runs = {name: {case: [] for case in cases} for name, cases in libs.items()}
    for _ in range(rounds):
        for case in dict.fromkeys(c for cases in libs.values() for c in cases):
            for name, cases in libs.items():
                if case in cases:
                    runs[name][case].append(bench(cases[case], repeats=3))
    results = {name: {case: statistics.median(t) for case, t in r.items()} for name, r in runs.items()}
    ratios = {}
    if "tessera" in runs and "mlx" in runs:
        for case, t in runs["tessera"].items():
            if case in runs["mlx"]:
                ratios[case] = statistics.median(a / b for a, b in zip(t, runs["mlx"][case]))
    if "--json" in sys.argv:
        print(json.dumps({"us_per_call": results, "tessera/mlx": ratios}, indent=1))
        return
    libs = list(results)
    case_names = list(dict.fromkeys(c for r in results.values() for c in r))
    print(f"{'case (us per call)':24}" + "".join(f"{l:>10}" for l in libs) +
          ("   tessera/mlx" if "mlx" in results and "tessera" in results else ""))
    for c in case_names:
        row = f"{c:24}" + "".join(f"{results[l][c]:10.2f}" if c in results[l] else f"{'-':>10}" for l in libs)
        if c in ratios:
            row += f"   {ratios[c]:8.2f}x"
        print(row)


if __name__ == "__main__":
    main()
