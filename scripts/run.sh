#!/usr/bin/env bash
# One command from a fresh clone to the app: install, index the default documents, serve on localhost.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/rag index data/docs
exec .venv/bin/streamlit run app/streamlit_app.py --server.address 127.0.0.1 "$@"
