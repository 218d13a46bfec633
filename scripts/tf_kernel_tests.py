#!/usr/bin/env python3
"""Run TensorFlow's own kernel tests under ovtf: TF's semantics as the specification.

TensorFlow's kernel tests (`tensorflow/python/kernel_tests/...`) are not in its wheel, and
ovtf does not ship them: point this script at a folder holding their sources (one
`<module>.py` per test module, any stored version close to the installed TF) and at OVTF's
test manifest (`test/python/tensorflow/tests_common.txt` of openvinotoolkit/
openvino_tensorflow), whose [RUN] and [SKIP] patterns choose the tests:

    .venv/bin/python scripts/tf_kernel_tests.py --tests-dir DIR --manifest DIR/tests_common.txt
        [--modules argmax_op_test,cwise_ops_test] [--timeout 120] [--output docs/conformance.md]
        [--workdir DIR] [--report]

Each module runs twice, in fresh processes: stock TensorFlow (`OVTF_DISABLE=1`), then under
ovtf as a user would meet its harshest settings -- graph mode
(`tf.compat.v1.disable_eager_execution()`, so evaluations go through Sessions), minimum
cluster size 1, dynamic fallback off. A test counts against ovtf when it passes on stock
and does not under ovtf. Per test the ovtf run records how many cluster calls ran on the
device (`ovtf.stats()["device_executions"]`), so "passes" and "ran on the device" are told
apart. A crash (the process dies) or a hang (no progress for --timeout seconds) is charged to
the test that was running, and the module resumes after it in a new process. Results stay
in --workdir; `--report` tabulates them without running anything, so modules run in several
sittings add up to one table.

Manifest patterns (OVTF's grammar): `module`, `module.Class`, `module.Class.test`; each part
may use `*` and `[xy]`; later [SKIP] patterns remove tests [RUN] chose.

Not part of CI: it needs sources the project does not ship, and takes about an hour for the
manifest's 45 modules on 2 cores.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PASS, FAIL, ERROR, SKIP, CRASH, HANG = "pass", "fail", "error", "skip", "crash", "hang"


# --- the manifest ---------------------------------------------------------------------------

def read_manifest(path: str) -> tuple:
    """([RUN] patterns, [SKIP] patterns); [IMPORT]ed manifests are read relative to `path`."""
    run, skip, section = [], [], None
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].upper()
                continue
            if section == "IMPORT":
                more_run, more_skip = read_manifest(os.path.join(os.path.dirname(path), line))
                run += more_run
                skip += more_skip
            elif section == "RUN":
                run.append(line)
            elif section == "SKIP":
                skip.append(line)
    return run, skip


# What TF's parameterized tests append to a test's name since OVTF's manifest was written:
# an index (`testAvgPooling0`, absl's parameterized) or a mode (`test_maxpooling_1d_test_mode_
# graph`, TF's combinations).
PARAMETERIZED_SUFFIX = re.compile(r"(\d+|_test_mode_(eager|graph))")


def matches(pattern: str, test_id: str) -> bool:
    """`pattern` names a module, class or test: compare part by part, each an fnmatch; a test
    named in full also matches its parameterized variants."""
    wanted, parts = pattern.split("."), test_id.split(".")
    if len(wanted) > len(parts):
        return False
    if len(wanted) == 3 and not any(c in wanted[2] for c in "*?[") and \
            parts[2].startswith(wanted[2]) and \
            PARAMETERIZED_SUFFIX.fullmatch(parts[2][len(wanted[2]):]):
        return matches(".".join(wanted[:2]), test_id)
    return all(fnmatch.fnmatchcase(part, want) for part, want in zip(parts, wanted))


def chosen(test_id: str, run: list, skip: list) -> bool:
    return any(matches(p, test_id) for p in run) and not any(matches(p, test_id) for p in skip)


def manifest_modules(run: list) -> list:
    return sorted({pattern.split(".")[0] for pattern in run})


# --- the worker: one module, one mode, in its own process -----------------------------------

# Test classes TF renamed after OVTF 2.3's manifest was written: the manifest's name for them.
MANIFEST_CLASS_NAMES = {
    "xent_op_test.XentOpTest": "XentTest",
    "sparse_xent_op_test.SparseXentOpTest": "SparseXentTest",
}

def worker(args) -> None:
    """Runs the chosen tests of one module, appending one JSON line per event to
    `args.results`; tests already finished there are skipped (a resumed run)."""
    import logging
    import unittest

    done = set()
    if os.path.exists(args.results):
        with open(args.results, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                done.add(record["id"])   # started counts: the parent charged it
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    stats = None
    if args.mode == "ovtf":
        import ovtf

        logging.getLogger("ovtf").setLevel(logging.ERROR)
        stats = ovtf.stats
    sys.path.insert(0, args.tests_dir)
    run, skip = read_manifest(args.manifest)
    module = __import__(args.worker)
    # Test classes by the name the module gives them: `BiasAddTest = bias_op_base.
    # BiasAddTestBase` is "BiasAddTest" in the manifest.
    tests = []
    loader = unittest.TestLoader()
    for class_name in dir(module):
        case = getattr(module, class_name)
        if isinstance(case, type) and issubclass(case, unittest.TestCase):
            tests.extend((class_name, test) for test in loader.loadTestsFromTestCase(case))
    with open(args.results, "a", encoding="utf-8") as out:
        for class_name, test in tests:
            class_name = MANIFEST_CLASS_NAMES.get(f"{args.worker}.{class_name}", class_name)
            test_id = f"{args.worker}.{class_name}.{test._testMethodName}"
            if test_id in done or not chosen(test_id, run, skip):
                continue
            done.add(test_id)
            out.write(json.dumps({"id": test_id, "event": "start"}) + "\n")
            out.flush()
            before = stats()["device_executions"] if stats else 0
            result = unittest.TestResult()
            test.run(result)
            device = (stats()["device_executions"] - before) if stats else 0
            if result.errors or result.failures:
                kind = ERROR if result.errors else FAIL
                detail = _error_line((result.errors or result.failures)[0][1])
            elif result.skipped:
                kind, detail = SKIP, result.skipped[0][1][:200]
            else:
                kind, detail = PASS, ""
            out.write(json.dumps({"id": test_id, "event": "end", "outcome": kind,
                                  "device_runs": device, "detail": detail}) + "\n")
            out.flush()


def _error_line(traceback_text: str) -> str:
    """The exception's own line of a traceback (TF's messages end with node names)."""
    lines = traceback_text.strip().splitlines()
    for i in range(len(lines) - 1, -1, -1):
        head = lines[i].split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Exit")) and " " not in head.strip():
            return " / ".join(line.strip() for line in lines[i:] if line.strip())[:400]
    return lines[-1].strip()[:300] if lines else ""


# --- the driver ---------------------------------------------------------------------------

def run_module(module: str, mode: str, args, workdir: str) -> dict:
    """test id -> {"outcome", "device_runs", "detail"}; restarts the worker after a crash
    or a hang, charging the test that was running."""
    results_path = os.path.join(workdir, f"{module}.{mode}.jsonl")
    if os.path.exists(results_path):
        os.remove(results_path)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    if mode == "stock":
        env["OVTF_DISABLE"] = "1"
    else:
        env.update(OVTF_MIN_CLUSTER_SIZE="1", OVTF_DYNAMIC_FALLBACK="0")
        env.pop("OVTF_DISABLE", None)
    outcomes = {}
    while True:
        command = [sys.executable, os.path.abspath(__file__), "--worker", module, "--mode", mode,
                   "--results", results_path, "--tests-dir", args.tests_dir,
                   "--manifest", args.manifest]
        log = open(os.path.join(workdir, f"{module}.{mode}.log"), "ab")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=workdir)
        last_size, last_change, hung = -1, time.monotonic(), False
        while process.poll() is None:
            time.sleep(0.5)
            size = os.path.getsize(results_path) if os.path.exists(results_path) else 0
            if size != last_size:
                last_size, last_change = size, time.monotonic()
            elif time.monotonic() - last_change > args.timeout:
                process.kill()
                process.wait()
                hung = True
        log.close()
        finished, running = read_results(results_path)
        outcomes.update(finished)
        if running is None:
            if process.returncode not in (0, None) and not outcomes:
                outcomes[f"{module}.<import>"] = {"outcome": ERROR, "device_runs": 0,
                                                  "detail": f"worker exited {process.returncode}"
                                                            f" (see {module}.{mode}.log)"}
            return outcomes
        kind = HANG if hung else CRASH
        outcomes[running] = {"outcome": kind, "device_runs": 0,
                             "detail": "no progress" if hung else f"exit {process.returncode}"}
        with open(results_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"id": running, "event": "end", **outcomes[running]}) + "\n")


def read_results(results_path: str) -> tuple:
    """(test id -> outcome record, the test started and never finished or None)."""
    outcomes, running = {}, None
    if os.path.exists(results_path):
        with open(results_path, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if record["event"] == "start":
                    running = record["id"]
                else:
                    outcomes[record["id"]] = record
                    running = None
    return outcomes, running


def summarize(module: str, stock: dict, under: dict) -> dict:
    passing = [t for t, r in stock.items() if r["outcome"] == PASS]
    row = Counter(module=0)
    row["stock_pass"] = len(passing)
    for test in passing:
        result = under.get(test, {"outcome": ERROR})
        row[f"ovtf_{result['outcome']}"] += 1
        if result["outcome"] == PASS and result.get("device_runs", 0) > 0:
            row["on_device"] += 1
    row.pop("module")
    return dict(row)


def write_markdown(path: str, rows: dict, failures: dict, args) -> None:
    import ovtf  # noqa: F401  (version numbers only)
    import openvino
    import tensorflow as tf

    lines = [
        "# TensorFlow's kernel tests under ovtf",
        "",
        f"Written by `scripts/tf_kernel_tests.py` (TF {tf.__version__}, OpenVINO "
        f"{openvino.__version__}): graph mode, minimum cluster size 1, dynamic fallback off. "
        "\"stock pass\": tests that pass without ovtf; the other columns count only those. "
        "\"on device\": passing under ovtf with at least one cluster call run on the device.",
        "",
        "| module | stock pass | ovtf pass | on device | fail | error | crash | hang |",
        "|---|---|---|---|---|---|---|---|",
    ]
    total = Counter()
    for module in sorted(rows):
        row = rows[module]
        total.update(row)
        lines.append(f"| {module} | {row.get('stock_pass', 0)} | {row.get('ovtf_pass', 0)} | "
                     f"{row.get('on_device', 0)} | {row.get('ovtf_fail', 0)} | "
                     f"{row.get('ovtf_error', 0)} | {row.get('ovtf_crash', 0)} | "
                     f"{row.get('ovtf_hang', 0)} |")
    lines.append(f"| **all {len(rows)}** | {total['stock_pass']} | {total['ovtf_pass']} | "
                 f"{total['on_device']} | {total['ovtf_fail']} | {total['ovtf_error']} | "
                 f"{total['ovtf_crash']} | {total['ovtf_hang']} |")
    if failures:
        lines += ["", "## Tests that pass on stock and not under ovtf", ""]
        for test in sorted(failures):
            result = failures[test]
            detail = result.get("detail", "").replace("|", "\\|")
            lines.append(f"- `{test}`: {result['outcome']}: {detail}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests-dir", required=True, help="folder with <module>.py test sources")
    parser.add_argument("--manifest", required=True, help="OVTF's tests_common.txt")
    parser.add_argument("--modules", default="", help="comma-separated subset of the manifest's")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds without progress that count as a hang")
    parser.add_argument("--workdir", default=None, help="logs and per-test results")
    parser.add_argument("--output", default=None, help="markdown table to write")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: tabulate the results stored in --workdir")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("stock", "ovtf"), help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.tests_dir = os.path.abspath(args.tests_dir)
    args.manifest = os.path.abspath(args.manifest)
    if args.worker:
        worker(args)
        return 0

    run, _ = read_manifest(args.manifest)
    available = [m for m in manifest_modules(run)
                 if os.path.exists(os.path.join(args.tests_dir, m + ".py"))]
    if args.modules:
        wanted = [m.strip() for m in args.modules.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in available]
        if unknown:
            parser.error(f"not in the manifest or not in --tests-dir: {', '.join(unknown)}; "
                         f"available: {', '.join(available)}")
        available = wanted
    workdir = os.path.abspath(args.workdir or os.path.join(ROOT, "build", "tf_kernel_tests"))
    os.makedirs(workdir, exist_ok=True)

    from rich.console import Console
    from rich.table import Table

    rows, failures = {}, {}
    console = Console()
    for module in available:
        started = time.monotonic()
        if args.report:
            paths = [os.path.join(workdir, f"{module}.{mode}.jsonl") for mode in ("stock", "ovtf")]
            if not all(os.path.exists(path) for path in paths):
                continue
            stock, under = (read_results(path)[0] for path in paths)
        else:
            stock = run_module(module, "stock", args, workdir)
            under = run_module(module, "ovtf", args, workdir)
        rows[module] = summarize(module, stock, under)
        for test, result in stock.items():
            if result["outcome"] == PASS and under.get(test, {}).get("outcome") != PASS:
                failures[test] = under.get(test, {"outcome": "missing", "detail": ""})
        row = rows[module]
        console.print(f"{module}: stock {row.get('stock_pass', 0)}, ovtf {row.get('ovtf_pass', 0)}"
                      f" ({row.get('on_device', 0)} on device), {time.monotonic() - started:.0f} s")
    table = Table(title="TensorFlow kernel tests under ovtf (of those passing on stock)")
    for column in ("module", "stock pass", "ovtf pass", "on device", "fail", "error", "crash",
                   "hang"):
        table.add_column(column, justify="left" if column == "module" else "right",
                         no_wrap=column == "module")
    for module, row in sorted(rows.items()):
        table.add_row(module, *(str(row.get(key, 0)) for key in (
            "stock_pass", "ovtf_pass", "on_device", "ovtf_fail", "ovtf_error", "ovtf_crash",
            "ovtf_hang")))
    console.print(table)
    for test, result in sorted(failures.items()):
        console.print(f"[red]{test}[/red]: {result['outcome']}: {result.get('detail', '')}")
    if args.output:
        write_markdown(args.output, rows, failures, args)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
