"""Differential runs of random programs: stock TensorFlow vs ovtf, crashes isolated.

    cd tests && ../.venv/bin/python -m fuzz.runner --count 10000 --seed 0 [--features ...] [--save DIR]
 Every program runs as a `tf.function` twice in one process:
traced and first called with ovtf disabled (stock), then with ovtf enabled (minimum cluster
size 1, dynamic fallback off). They must agree: same error class when stock raises, else
the same dtypes and shapes, integers and bools equal, floats within tolerance with NaN where
NaN and infinities equal. Where they do not, stock TF runs again with a few ulps of noise on
every inexact step's result (and random signs on zeros whose sign TF leaves free): when each
differing element moves under that noise too and ovtf's value is one the noisy runs reach,
the program is ill-conditioned (a floor, remainder, tie, large sine or 1/relu(-0) magnifying
a difference both are entitled to), counted apart from wrong. Programs run in a worker process that reports each program before
and after it runs; when the worker dies (a crash) or stops making progress (a hang), the
program it was running is charged with it and a new worker resumes after it. A failing
program is written to --save as JSON (a regression case for tests/fuzz/regressions/).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OK, WRONG, ERROR_MISMATCH, CRASH, HANG = "ok", "wrong", "error_mismatch", "crash", "hang"
# every differing element is one stock TF itself gives when its inexact steps move by a few
# ulps and its free zero signs flip (`programs.build(noise=...)`): a floor, a remainder, a
# tie, sin(1e6) or 1/relu(-0) magnifies a difference TF and OpenVINO are both entitled to.
# Counted apart; never folded into OK.
ILL_CONDITIONED = "ill_conditioned"
NOISY_RUNS = 32
RTOL = {"float32": 1e-4, "float16": 2e-3, "bfloat16": 2e-2}


def compare(stock, ovtf_result) -> str | None:
    """None when the two results agree, else what differs. A result is ("error", class
    name, message) or ("values", [arrays])."""
    import numpy as np

    if stock[0] == "error" or ovtf_result[0] == "error":
        if stock[0] == ovtf_result[0] == "error" and stock[1] == ovtf_result[1]:
            return None
        what = lambda r: f"raises {r[1]}: {r[2][:200]}" if r[0] == "error" else "returns values"
        return f"stock {what(stock)}; ovtf {what(ovtf_result)}"
    for k, (a, b) in enumerate(zip(stock[1], ovtf_result[1])):
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"output {k}: stock {a.dtype}{list(a.shape)}, ovtf {b.dtype}{list(b.shape)}"
        same = _agree(a, b)
        if not np.all(same):
            where = tuple(int(i) for i in np.argwhere(~same)[0])
            return (f"output {k} at {list(where)}: stock {a[where]!r}, ovtf {b[where]!r} "
                    f"({int(np.sum(~same))} of {a.size} differ)")
    return None


def _agree(a, b):
    """Element-wise: floats within tolerance (NaN where NaN, infinities equal), others equal."""
    import numpy as np

    if a.dtype.kind == "f":
        rtol = RTOL.get(a.dtype.name, 1e-4)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        return np.isclose(a64, b64, rtol=rtol, atol=rtol, equal_nan=True) | (a64 == b64)
    return a == b


def ill_conditioned(stock, ovtf_result, noisy) -> bool:
    """Whether every element where ovtf differs from stock is one that stock TF moves on
    too under ulp noise (`noisy`: results of `programs.build(noise=...)`), and ovtf's value
    there is one a noisy run gave, or lies between the noisy runs' values (finite ones)."""
    import numpy as np

    if stock[0] != "values" or ovtf_result[0] != "values" or not noisy:
        return False
    if any(run[0] != "values" for run in noisy):
        return False
    for k, (a, b) in enumerate(zip(stock[1], ovtf_result[1])):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        differ = ~_agree(a, b)
        if not differ.any():
            continue
        runs = [run[1][k] for run in noisy]
        if any(r.shape != a.shape for r in runs):
            return False
        moved = np.zeros(a.shape, bool)
        matched = np.zeros(a.shape, bool)
        for r in runs:
            moved |= ~_agree(a, r)
            matched |= _agree(b, r)
        if a.dtype.kind == "f":
            # between finite values only: 0 and inf from noisy runs explain nothing between
            with np.errstate(invalid="ignore"):
                stacked = np.stack([r.astype(np.float64) for r in runs])
                low, high = stacked.min(axis=0), stacked.max(axis=0)
                matched |= (b >= low) & (b <= high) & np.isfinite(low) & np.isfinite(high)
        if not (moved[differ].all() and matched[differ].all()):
            return False
    return True


def _evaluate(function, arrays):
    import tensorflow as tf

    try:
        return ("values", [t.numpy() for t in function(*[tf.constant(a) for a in arrays])])
    except Exception as error:  # every error class is compared, none is fatal
        return ("error", type(error).__name__, str(error).strip().splitlines()[0]
                if str(error).strip() else "")


