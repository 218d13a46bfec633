#!/usr/bin/env bash
# The test suite, heavy model tests included (~15-27 min on 2 cores, about 1,400 tests). Extra arguments go to
# pytest: `scripts/test.sh -m "not slow"` skips the model tests, `-m slow` runs only them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec "$VENV/bin/python" -m pytest -q "$@"
