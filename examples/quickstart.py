"""ovtf quick start: the same Keras model, run by stock TensorFlow and with ovtf.

    scripts/demo.sh                       # MobileNetV2, batch 1
    scripts/demo.sh --model resnet50 --batch 8 --precision bf16

The model is built in code with random weights (no downloads) and outputs logits: with
random weights a softmax is flat to float precision, which would hide any difference. The program below is
ordinary TensorFlow; `import ovtf` is the only change. ovtf is switched off while the stock
function is instantiated, so both run in one process and can be timed interleaved.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import ovtf  # noqa: E402  (first: its import keeps TensorFlow's CPU start-up notices quiet)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

MODELS = {
    "mobilenetv2": lambda: keras.applications.MobileNetV2(weights=None, classifier_activation=None),
    "resnet50": lambda: keras.applications.ResNet50(weights=None, classifier_activation=None),
    "efficientnetb0": lambda: keras.applications.EfficientNetB0(weights=None, classifier_activation=None),
}


def median_ms(function, x, repetitions):
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        function(x)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="mobilenetv2")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--precision", default="f32", help="f32 (default), bf16 or f16")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = MODELS[args.model]()
    x = np.random.default_rng(0).random((args.batch, *model.input_shape[1:]), np.float32)

    # Stock TensorFlow: instantiated while ovtf is off, so TF keeps this graph as it is.
    ovtf.disable()
    stock = tf.function(lambda inputs: model(inputs, training=False))
    expected = stock(x).numpy()

    # The same model with ovtf: graphs instantiated from now on are rewritten.
    ovtf.enable()
    ovtf.set_precision(args.precision)
    ovtf.reset_stats()
    accelerated = tf.function(lambda inputs: model(inputs, training=False))
    result = accelerated(x).numpy()
    stats = ovtf.stats()

    # Interleave the timing rounds so machine noise hits both alike.
    stock_ms, ovtf_ms = [], []
    for _ in range(3):
        stock_ms.append(median_ms(stock, x, args.repetitions))
        ovtf_ms.append(median_ms(accelerated, x, args.repetitions))
    stock_median, ovtf_median = statistics.median(stock_ms), statistics.median(ovtf_ms)

    max_diff = float(np.abs(result - expected).max())
    relative = max_diff / max(float(np.abs(expected).max()), 1e-30)
    print(f"model {args.model}, batch {args.batch}, ovtf backend {ovtf.get_backend()}, "
          f"precision {ovtf.get_precision()}")
    print(f"offloaded: {stats['ops_clustered']}/{stats['ops_total']} ops in "
          f"{stats['clusters']} cluster(s); device runs {stats['device_executions']}, "
          f"fallbacks {stats['fallbacks']}")
    print(f"max |ovtf - TF| = {max_diff:.3g} (relative {relative:.3g})")
    print(f"stock TF {stock_median:.2f} ms, ovtf {ovtf_median:.2f} ms per batch "
          f"(median): speedup {stock_median / ovtf_median:.2f}x")


if __name__ == "__main__":
    main()
