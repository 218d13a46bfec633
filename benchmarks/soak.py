"""Soak: run one model many times through ovtf and watch resident memory (RSS).

    .venv/bin/python benchmarks/soak.py [--iterations 20000] [--warmup 1000] [--model mlp|cnn]
                                        [--batches 1,4] [--fallback-every 0]

Reports RSS at start (after building the model), after warm-up, every `--report-every`
iterations, and at the end, plus the growth per 1,000 calls after warm-up. A leak in the
per-call path (native kernel, numpy views, infer requests, fallback) shows up as steady
growth after warm-up; allocator noise as a few MB that stops growing.
`--fallback-every N` routes every N-th call through the TensorFlow fallback (an injected
backend failure) so the fallback path is soaked too.

Measured here (2 shared cores, 20,000 calls, batches 1 and 4 alternating):
  mlp:                      start 566.4 MB, after warm-up 635.8 MB, end 637.9 MB (+2.1 MB,
                            all of it between calls 2,000 and 4,000, flat from then on)
  cnn:                      start 566.0 MB, after warm-up 635.9 MB, end 637.9 MB (+1.9 MB)
  mlp, every 10th call falls back to TensorFlow (2,000 fallbacks):
                            start 566.5 MB, after warm-up 650.4 MB, end 652.4 MB (+2.0 MB)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time


def rss_mb() -> float:
    with open("/proc/self/statm") as file:
        pages = int(file.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def build(kind: str):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    if kind == "mlp":
        ws = [tf.Variable(rng.standard_normal(s).astype(np.float32) * 0.1)
              for s in ((64, 256), (256, 256), (256, 10))]

        def body(x):
            h = tf.nn.relu(tf.matmul(x, ws[0]) + 0.1)
            h = tf.nn.relu(tf.matmul(h, ws[1]) + 0.1)
            return tf.nn.softmax(tf.matmul(h, ws[2]))
        spec = tf.TensorSpec([None, 64], tf.float32)
        shape = (64,)
    else:
        k1 = tf.Variable(rng.standard_normal((3, 3, 3, 16)).astype(np.float32) * 0.1)
        k2 = tf.Variable(rng.standard_normal((3, 3, 16, 32)).astype(np.float32) * 0.1)
        wd = tf.Variable(rng.standard_normal((32, 10)).astype(np.float32) * 0.1)

        def body(x):
            h = tf.nn.relu(tf.nn.conv2d(x, k1, 1, "SAME"))
            h = tf.nn.max_pool2d(h, 2, 2, "VALID")
            h = tf.nn.relu(tf.nn.conv2d(h, k2, 1, "SAME"))
            h = tf.reduce_mean(h, axis=[1, 2])
            return tf.nn.softmax(tf.matmul(h, wd))
        spec = tf.TensorSpec([None, 32, 32, 3], tf.float32)
        shape = (32, 32, 3)
    return tf.function(body, input_signature=[spec]), body, shape


def install_flaky(every: int):
    import threading

    from ovtf import backends
    from ovtf.backends import Backend, BackendError, Executable

    class Flaky(Backend):
        def __init__(self):
            self.inner, self.calls, self.lock = backends.get("CPU"), 0, threading.Lock()

        def compile(self, spec, shapes, constants, precision):
            return Run(self, self.inner.compile(spec, shapes, constants, precision))

    class Run(Executable):
        def __init__(self, backend, inner):
            self.backend, self.inner = backend, inner

        def run(self, inputs, outputs):
            with self.backend.lock:
                self.backend.calls += 1
                fail = self.backend.calls % every == 0
            if fail:
                raise BackendError("run", "soak: injected")
            self.inner.run(inputs, outputs)

    backends.register("SOAK-FLAKY", Flaky)
    import ovtf
    ovtf.set_backend("SOAK-FLAKY")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--report-every", type=int, default=2000)
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--fallback-every", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON summary line")
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf  # noqa: F401

    import ovtf
    if args.fallback_every:
        install_flaky(args.fallback_every)
    function, body, shape = build(args.model)
    batches = [int(b) for b in args.batches.split(",")]
    inputs = [np.random.default_rng(b).standard_normal((b,) + shape).astype(np.float32)
              for b in batches]
    gc.collect()
    samples = [(0, rss_mb())]
    print(f"start: {samples[0][1]:.1f} MB", flush=True)
    start = time.perf_counter()
    checksum = 0.0
    for i in range(1, args.iterations + 1):
        checksum += float(function(inputs[i % len(inputs)])[0, 0])
        if i == args.warmup or i % args.report_every == 0 or i == args.iterations:
            gc.collect()
            samples.append((i, rss_mb()))
            label = "after warm-up" if i == args.warmup else f"after {i}"
            print(f"{label}: {samples[-1][1]:.1f} MB  ({time.perf_counter() - start:.1f} s)",
                  flush=True)
    warm = dict(samples)[args.warmup]
    end = samples[-1][1]
    per_thousand = (end - warm) / max(1, args.iterations - args.warmup) * 1000
    stats = ovtf.stats()
    summary = {"model": args.model, "iterations": args.iterations, "rss_start_mb": samples[0][1],
               "rss_warm_mb": warm, "rss_end_mb": end, "growth_after_warmup_mb": end - warm,
               "mb_per_1000_calls_after_warmup": per_thousand,
               "seconds": time.perf_counter() - start,
               "device_executions": stats["device_executions"], "fallbacks": stats["fallbacks"],
               "compiles": stats["compiles"], "checksum": checksum}
    print(f"growth after warm-up: {end - warm:+.1f} MB ({per_thousand:+.3f} MB per 1000 calls); "
          f"device executions {stats['device_executions']}, fallbacks {stats['fallbacks']}")
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
