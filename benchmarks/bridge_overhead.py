"""Per-call cost of the native bridge: the same small graph with and without an OVTFCluster.

The cluster is the test suite's chain rewriter + numpy "device" (tests/bridge_testing.py),
so the difference is the bridge itself: the async kernel, the GIL, zero-copy input views,
TF-allocated outputs and the Python handle. Also measures the fallback path (the kernel
hands the work to its worker pool, which runs the subgraph with TensorFlow).

    .venv/bin/python benchmarks/bridge_overhead.py [--calls 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import ovtf  # noqa: E402
from bridge_testing import use_test_bridge  # noqa: E402


def chain(x):
    return tf.tanh(x * 0.5 + 1.0) * 2.0 - 0.5


def per_call_us(function, x, calls):
    function(x)  # instantiate
    start = time.perf_counter()
    for _ in range(calls):
        function(x)
    return (time.perf_counter() - start) / calls * 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    x = np.ones((4, 4), np.float32)

    results = {"stock TF": [], "OVTFCluster (device path)": [], "OVTFCluster (TF fallback)": []}
    with use_test_bridge() as device:
        # Instantiated while ovtf is off (and after the test bridge cleared TF's caches), so
        # TF keeps this one as it is.
        ovtf.disable()
        stock = tf.function(chain)
        stock(x)
        ovtf.enable()
        clustered = tf.function(chain)
        clustered(x)
        assert device.device_calls == 1, "the cluster did not run"
        # A separate instantiation (its own kernel) for the fallback path, so the device
        # path's cluster never learns to give up on the device.
        falling_back = tf.function(chain)
        for _ in range(args.rounds):
            results["stock TF"].append(per_call_us(stock, x, args.calls))
            device.fail = False
            results["OVTFCluster (device path)"].append(per_call_us(clustered, x, args.calls))
            device.fail = True
            results["OVTFCluster (TF fallback)"].append(per_call_us(falling_back, x, args.calls // 3))
    stats = ovtf.stats()
    base = statistics.median(results["stock TF"])
    print(f"{'path':28s} {'median us/call':>15s} {'overhead us':>12s}")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:28s} {median:15.1f} {median - base:12.1f}")
    print(f"(device runs {stats['device_executions']}, fallbacks {stats['fallbacks']}; "
          f"{args.rounds} interleaved rounds of {args.calls} calls)")


if __name__ == "__main__":
    main()
