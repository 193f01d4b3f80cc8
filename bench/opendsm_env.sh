#!/bin/sh
# Separate virtual environment for opendsm 1.2.7 (it pins pandas < 3, so it must never touch the project's venv).
# Usage: sh bench/opendsm_env.sh [venv path]   (default /tmp/opendsm-venv; prints the python path)
set -eu
VENV="${1:-/tmp/opendsm-venv}"
PYTHON="${OPENDSM_BASE_PYTHON:-$(cd "$(dirname "$0")/.." && uv run python -c 'import sys; print(sys.executable)')}"
if [ ! -x "$VENV/bin/python" ]; then
    uv venv -q "$VENV" --python "$PYTHON"
fi
# multimethod 2.x breaks scikit-fda (imported by opendsm): "metaclass conflict" at import time.
VIRTUAL_ENV="$VENV" uv pip install -q "opendsm==1.2.7" "multimethod<2"
echo "$VENV/bin/python"
