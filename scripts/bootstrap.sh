#!/usr/bin/env bash
# Sets up what ovtf's demo and tests need, idempotently: a virtual environment in .venv with
# the pinned dependencies, ovtf installed in editable mode, and the native bridge built.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again (it skips what's done).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"

if [ ! -x "$VENV/bin/python" ]; then
  echo "ovtf: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.ovtf-requirements"
wanted="$(sha256sum requirements-dev.txt setup.py | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "ovtf: installing dependencies into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r requirements-dev.txt
  # No build isolation: the extension compiles against the TensorFlow installed above.
  "$VENV/bin/python" -m pip install --quiet --no-build-isolation --no-deps -e .
  echo "$wanted" > "$stamp"
fi

# Rebuild the native bridge when its sources changed (setuptools skips it otherwise).
TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" setup.py --quiet build_ext --inplace >/dev/null

# Headless Chromium for the placement-picture browser tests (tests/test_placement_html.py skips
# them, saying so, where none can be installed). Debian's package, once; never fatal.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
  echo "ovtf: installing chromium (browser tests)" >&2
  { apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; } \
    || echo "ovtf: could not install chromium; the browser tests will be skipped" >&2
fi
