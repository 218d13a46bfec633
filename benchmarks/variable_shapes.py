"""Variable shapes: one tf.function with input_signature [None, None] called with 40 sequence
lengths, twice over (issue 11's workload): stock TF vs ovtf, first and second pass, compiles.

    .venv/bin/python benchmarks/variable_shapes.py                 # BERT-like, 2 layers, 128
    .venv/bin/python benchmarks/variable_shapes.py --layers 4 --hidden 256 --batch 4 --rounds 3

The model is a BERT-like encoder built in code with Keras layers (token embedding, position
embedding, `MultiHeadAttention`, `LayerNormalization`, a ReLU MLP; random weights; keras_hub
is not installed here). Both sides run in this process, interleaved per round: stock TF is
a fresh `tf.function` instantiated while ovtf is disabled (checked: it runs no cluster),
ovtf a fresh one instantiated with ovtf enabled, each with its compiled-cluster cache
cleared, so every round's first pass is really first. Targets (issue 11): ovtf's second
pass at least as fast as stock TF's, its first pass <= 3x stock TF's first pass.
`--static` keeps every cluster static (one compile per shape, as before dynamic shapes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def build_encoder(tf, vocab, hidden, layers, heads, seed):
    keras = tf.keras
    keras.utils.set_random_seed(seed)
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab, hidden)(ids)

    class AddPositions(keras.layers.Layer):      # learned position embeddings, rows 0..T-1
        def build(self, shape):
            self.table = self.add_weight(shape=(512, shape[-1]), initializer="random_normal")

        def call(self, x):
            return x + tf.convert_to_tensor(self.table)[None, :tf.shape(x)[1]]

    x = AddPositions()(x)
    for _ in range(layers):
        attended = keras.layers.MultiHeadAttention(heads, hidden // heads)(x, x)
        x = keras.layers.LayerNormalization(epsilon=1e-6)(x + attended)
        mlp = keras.layers.Dense(hidden)(keras.layers.Dense(4 * hidden, activation="relu")(x))
        x = keras.layers.LayerNormalization(epsilon=1e-6)(x + mlp)
    return keras.Model(ids, x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, default=40)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved repetitions")
    parser.add_argument("--static", action="store_true",
                        help="no dynamic dims (DYNAMIC_AFTER_SHAPES very large)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import ovtf
    import tensorflow as tf
    from ovtf.runtime import shape_plan
    from ovtf.runtime.compiled_cache import PROCESS_CACHE

    if args.static:
        shape_plan.DYNAMIC_AFTER_SHAPES = 10 ** 9
    model = build_encoder(tf, args.vocab, args.hidden, args.layers, args.heads, seed=0)
    rng = np.random.default_rng(1)
    lengths = [8 + 3 * i for i in range(args.lengths)]          # 8 ... 125
    data = [rng.integers(0, args.vocab, (args.batch, n)).astype(np.int32) for n in lengths]
    signature = [tf.TensorSpec([None, None], tf.int32)]

    def fresh_function():
        return tf.function(lambda ids: model(ids, training=False), input_signature=signature)

    def timed_passes(f):
        results, times = [], []
        for _ in range(2):
            start = time.perf_counter()
            outputs = [f(ids).numpy() for ids in data]
            times.append(time.perf_counter() - start)
            results = outputs
        return times, results

    rounds = []
    for _ in range(args.rounds):
        ovtf.disable()
        ovtf.reset_stats()
        stock_times, reference = timed_passes(fresh_function())
        stock_stats = ovtf.stats()
        assert stock_stats["cluster_executions"] == 0, "stock TF ran a cluster"
        ovtf.enable()
        PROCESS_CACHE.clear()
        ovtf.reset_stats()
        ovtf_times, got = timed_passes(fresh_function())
        stats = ovtf.stats()
        diff = max(float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12))
                   for a, b in zip(got, reference))
        rounds.append({"stock": stock_times, "ovtf": ovtf_times, "compiles": stats["compiles"],
                       "dynamic_compiles": stats.get("dynamic_compiles", 0),
                       "cache_hits": stats["cache_hits"], "fallbacks": stats["fallbacks"],
                       "clusters": stats["clusters"],
                       "offloaded": f"{stats['ops_clustered']}/{stats['ops_total']}",
                       "max_rel_diff": diff})
    if args.json:
        print(json.dumps({"args": vars(args), "rounds": rounds}))
        return
    print(f"BERT-like encoder: {args.layers} layers, hidden {args.hidden}, batch {args.batch}, "
          f"{args.lengths} lengths {lengths[0]}..{lengths[-1]}, 2 passes"
          f"{', --static' if args.static else ''}")
    print("round | stock 1st | stock 2nd | ovtf 1st | ovtf 2nd | 1st ratio | 2nd ratio | "
          "compiles (dynamic) | cache hits | offloaded | max rel diff")
    for index, r in enumerate(rounds, 1):
        print(f"{index} | {r['stock'][0]:.3f} s | {r['stock'][1]:.3f} s | {r['ovtf'][0]:.3f} s | "
              f"{r['ovtf'][1]:.3f} s | {r['ovtf'][0] / r['stock'][0]:.2f} | "
              f"{r['ovtf'][1] / r['stock'][1]:.2f} | {r['compiles']} ({r['dynamic_compiles']}) | "
              f"{r['cache_hits']} | {r['offloaded']} | {r['max_rel_diff']:.1e}")
    second = statistics.median(r["ovtf"][1] / r["stock"][1] for r in rounds)
    first = statistics.median(r["ovtf"][0] / r["stock"][0] for r in rounds)
    print(f"median ovtf/stock: first pass {first:.2f}x (target <= 3), "
          f"second pass {second:.2f}x (target <= 1)")


if __name__ == "__main__":
    main()
