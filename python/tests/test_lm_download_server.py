"""`tessera download` / tessera.lm.download against a local fake Hugging Face endpoint (http.server in a thread):
the files land in the standard cache layout (models--org--name/{blobs,refs/main,snapshots/<commit>}) and the
model then loads offline by name and generates stories260K's reference greedy text."""

import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse

import pytest

from tessera.lm import convert as lm_convert
from tessera.lm import generate, load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(ROOT, "..", "shared", "data")
STORIES = os.path.join(SHARED, "models", "stories260K")
REPO = "tiny-org/stories260K-hf"
COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def tessera_cmd():
    exe = os.environ.get("TESSERA_CLI") or shutil.which("tessera") or os.path.join(ROOT, "build", "tessera")
    assert os.path.exists(exe), "the tessera command is not built (scripts/build.sh)"
    return exe


class FakeHub(http.server.ThreadingHTTPServer):
    """Serves one model repository the way huggingface.co does for huggingface_hub: the revision and tree APIs
    and /{repo}/resolve/{revision}/{file} with X-Repo-Commit, ETag and Content-Length."""

    def __init__(self, files):
        self.files = files  # name -> bytes
        self.requests = []
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, code, body=b"", headers=None, head=False):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, obj, head=False):
        self._send(200, json.dumps(obj).encode(), {"Content-Type": "application/json"}, head)

    def _route(self, head):
        path = urllib.parse.urlparse(self.path).path
        srv = self.server
        srv.requests.append((self.command, path))
        files = srv.files
        if path in (f"/api/models/{REPO}/revision/main", f"/api/models/{REPO}"):
            return self._json({"id": REPO, "modelId": REPO, "sha": COMMIT, "private": False,
                               "siblings": [{"rfilename": n} for n in sorted(files)]}, head)
        if path == f"/api/models/{REPO}/tree/{COMMIT}" or path == f"/api/models/{REPO}/tree/main":
            return self._json([{"type": "file", "path": n, "size": len(b),
                                "oid": hashlib.sha1(b).hexdigest()} for n, b in sorted(files.items())], head)
        prefix = f"/{REPO}/resolve/"
        if path.startswith(prefix):
            rev, _, name = path[len(prefix):].partition("/")
            if rev in ("main", COMMIT) and name in files:
                body = files[name]
                return self._send(200, body, {"X-Repo-Commit": COMMIT,
                                              "ETag": '"' + hashlib.sha256(body).hexdigest() + '"',
                                              "Content-Type": "application/octet-stream"}, head)
            return self._send(404, b"", {"X-Error-Code": "EntryNotFound"}, head)
        self._send(404, b"", {"X-Error-Code": "RepoNotFound"}, head)

    def do_GET(self):
        self._route(False)

    def do_HEAD(self):
        self._route(True)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    src = tmp_path_factory.mktemp("src") / "stories260K-hf"
    lm_convert.convert(os.path.join(STORIES, "stories260K.bin"), src)
    files = {p.name: p.read_bytes() for p in src.iterdir() if p.is_file()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(files)
    server = FakeHub(files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def hub_env(tmp_path, hub):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update({"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1",
                "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    return env


def check_cache_layout(tmp_path, hub):
    repo_dir = tmp_path / "hf" / "hub" / "models--tiny-org--stories260K-hf"
    assert (repo_dir / "refs" / "main").read_text().strip() == COMMIT
    snap = repo_dir / "snapshots" / COMMIT
    for name, body in hub.files.items():
        assert (snap / name).read_bytes() == body, name
    blobs = {p.name for p in (repo_dir / "blobs").iterdir()}
    assert {hashlib.sha256(b).hexdigest() for b in hub.files.values()} <= blobs  # blobs named by the ETag
    return snap


def expected_greedy():
    with open(os.path.join(STORIES, "greedy-empty-prompt.txt"), encoding="utf-8") as f:
        return f.read()


def test_tessera_download_into_hf_cache_then_load_offline(tmp_path, hub, monkeypatch):
    env = hub_env(tmp_path, hub)
    r = subprocess.run([tessera_cmd(), "download", REPO], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    snap = check_cache_layout(tmp_path, hub)
    assert r.stdout.strip().splitlines()[-1] == str(snap)
    assert ("GET", f"/{REPO}/resolve/{COMMIT}/model.safetensors") in hub.requests
    # A second call is answered from the cache without a request.
    n = len(hub.requests)
    r = subprocess.run([tessera_cmd(), "download", REPO], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and r.stdout.strip() == str(snap)
    assert len(hub.requests) == n
    # Offline by name: the C++ loader finds the snapshot (no server involved).
    monkeypatch.setenv("HF_HOME", env["HF_HOME"])
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    model, tok = load(REPO)
    text = generate(model, tok, [], max_tokens=256)
    assert text.rstrip("\n") == expected_greedy().rstrip("\n")
    assert len(hub.requests) == n
    # The CLI generates from the name too, with HF_HUB_OFFLINE set.
    r = subprocess.run([tessera_cmd(), "generate", "--model", REPO, "--max-tokens", "256"],
                       capture_output=True, text=True, timeout=300,
                       env={**env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == expected_greedy().strip()


def test_python_download_module_and_missing_files(tmp_path, hub):
    env = hub_env(tmp_path, hub)
    r = subprocess.run([sys.executable, "-m", "tessera.lm.download", REPO], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    snap = check_cache_layout(tmp_path, hub)
    assert r.stdout.strip() == str(snap)
    # The server does not know this repository: the error names it and the files the cache lacks.
    r = subprocess.run([sys.executable, "-m", "tessera.lm.download", "tiny-org/absent", "--timeout", "5"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 1
    assert "[download] could not get tiny-org/absent" in r.stderr
    assert "config.json" in r.stderr and "tokenizer.json (or tokenizer.model)" in r.stderr
    # A snapshot that lost a file is incomplete: loading by name offline names exactly that file.
    os.remove(snap / "tokenizer.json")
    os.remove(snap / "tokenizer.model") if (snap / "tokenizer.model").exists() else None
    r = subprocess.run([sys.executable, "-c", f"import tessera.lm as l; l.load({REPO!r})"], capture_output=True,
                       text=True, timeout=120, env={**env, "HF_HUB_OFFLINE": "1"})
    assert r.returncode != 0
    missing = r.stderr.split("Missing from the Hugging Face cache")[1]
    assert missing.rstrip().endswith(": tokenizer.json (or tokenizer.model).") and "config.json" not in missing
    # The C++ loader (no download) says the same.
    r = subprocess.run([sys.executable, "-c", f"import tessera.core as c; c.lm.load({REPO!r}, '', '')"], capture_output=True,
                       text=True, timeout=120, env={**env, "HF_HUB_OFFLINE": "1"})
    assert r.returncode != 0
    assert "missing: tokenizer.json (or tokenizer.model)." in r.stderr and str(snap) in r.stderr
