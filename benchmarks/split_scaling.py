"""Benchmark: what splitting one batch over several devices costs (`SPLIT:`), on emulated devices.

    python benchmarks/split_scaling.py                       # MobileNetV2 224x224, batch 32
    python benchmarks/split_scaling.py --size 128 --rounds 5 --calls 4

Run by hand, not a test. MobileNetV2 (`keras.applications.MobileNetV2(weights=None)`, logits)
in a tf.function whose input signature has a free batch dimension ([None, S, S, 3]): a graph
traced at a fixed batch (Keras `predict`) has batch-sized Reshape targets and would not be
batch-separable, so SPLIT would run it whole on one member. Configurations, all in one
process, with one total thread budget (`--threads`, default 2 = this machine's cores):

  1 device        one emulated CPU device (`ovtf.testing.emulated_devices`, kind CPU: f32,
                  OpenVINO CPU with INFERENCE_NUM_THREADS = budget), no SPLIT: the reference
  SPLIT x n       n emulated CPU devices with max(1, budget // n) threads each, for n in
                  `--members` (default 1, 2, 4). Below one thread per device the budget cannot
                  be kept: 4 devices x 1 thread is 4 threads on a 2-thread budget (said in
                  the table). Each n > 1 twice: with the balancer live (ovtf's default),
                  and "even": the split pinned at even shares (the module's IMBALANCE
                  threshold set to infinity for that configuration's calls), which measures
                  the splitting itself without the balancer's re-splits

Every configuration is timed in blocks of `--calls` calls, the blocks interleaved over
`--rounds` rounds (ABCD ABCD ...), so machine noise hits all alike; switching backends makes
TensorFlow re-instantiate the function (ovtf partitions it again; compiled clusters are
cached), and the first call of each block is an untimed warm-up. Throughput is images/s from
the median call time, over the calls that compiled nothing (steady state) and over all timed
calls: SPLIT compiles each member once per slice size, lazily, and its balancer moves rows
whenever one slice took over 1.25x as long as another, so on a noisy machine new slice sizes
(and compilations) keep appearing; the table counts them (each emulated device's `compiles`:
member compilations inside a SPLIT are not in `ovtf.stats()["compiles"]`). The table says whether the cluster was actually split (every member
ran rows: `ovtf.stats()["devices"]`), the rows each member ran per call, the offloaded op
fraction, and the largest relative difference from stock TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import ovtf  # noqa: E402  (first: keeps TensorFlow's CPU start-up notices quiet)
import ovtf.testing  # noqa: E402
from ovtf import backends  # noqa: E402
from ovtf.backends.split import balancer as split_balancer  # noqa: E402  (IMBALANCE lives here)


def build(size):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(size, size, 3), weights=None,
                                           classifier_activation=None)
    spec = tf.TensorSpec([None, size, size, 3], tf.float32)
    return model, (lambda: tf.function(lambda x: model(x, training=False), input_signature=[spec]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="image side (default 224)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="total thread budget")
    parser.add_argument("--members", default="1,2,4", help="SPLIT sizes to time")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=5, help="timed calls per block")
    args = parser.parse_args()
    members = [int(n) for n in args.members.split(",")]

    import tensorflow as tf

    model, make_function = build(args.size)
    x = np.random.default_rng(0).random((args.batch, args.size, args.size, 3), np.float32)
    ovtf.disable()
    expected = make_function()(x).numpy()   # stock TensorFlow
    ovtf.enable()
    ovtf.disable_dynamic_fallback()         # a failing cluster must show, not run in TF
    live_imbalance = split_balancer.IMBALANCE

    with contextlib.ExitStack() as stack:
        configs = []   # (label, backend name, member names, threads per member, even)
        single = stack.enter_context(ovtf.testing.emulated_devices(
            1, kind="CPU", prefix="EMU-ONE", threads=args.threads))
        configs.append(("1 device", single[0], single, args.threads, False))
        for n in members:
            threads = max(1, args.threads // n)
            for even in ((False, True) if n > 1 else (False,)):
                names = stack.enter_context(ovtf.testing.emulated_devices(
                    n, kind="CPU", prefix=f"EMU-{'EVEN' if even else 'SPLIT'}{n}",
                    threads=threads))
                configs.append((f"SPLIT x {n}" + (", even" if even else ""),
                                "SPLIT:" + ",".join(names), names, threads, even))

        function = make_function()
        times = {label: [] for label, *_ in configs}           # every timed call
        steady = {label: [] for label, *_ in configs}          # calls that compiled nothing
        compiles = {label: 0 for label, *_ in configs}         # compilations in timed calls
        facts = {}
        for round_index in range(args.rounds):
            for label, backend, names, threads, even in configs:
                split_balancer.IMBALANCE = float("inf") if even else live_imbalance
                ovtf.set_backend(backend)
                ovtf.reset_stats()
                y = function(tf.constant(x)).numpy()          # warm-up: partition, compile
                stats = ovtf.stats()
                if label not in facts:
                    facts[label] = {
                        "offloaded": stats["ops_clustered"] / max(1, stats["ops_total"]),
                        "clusters": stats["clusters"],
                        "diff": float(np.max(np.abs(y - expected)) / np.max(np.abs(expected))),
                    }
                ovtf.reset_stats()
                devices = [backends.get(name) for name in names]
                member_compiles = lambda: sum(device.compiles for device in devices)  # noqa: E731
                for _ in range(args.calls):
                    before = member_compiles()
                    start = time.perf_counter()
                    function(tf.constant(x)).numpy()
                    seconds = time.perf_counter() - start
                    compiled = member_compiles() - before
                    times[label].append(seconds)
                    compiles[label] += compiled
                    if not compiled:
                        steady[label].append(seconds)
                stats = ovtf.stats()
                devices = stats["devices"]
                rows = [devices.get(name, {}).get("rows", 0) // args.calls for name in names]
                facts[label].update(rows=rows, split=all(rows) and len(names) > 1,
                                    fallbacks=stats["fallbacks"])
            print(f"round {round_index + 1}/{args.rounds} done", flush=True)
        split_balancer.IMBALANCE = live_imbalance

    import openvino
    def rate(samples):
        return args.batch / statistics.median(samples) if samples else float("nan")

    reference_all = rate(times[configs[0][0]])
    reference = rate(steady[configs[0][0]])
    print()
    print(f"MobileNetV2 {args.size}x{args.size} f32, batch {args.batch}, thread budget "
          f"{args.threads}, {args.rounds} rounds x {args.calls} calls; TF {tf.__version__}, "
          f"OpenVINO {openvino.__version__}, {os.cpu_count()} CPUs")
    print()
    print("| configuration | devices x threads | images/s, no compile | vs 1 device | images/s, "
          "all calls | vs 1 device | compiles in timed calls | split? | rows per member (last "
          "block) | offloaded | fallbacks | max rel diff |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, backend, names, threads, even in configs:
        throughput, throughput_all = rate(steady[label]), rate(times[label])
        fact = facts[label]
        total = len(names) * threads
        budget = f"{len(names)} x {threads}" + (f" (= {total}: over budget)" if total > args.threads
                                               else "")
        split = "yes" if fact["split"] else ("n/a" if len(names) == 1 else "NO (whole)")
        print(f"| {label} | {budget} | {throughput:.1f} ({len(steady[label])} calls) | "
              f"{throughput / reference:.3f} | {throughput_all:.1f} | "
              f"{throughput_all / reference_all:.3f} | {compiles[label]} | {split} | {'/'.join(map(str, fact['rows']))} | {100 * fact['offloaded']:.1f}% "
              f"({fact['clusters']} cluster) | {fact['fallbacks']} | {fact['diff']:.1e} |")


if __name__ == "__main__":
    main()
