#!/usr/bin/env bash
# The quick start: a Keras model built in code, run with stock TensorFlow and with ovtf.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec "$VENV/bin/python" examples/quickstart.py "$@"
