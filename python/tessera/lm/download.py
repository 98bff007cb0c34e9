"""Models from the Hugging Face Hub: download(repo_id) fetches a model into the standard Hugging Face cache
with huggingface_hub (or finds it there, offline) and returns its snapshot directory; the command line
`python -m tessera.lm.download org/name` is what `tessera download` runs."""

import argparse
import math
import os
import sys

from .. import core

_lm = core.lm

# What load() reads from a Hugging Face model repository.
DEFAULT_PATTERNS = ["*.json", "model*.safetensors", "tokenizer.model", "*.jinja"]
DEFAULT_TIMEOUT = 10.0  # seconds without an answer before a request fails


def cached_model_path(repo_id, revision="main"):
    """The snapshot directory of repo_id in the Hugging Face cache when it holds every file load() needs,
    else None. Never touches the network."""
    snap = _lm.hub_snapshot_dir(repo_id, revision or "main")
    return snap if snap is not None and not _lm.missing_model_files(snap) else None


def _missing_error(repo_id, revision, reason):
    snap = _lm.hub_snapshot_dir(repo_id, revision or "main")
    missing = _lm.missing_model_files(snap or "")
    return RuntimeError(
        f"[download] could not get {repo_id} (revision {revision or 'main'}): {reason.rstrip('.')}. "
        f"Missing from the Hugging Face cache {_lm.hf_hub_cache_dir()}: {', '.join(missing) or 'nothing'}.")


def download(repo_id, revision=None, allow_patterns=None, timeout=DEFAULT_TIMEOUT, cache_dir=None):
    """The local snapshot directory of a Hugging Face model repository, downloaded into the hub cache
    (cache_dir, else $HF_HUB_CACHE / $HF_HOME/hub / ~/.cache/huggingface/hub) unless already complete there.
    allow_patterns: the files to fetch (default DEFAULT_PATTERNS). Requests give up after `timeout`
    seconds; any failure (offline, no such repo, huggingface_hub missing) raises RuntimeError naming the
    repository and the files the cache lacks."""
    if not _lm.is_hub_repo_id(repo_id):
        raise ValueError(f"[download] '{repo_id}' is not a model id of the form org/name")
    if cache_dir is not None:
        os.environ["HF_HUB_CACHE"] = os.fspath(cache_dir)  # the C++ resolver and huggingface_hub agree
    if allow_patterns is None:
        cached = cached_model_path(repo_id, revision)
        if cached is not None:
            return cached
    # huggingface_hub reads its timeouts from the environment when first imported.
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", str(max(1, math.ceil(timeout))))  # whole seconds
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", str(max(1, math.ceil(timeout))))
    try:
        import huggingface_hub
    except ImportError:
        raise _missing_error(repo_id, revision, "the huggingface_hub package is not installed "
                                                "(pip install huggingface_hub)") from None
    try:
        path = huggingface_hub.snapshot_download(
            repo_id, revision=revision, cache_dir=os.environ.get("HF_HUB_CACHE") if cache_dir else None,
            allow_patterns=allow_patterns or DEFAULT_PATTERNS, etag_timeout=timeout)
    except Exception as e:  # offline, timeout, unknown or gated repository, ...
        raise _missing_error(repo_id, revision, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
    missing = _lm.missing_model_files(path)
    if missing and allow_patterns is None:
        raise RuntimeError(f"[download] {repo_id} was downloaded to {path} but lacks {', '.join(missing)}: "
                           "it is not a model tessera can load")
    return path


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tessera.lm.download",
                                description="Download a model from the Hugging Face Hub into the Hugging Face cache.")
    p.add_argument("repo", help="model id, org/name")
    p.add_argument("--revision", default=None, help="branch, tag or commit (default main)")
    p.add_argument("--include", action="append", default=None, help="file pattern to fetch (repeatable)")
    p.add_argument("--cache-dir", default=None, help="hub cache directory (default: the Hugging Face one)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per request (default 10)")
    args = p.parse_args(argv)
    try:
        path = download(args.repo, args.revision, args.include, args.timeout, args.cache_dir)
    except (RuntimeError, ValueError) as e:
        print(f"tessera download: error: {e}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
