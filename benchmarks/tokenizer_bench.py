# Tokenizer encode throughput: tessera vs Hugging Face `tokenizers` (one thread each) on war-and-peace.
# Usage: python3 benchmarks/tokenizer_bench.py [path to ../shared/data]
import os
import statistics
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TESSERA_NUM_THREADS", "1")
import tokenizers  # noqa: E402

from tessera.lm.utils import load_tokenizer  # noqa: E402

data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
text = open(os.path.join(data, "corpora", "war-and-peace.txt"), encoding="utf-8").read()
mb = len(text.encode()) / 1e6
rows = []
for name in ["llama3", "qwen2.5", "gemma"]:
    d = os.path.join(data, "tokenizers", name)
    ref = tokenizers.Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    ours = load_tokenizer(d)
    def best(fn, n=3):
        ts = []
        for _ in range(n):
            t = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t)
        return statistics.median(ts), out
    t_ref, ids_ref = best(lambda: ref.encode(text, add_special_tokens=False).ids)
    t_ours, ids_ours = best(lambda: ours.encode(text, add_special_tokens=False))
    same = list(ids_ours) == ids_ref
    rows.append((name, len(ids_ref), mb / t_ours, mb / t_ref, t_ref / t_ours, same))
print(f"war-and-peace.txt, {mb:.2f} MB, one thread each, median of 3")
print("| tokenizer | tokens | tessera MB/s | HF tokenizers MB/s | ratio | same ids |")
print("|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f}x | {r[5]} |")