def run_program(program) -> dict:
    """Both runs of one program in this process: {"verdict", "detail", "device_runs"}."""
    import tensorflow as tf

    import ovtf
    from fuzz import programs

    arrays = programs.input_arrays(program)
    body = programs.build(program)
    ovtf.disable()
    try:
        stock = _evaluate(tf.function(body), arrays)
    finally:
        ovtf.enable()
    before = ovtf.stats()["device_executions"]
    under = _evaluate(tf.function(body), arrays)
    device_runs = ovtf.stats()["device_executions"] - before
    problem = compare(stock, under)
    verdict = OK if problem is None else ERROR_MISMATCH if "raises" in problem else WRONG
    if verdict == WRONG:
        ovtf.disable()
        try:
            noisy = [_evaluate(tf.function(programs.build(program, noise=seed)), arrays)
                     for seed in range(1, NOISY_RUNS + 1)]
        finally:
            ovtf.enable()
        if ill_conditioned(stock, under, noisy):
            verdict = ILL_CONDITIONED
    return {"verdict": verdict, "detail": problem or "", "device_runs": device_runs}


def worker(programs_path: str, results_path: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    import ovtf

    logging.getLogger("ovtf").setLevel(logging.ERROR)
    ovtf.set_min_cluster_size(1)
    ovtf.disable_dynamic_fallback()
    with open(programs_path, encoding="utf-8") as handle:
        todo = json.load(handle)
    done = set()
    if os.path.exists(results_path):
        with open(results_path, encoding="utf-8") as handle:
            done = {json.loads(line)["index"] for line in handle}
    with open(results_path, "a", encoding="utf-8") as out:
        for index, program in enumerate(todo):
            if index in done:
                continue
            out.write(json.dumps({"index": index, "event": "start"}) + "\n")
            out.flush()
            result = run_program(program)
            out.write(json.dumps({"index": index, "event": "end", **result}) + "\n")
            out.flush()


def run_isolated(program_list: list, timeout: float = 120.0, env: dict | None = None) -> list:
    """One result per program ({"verdict", "detail", "device_runs"}), running them in worker
    processes; a program that kills its worker or hangs it is charged CRASH or HANG."""
    with tempfile.TemporaryDirectory(prefix="ovtf-fuzz-") as folder:
        programs_path = os.path.join(folder, "programs.json")
        results_path = os.path.join(folder, "results.jsonl")
        with open(programs_path, "w", encoding="utf-8") as handle:
            json.dump(program_list, handle)
        environment = dict(os.environ, **(env or {}))
        environment["PYTHONPATH"] = TESTS_DIR + os.pathsep + environment.get("PYTHONPATH", "")
        results = {}
        while len(results) < len(program_list):
            log_path = os.path.join(folder, "worker.log")
            with open(log_path, "ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "fuzz.runner", "--worker", programs_path,
                     results_path], env=environment, stdout=log, stderr=log, cwd=TESTS_DIR)
                size, changed, hung = -1, time.monotonic(), False
                while process.poll() is None:
                    time.sleep(0.2)
                    now = os.path.getsize(results_path) if os.path.exists(results_path) else 0
                    if now != size:
                        size, changed = now, time.monotonic()
                    elif time.monotonic() - changed > timeout:
                        process.kill()
                        process.wait()
                        hung = True
            running = None
            if os.path.exists(results_path):
                with open(results_path, encoding="utf-8") as handle:
                    for line in handle:
                        record = json.loads(line)
                        if record["event"] == "start":
                            running = record["index"]
                        else:
                            results[record["index"]] = record
                            running = None
            if running is None:
                if len(results) < len(program_list):
                    with open(log_path, encoding="utf-8", errors="replace") as handle:
                        tail = handle.read()[-3000:]
                    raise RuntimeError(f"fuzz worker exited {process.returncode} between "
                                       f"programs:\n{tail}")
                break
            record = {"index": running, "event": "end", "verdict": HANG if hung else CRASH,
                      "detail": "no progress" if hung else f"exit {process.returncode}",
                      "device_runs": 0}
            results[running] = record
            with open(results_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        return [results[i] for i in range(len(program_list))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="first program's seed")
    parser.add_argument("--features", default=None,
                        help="comma-separated subset of fuzz.programs.FEATURES "
                             "(default: all)")
    parser.add_argument("--batch", type=int, default=250, help="programs per worker process")
    parser.add_argument("--save", default=None, help="folder for failing programs (JSON)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0

    from collections import Counter

    from fuzz import programs

    features = programs.FEATURES
    if args.features is not None:
        features = frozenset(f.strip() for f in args.features.split(",") if f.strip())
        unknown = features - programs.FEATURES
        if unknown:
            parser.error(f"unknown features {sorted(unknown)}; "
                         f"accepted: {sorted(programs.FEATURES)}")
    tally, on_device, failures = Counter(), 0, []
    started = time.monotonic()
    for first in range(args.seed, args.seed + args.count, args.batch):
        seeds = range(first, min(first + args.batch, args.seed + args.count))
        batch = [programs.generate(seed, features) for seed in seeds]
        for program, result in zip(batch, run_isolated(batch)):
            tally[result["verdict"]] += 1
            on_device += result["device_runs"] > 0
            if result["verdict"] != OK:
                print(f"seed {program['seed']}: {result['verdict']}: {result['detail']}",
                      flush=True)
                if result["verdict"] != ILL_CONDITIONED:
                    failures.append((program, result))
                if args.save:   # ill-conditioned ones too, kept apart for a look
                    folder = os.path.join(args.save, "ill_conditioned") \
                        if result["verdict"] == ILL_CONDITIONED else args.save
                    os.makedirs(folder, exist_ok=True)
                    with open(os.path.join(folder, f"seed_{program['seed']}.json"), "w",
                              encoding="utf-8") as handle:
                        json.dump({"program": program, "result": result}, handle, indent=1)
    print(f"{args.count} programs in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(tally.items()))
          + f"; {on_device} ran on the device")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
