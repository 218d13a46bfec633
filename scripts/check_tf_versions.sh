#!/usr/bin/env bash
# Which TensorFlow (and OpenVINO) releases one ovtf wheel really works with.
#
#   scripts/check_tf_versions.sh [--openvino SPEC] [--worktree] [--keep] [--tests "FILES"] [--dir DIR] TF_MINOR...
#   scripts/check_tf_versions.sh 2.16 2.17 2.18 2.19 2.20 2.21
#   scripts/check_tf_versions.sh --openvino '==2026.2.*' 2.16
#
# Builds the wheel once, the way a user would (`pip wheel . --no-deps`, default build
# isolation), checks it carries no build-machine path (RUNPATH/RPATH), then for each
# TensorFlow minor version creates a venv, installs `tensorflow-cpu==X.*`, the wheel and the
# test tools, checks `pip check` is clean and runs the bridge and op tests against the
# installed wheel (not the source tree). Prints one markdown table row per version; the
# recorded results are in docs/tf_versions.md. One version at a time; each venv is deleted
# afterwards unless --keep.
#
# Source: a `git archive` of HEAD (what is committed), or the working tree with --worktree.
# Work folder: --dir DIR (default /tmp/ovtf-version-check). (Not an OVTF_* variable: ovtf
# rejects OVTF_* variables it does not know, and the tests inherit the environment.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK=/tmp/ovtf-version-check
OPENVINO=""
WORKTREE=0
KEEP=0
TESTS="tests/test_bridge.py tests/test_ops.py"
versions=()
while [ $# -gt 0 ]; do
  case "$1" in
    --openvino) OPENVINO="$2"; shift 2 ;;
    --worktree) WORKTREE=1; shift ;;
    --keep) KEEP=1; shift ;;
    --tests) TESTS="$2"; shift 2 ;;
    --dir) WORK="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (accepted: --openvino SPEC, --worktree, --keep, --tests FILES, --dir DIR)" >&2; exit 2 ;;
    *)
      if ! [[ "$1" =~ ^[0-9]+\.[0-9]+$ ]]; then
        echo "TensorFlow version '$1' is not a minor version like 2.16" >&2; exit 2
      fi
      versions+=("$1"); shift ;;
  esac
done
[ ${#versions[@]} -gt 0 ] || { echo "give at least one TensorFlow minor version, e.g. 2.16" >&2; exit 2; }

mkdir -p "$WORK"
SRC="$WORK/src"
rm -rf "$SRC" "$WORK/wheel"
mkdir -p "$SRC" "$WORK/wheel"
if [ "$WORKTREE" = 1 ]; then
  (cd "$ROOT" && tar --exclude=.venv --exclude=.git --exclude=build --exclude='*.so' \
      --exclude=__pycache__ --exclude='*.egg-info' -cf - .) | tar -xf - -C "$SRC"
  echo "source: working tree of $ROOT" >&2
else
  git -C "$ROOT" archive HEAD | tar -xf - -C "$SRC"
  echo "source: $(git -C "$ROOT" log -1 --format='%h %s' HEAD)" >&2
fi

echo "building the wheel (default build isolation)..." >&2
"$PYTHON" -m pip wheel "$SRC" --no-deps -q -w "$WORK/wheel" > "$WORK/wheel.log" 2>&1 \
  || { tail -30 "$WORK/wheel.log" >&2; echo "wheel build failed" >&2; exit 1; }
WHEEL="$(ls "$WORK"/wheel/ovtf-*.whl)"
echo "wheel: $(basename "$WHEEL")" >&2
rm -rf "$WORK/unpacked" && mkdir -p "$WORK/unpacked"
"$PYTHON" -m zipfile -e "$WHEEL" "$WORK/unpacked"
paths="$(readelf -d "$WORK"/unpacked/ovtf/_native*.so | grep -E 'RUNPATH|RPATH' || true)"
if [ -n "$paths" ]; then
  echo "the wheel's extension carries a build-machine path: $paths" >&2; exit 1
fi
echo "wheel extension: no RUNPATH/RPATH" >&2

echo "| TensorFlow | installed | OpenVINO | pip check | passed | failed | skipped |"
echo "|---|---|---|---|---|---|---|"
status=0
for version in "${versions[@]}"; do
  venv="$WORK/venv-tf$version"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  log="$WORK/tf$version.log"
  : > "$log"
  ov_requirement=()
  [ -n "$OPENVINO" ] && ov_requirement=("openvino$OPENVINO")
  if ! "$venv/bin/python" -m pip install -q "tensorflow-cpu==$version.*" "$WHEEL" "${ov_requirement[@]}" \
      "pytest>=8" pytest-timeout hypothesis >> "$log" 2>&1; then
    echo "| $version | install failed | | | | | |"; tail -5 "$log" >&2; status=1
    [ "$KEEP" = 1 ] || rm -rf "$venv"
    continue
  fi
  installed="$("$venv/bin/python" -m pip show tensorflow-cpu 2>/dev/null | sed -n 's/^Version: //p')"
  openvino="$("$venv/bin/python" -m pip show openvino 2>/dev/null | sed -n 's/^Version: //p')"
  if "$venv/bin/python" -m pip check >> "$log" 2>&1; then check=clean; else check="**not clean**"; status=1; fi
  # Run from outside the source tree so the installed wheel is what gets imported.
  set +e
  (cd "$WORK" && "$venv/bin/pytest" -q -p no:cacheprovider --junitxml="$WORK/tf$version.xml" \
      $(for test in $TESTS; do echo "$SRC/$test"; done) >> "$log" 2>&1)
  rc=$?
  set -e
  counts="$("$PYTHON" - "$WORK/tf$version.xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("| | |"); raise SystemExit
suites = [root] if root.tag == "testsuite" else list(root)
get = lambda key: sum(int(s.get(key, 0)) for s in suites)
failed = get("failures") + get("errors")
print(f"{get('tests') - failed - get('skipped')} | {failed} | {get('skipped')}")
EOF
)"
  echo "| $version | $installed | $openvino | $check | $counts |"
  [ "$rc" = 0 ] || status=1
  [ "$KEEP" = 1 ] || rm -rf "$venv"
done
exit $status
