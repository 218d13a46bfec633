"""What one cluster call costs over TensorFlow running the same ops itself.

A chain of k cheap element-wise ops (x * 0.5, + 1, tanh, ...) on a small tensor, in one
tf.function: stock TensorFlow, and ovtf with the chain as one cluster (minimum cluster size
1, real OpenVINO CPU device). Interleaved rounds in one process; per call, the median over
rounds of each round's mean. "over TF" = ovtf - stock: the whole price of offloading k ops
(the kernel, the inference call, the copies) minus what TF's own k kernels cost. Also
printed: the inference's share as the kernel measures it (`ovtf.stats()["devices"]`, which
times the native call), and how many calls took the kernel's fast path (no Python).

The smallest k at which ovtf is no slower than stock TF is where a cluster starts to pay:
that is what the default minimum cluster size (`ovtf/config.py`) is derived from.

    .venv/bin/python benchmarks/cluster_call_cost.py                    # ~1 min here
    .venv/bin/python benchmarks/cluster_call_cost.py --ks 1,4,16 --size 64 --rounds 15
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

# No two unary ops in a row: TF's grappler would fuse them into _UnaryOpsComposition first.
_STEPS = (lambda x: x * 0.5, lambda x: x + 1.0, tf.tanh, lambda x: x * 2.0, lambda x: x - 0.5,
          tf.sigmoid, lambda x: x * 1.5, tf.abs, lambda x: x * x, lambda x: tf.maximum(x, 0.1))


def chain(k):
    def function(x):
        for index in range(k):
            x = _STEPS[index % len(_STEPS)](x)
        return x
    return function


def mean_call_us(function, x, calls):
    start = time.perf_counter()
    for _ in range(calls):
        function(x)
    return (time.perf_counter() - start) / calls * 1e6


def measure(k, size, rounds, calls):
    x = tf.constant(np.random.default_rng(0).standard_normal((size, size)).astype(np.float32))
    ovtf.disable()
    stock = tf.function(chain(k), autograph=False)
    expected = stock(x).numpy()
    ovtf.enable()
    ovtf.reset_stats()
    accelerated = tf.function(chain(k), autograph=False)
    got = accelerated(x).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    clusters = ovtf.stats()["clusters"]
    ovtf.reset_stats()
    times = {"stock": [], "ovtf": []}
    for _ in range(rounds):
        times["stock"].append(mean_call_us(stock, x, calls))
        times["ovtf"].append(mean_call_us(accelerated, x, calls))
    stats = ovtf.stats()
    if clusters != 1:
        raise RuntimeError(f"chain of {k} ops became {clusters} clusters, not 1")
    device = stats["devices"].get(ovtf.get_backend(), {"calls": 0, "seconds": 0.0})
    return {
        "k": k,
        "stock": statistics.median(times["stock"]),
        "ovtf": statistics.median(times["ovtf"]),
        "device_us": device["seconds"] / device["calls"] * 1e6 if device["calls"] else float("nan"),
        "fast": stats["fast_path_executions"] / max(stats["device_executions"], 1),
        "device_calls": stats["device_executions"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", default="1,2,4,8,16,32", help="chain lengths (ops per cluster)")
    parser.add_argument("--size", type=int, default=4, help="the tensor is size x size floats")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--calls", type=int, default=500, help="calls per round and mode")
    args = parser.parse_args(argv)
    ovtf.set_min_cluster_size(1)
    print(f"TensorFlow {tf.__version__}, ovtf {ovtf.__version__}, {os.cpu_count()} CPUs, "
          f"tensor {args.size}x{args.size} f32, {args.rounds} rounds x {args.calls} calls",
          file=sys.stderr)
    rows = [measure(int(k), args.size, args.rounds, args.calls) for k in args.ks.split(",")]
    print("| ops k | stock TF us/call | ovtf us/call | over TF | inference (kernel) us | fast path |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['k']} | {row['stock']:.1f} | {row['ovtf']:.1f} | "
              f"{row['ovtf'] - row['stock']:+.1f} | {row['device_us']:.1f} | {row['fast']:.0%} |")
    paying = [row["k"] for row in rows if row["ovtf"] <= row["stock"]]
    print(f"smallest k where ovtf <= stock TF: {paying[0] if paying else 'none measured'}")
    return rows


if __name__ == "__main__":
    main()
