#!/usr/bin/env bash
# The test suite (without the heavy model tests; `scripts/test.sh -m slow` runs those,
# `scripts/test.sh -m ""` runs everything). Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
if [ $# -eq 0 ]; then set -- -m "not slow"; fi
exec "$VENV/bin/python" -m pytest -q "$@"
