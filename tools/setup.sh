#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install sagan_seg with its dev tools.
#   VENV=path        where the environment lives (default .venv)
#   TORCH_SPEC=...   what pip installs when torch is missing (default torch==2.13.0). A GPU user installs
#                    the CUDA build first, e.g. `.venv/bin/pip install torch --index-url <pytorch CUDA index>`,
#                    or sets TORCH_SPEC (with PIP_INDEX_URL/PIP_EXTRA_INDEX_URL as their mirror needs).
# torch already importable in the environment is kept as it is (CPU or CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2>&1 | grep -v "^WARNING: Location" || true; }
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "setup: installing ${TORCH_SPEC:-torch==2.13.0} (the CPU build on this machine)"
  pip install "${TORCH_SPEC:-torch==2.13.0}"
fi
# Reinstall only when the metadata changed (settings.ini / setup.py), so repeated runs are fast.
stamp="$VENV/.sagan_seg-installed"
want=$(cat settings.ini setup.py | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$VENV/bin/python" -c "import sagan_seg" 2>/dev/null; then
  echo "setup: installing sagan_seg and its dev requirements into $VENV"
  pip install -e ".[dev]"
  "$VENV/bin/python" -c "import torch, sagan_seg" || { echo "setup: install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
"$VENV/bin/python" -c "import torch; print(f'setup: ok (torch {torch.__version__}, cuda available: {torch.cuda.is_available()})')"
