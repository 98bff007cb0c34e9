"""Streaming generation, as in MLX-LM's README: print the text as each token arrives.

    python examples/python/streaming_generation.py [MODEL]

MODEL as in basic_inference.py (default $TESSERA_EXAMPLE_MODEL, else the bundled models/stories260K)."""

import os
import sys

from tessera.lm import load, stream_generate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
model_path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "TESSERA_EXAMPLE_MODEL", os.path.join(ROOT, "models", "stories260K"))

model, tokenizer = load(model_path)

prompt = "Once upon a time"
if tokenizer.chat_template is not None:
    messages = [{"role": "user", "content": "Write a story about Einstein"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True)

response = None
for response in stream_generate(model, tokenizer, prompt, max_tokens=100):
    print(response.text, end="", flush=True)
print()
if response is not None:
    print(f"{response.generation_tokens} tokens, {response.generation_tps:.1f} tokens/s, "
          f"finish: {response.finish_reason}")
