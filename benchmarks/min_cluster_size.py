"""What a small cluster costs, and what cost placement does about it.

Chooses the default of `set_min_cluster_size` and of cost placement (benchmarks/README.md,
"Small clusters and cost placement").

Islands: a graph of 8 islands, each a chain of k elementwise ops, separated by an op kept
in TensorFlow (Sin, disabled for the run), so every island becomes one cluster of k compute
ops (`--heavy` makes the first op of each island a size x size MatMul). For each k it
prints the median time per call of stock TF, of ovtf with cost placement off and on
(min_cluster_size=1, so every island is a cluster), and the cost placement decisions.

Big model (`--model mobilenetv2`): stock TF vs ovtf with cost placement off and on, timed
after the warm-up in which cost placement measures (the one cluster must stay on the
device), plus what the measuring calls cost once.

    .venv/bin/python benchmarks/min_cluster_size.py [--size 64] [--calls 300] [--ks 1,2,4,8]
    .venv/bin/python benchmarks/min_cluster_size.py --model mobilenetv2 --calls 60
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import ovtf  # noqa: E402
from ovtf.runtime import cost_placement as cost_module  # noqa: E402

ISLANDS = 8
# calls a signature needs before cost placement has decided it
PROBE_CALLS = 2 * (cost_module.COST_WARMUP + cost_module.COST_SAMPLES)


def islands_of(k, heavy=None):
    def body(x):
        for island in range(ISLANDS):
            for step in range(k):
                if heavy is not None and step == 0:
                    x = tf.matmul(x, heavy)
                else:
                    x = x * (1.0 + 0.01 * step) if step % 2 == 0 else x + 0.1 * (island + 1)
            x = tf.sin(x)
        return x
    return body


def per_call_ms(function, x, calls):
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        function(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def instantiate(body, x, cost_placement):
    """A fresh tf.function with ovtf on, called until cost placement (if on) has decided."""
    if cost_placement:
        ovtf.enable_cost_placement()
    else:
        ovtf.disable_cost_placement()
    ovtf.enable()
    ovtf.reset_stats()
    function = tf.function(body)
    started = time.perf_counter()
    result = function(x).numpy()
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(PROBE_CALLS):
        function(x)
    warm_s = time.perf_counter() - started
    return function, result, ovtf.stats(), first_s, warm_s


def stock_function(body, x):
    ovtf.disable()
    function = tf.function(body)
    expected = function(x).numpy()
    ovtf.enable()
    return function, expected


def time_modes(modes, x, calls, rounds=3):
    """Median per-call ms of each mode, over `rounds` interleaved rounds. The setting is
    process-wide and read at each call: mode "on" runs with cost placement on, others off."""
    samples = {name: [] for name in modes}
    for _ in range(rounds):
        for name, function in modes.items():
            if name == "on":
                ovtf.enable_cost_placement()
            else:
                ovtf.disable_cost_placement()
            samples[name].append(per_call_ms(function, x, max(1, calls // rounds)))
    ovtf.disable_cost_placement()
    return {name: statistics.median(values) for name, values in samples.items()}


def islands(args):
    x = np.random.default_rng(0).random((args.size, args.size), np.float32)
    heavy = None
    if args.heavy:
        heavy = tf.constant(np.random.default_rng(1).standard_normal(
            (args.size, args.size)).astype(np.float32) / args.size)
    ovtf.set_disabled_ops(["Sin"])
    ovtf.set_min_cluster_size(1)
    print(f"islands: {ISLANDS} x k ops on {args.size}x{args.size}"
          f"{' (first op a MatMul)' if heavy is not None else ''}; ms per call (median)")
    print(f"{'k':>3s} {'clusters':>8s} {'TF':>8s} {'cost off':>9s} {'cost on':>8s} "
          f"{'off/TF':>7s} {'on/TF':>6s} {'max diff':>8s}  decisions (on: device / TF)")
    for k in [int(v) for v in args.ks.split(",")]:
        body = islands_of(k, heavy)
        stock, expected = stock_function(body, x)
        off, result_off, stats_off, _, _ = instantiate(body, x, False)
        on, result_on, stats_on, _, _ = instantiate(body, x, True)
        # reported, not asserted: long chains of x*a+b through sin amplify rounding
        # differences (OpenVINO folds x*a*b into x*(a*b)), so k >= 32 differs by design
        diff = max(float(np.abs(result - expected).max()) for result in (result_off, result_on))
        medians = time_modes({"tf": stock, "off": off, "on": on}, x, args.calls)
        print(f"{k:3d} {stats_off['clusters']:8d} {medians['tf']:8.3f} {medians['off']:9.3f} "
              f"{medians['on']:8.3f} {medians['off'] / medians['tf']:7.2f} "
              f"{medians['on'] / medians['tf']:6.2f} {diff:8.1e}  "
              f"{stats_on['cost_kept_on_device']} / {stats_on['cost_placed_in_tf']}", flush=True)
    ovtf.disable_cost_placement()


def big_model(args):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from run_benchmarks import build_model

    model, make_input = build_model(args.model)
    x = tf.constant(make_input(1))

    def body(inputs):
        return model(inputs, training=False)

    stock, expected = stock_function(body, x)
    modes = {"tf": stock}
    for name, cost_placement in (("off", False), ("on", True)):
        function, result, stats, first_s, warm_s = instantiate(body, x, cost_placement)
        rel = float(np.abs(result - expected).max() / np.abs(expected).max())
        print(f"{args.model} cost placement {name}: first call {first_s:.2f}s, next "
              f"{PROBE_CALLS} calls {warm_s:.2f}s; clusters {stats['clusters']}, device "
              f"executions {stats['device_executions']}, fallbacks {stats['fallbacks']} "
              f"{stats['fallback_reasons']}, kept on device {stats['cost_kept_on_device']}, "
              f"placed in TF {stats['cost_placed_in_tf']}, max rel diff {rel:.1e}", flush=True)
        modes[name] = function
    medians = time_modes(modes, x, args.calls)
    print(f"{args.model} batch 1, ms per call (median, after warm-up): TF {medians['tf']:.2f}, "
          f"ovtf cost off {medians['off']:.2f}, ovtf cost on {medians['on']:.2f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=64, help="tensors are size x size")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per mode")
    parser.add_argument("--ks", "--sizes", dest="ks", default="1,2,4,8",
                        help="ops per island (comma-separated)")
    parser.add_argument("--heavy", action="store_true", help="first op of an island: MatMul")
    parser.add_argument("--model", help="a run_benchmarks.py model instead of the islands")
    args = parser.parse_args()
    if args.model:
        big_model(args)
    else:
        islands(args)


if __name__ == "__main__":
    main()
