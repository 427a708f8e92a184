#!/usr/bin/env bash
# One command from a fresh clone to a passing test run: install, lint, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system-packages.sh || echo "test: system packages unavailable; the tests that need them will skip"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -q "$@"
