"""Training: a small Keras CNN `fit` with and without ovtf, side by side (issue 11: within 3%,
same losses; the inference function of the same model still accelerated).

    .venv/bin/python benchmarks/training_fit.py                   # 3 rounds, 3 epochs each
    .venv/bin/python benchmarks/training_fit.py --training-graphs # offload the train step too

Both sides run in this one process, interleaved per round (stock first in odd rounds, ovtf
first in even ones), each with a fresh model built
from the same initial weights and the same data (shuffle off): stock TF is `fit` on a model
whose train function is instantiated while ovtf is disabled (checked: no cluster ran), ovtf
one instantiated with ovtf enabled (its default: training steps stay in TensorFlow; with
`--training-graphs`, `ovtf.enable_training_graphs()` first). "fit" is the whole call
(tracing included), "epochs 2+" the epochs after the first (steady state). After each ovtf
fit, `predict` on the same model shows where inference runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--training-graphs", action="store_true",
                        help="ovtf.enable_training_graphs(): partition the train step too")
    args = parser.parse_args()

    import ovtf
    import tensorflow as tf

    keras = tf.keras
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.samples, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, args.samples)

    def make_model(weights=None):
        model = keras.Sequential([
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(16, 3), keras.layers.BatchNormalization(),
            keras.layers.ReLU(), keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3), keras.layers.BatchNormalization(),
            keras.layers.ReLU(), keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10)])
        if weights is not None:
            model.set_weights(weights)
        model.compile(keras.optimizers.Adam(1e-3),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model

    class EpochTimes(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.starts, self.ends = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.starts.append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter())

    def fit(model):
        timer = EpochTimes()
        start = time.perf_counter()
        history = model.fit(x, y, epochs=args.epochs, batch_size=args.batch, shuffle=False,
                            verbose=0, callbacks=[timer])
        total = time.perf_counter() - start
        steady = timer.ends[-1] - timer.starts[1] if args.epochs > 1 else float("nan")
        return total, steady, np.array(history.history["loss"])

    weights = make_model().get_weights()
    if args.training_graphs:
        ovtf.enable_training_graphs()
    rows = []
    def run_stock():
        ovtf.disable()
        ovtf.reset_stats()
        result = fit(make_model(weights))
        assert ovtf.stats()["cluster_executions"] == 0, "stock TF ran a cluster"
        ovtf.enable()
        return result

    def run_ovtf():
        ovtf.enable()
        ovtf.reset_stats()
        model = make_model(weights)
        result = fit(model)
        fit_stats = ovtf.stats()
        ovtf.reset_stats()
        model.predict(x[:256], batch_size=args.batch, verbose=0)
        return result, fit_stats, ovtf.stats()

    for index in range(args.rounds):
        if index % 2 == 0:       # alternate which side goes first (warm-up favours the second)
            stock = run_stock()
            accelerated, fit_stats, predict_stats = run_ovtf()
        else:
            accelerated, fit_stats, predict_stats = run_ovtf()
            stock = run_stock()
        rows.append((stock, accelerated, fit_stats, predict_stats))

    print(f"Keras CNN fit: {args.samples} samples, batch {args.batch}, {args.epochs} epochs; "
          f"ovtf {'with' if args.training_graphs else 'without'} training graphs offloaded "
          "(one process, interleaved rounds)")
    print("round | stock fit | ovtf fit | ratio | stock epochs 2+ | ovtf epochs 2+ | ratio | "
          "max loss diff | fit: train graphs left in TF, device calls | predict: ops offloaded, device calls")
    for index, (stock, accelerated, fit_stats, predict_stats) in enumerate(rows, 1):
        diff = float(np.max(np.abs(stock[2] - accelerated[2])))
        print(f"{index} | {stock[0]:.2f} s | {accelerated[0]:.2f} s | "
              f"{accelerated[0] / stock[0]:.3f} | {stock[1]:.2f} s | {accelerated[1]:.2f} s | "
              f"{accelerated[1] / stock[1]:.3f} | {diff:.1e} | "
              f"{fit_stats['left_alone_reasons'].get('training_graph', 0)}, "
              f"{fit_stats['device_executions']} | {predict_stats['ops_clustered']}/"
              f"{predict_stats['ops_total']}, {predict_stats['device_executions']}")
    total = statistics.median(a[0] / s[0] for s, a, _, _ in rows)
    steady = statistics.median(a[1] / s[1] for s, a, _, _ in rows)
    print(f"median ovtf/stock: fit {total:.3f}x, epochs 2+ {steady:.3f}x (target <= 1.03)")


if __name__ == "__main__":
    main()
