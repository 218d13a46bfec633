"""Batch inference on Ray Data with ovtf: one model, N actors, each accelerated by OpenVINO.

    pip install 'ovtf[ray]'
    python examples/ray_batch_inference.py                 # local 2-CPU Ray cluster
    python examples/ray_batch_inference.py --images 1024 --batch 64

A MobileNetV2 (96x96, alpha 0.35, random weights: no downloads) is built in code and saved as a
SavedModel. The same Ray Data pipeline then runs twice on a local Ray cluster
(`ray.init(num_cpus=2)`), 2 actors of 1 CPU each:

  stock TF   `ovtf.ray.Predictor(..., accelerate=False)`: the actors run plain TensorFlow
  ovtf       `ovtf.ray.Predictor`: the actors import ovtf, cap OpenVINO at their CPU, and run
             the model's graph on OpenVINO

and prints, for each, the pipeline's wall time (actor start-up included) and the model time
per image measured inside the actors, plus the largest difference of each pipeline's outputs
from stock TensorFlow run in this process. On a real cluster, `ray.init(address="auto")`
and more actors: Ray distributes, ovtf makes each actor faster. (`compute=
ray.data.ActorPoolStrategy(size=2)` is Ray >= 2.51's spelling of `concurrency=2`, which
still works there with a deprecation warning.)
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import ovtf  # noqa: E402  (first: its import keeps TensorFlow's CPU start-up notices quiet)
import ovtf.ray  # noqa: E402


class TimedPredictor(ovtf.ray.Predictor):
    """The Predictor, plus the model time per image of each batch inside the actor."""

    def __call__(self, batch):
        start = time.perf_counter()
        out = super().__call__(batch)
        rows = len(out[self.output_column])
        out["ms_per_image"] = np.full(rows, 1000 * (time.perf_counter() - start) / max(rows, 1))
        return out


def build_model(directory):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None,
                                           classifier_activation=None)
    path = os.path.join(directory, "mobilenetv2_saved_model")
    model.export(path, verbose=False)
    return model, path


def run_pipeline(ray, path, images, batch, accelerate):
    items = [{"input": image, "id": index} for index, image in enumerate(images)]
    start = time.perf_counter()
    rows = (ray.data.from_items(items, override_num_blocks=max(2, len(images) // batch))
            .map_batches(TimedPredictor, fn_constructor_kwargs={"model": path,
                                                                "accelerate": accelerate},
                         compute=ray.data.ActorPoolStrategy(size=2), batch_size=batch)
            .take_all())
    wall = time.perf_counter() - start
    rows.sort(key=lambda row: row["id"])
    outputs = np.stack([row["output"] for row in rows])
    # the first batch of each actor also traces and compiles: the median is the steady state
    per_image_ms = statistics.median(row["ms_per_image"] for row in rows)
    return outputs, wall, per_image_ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    import ray
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as directory:
        model, path = build_model(directory)
        images = np.random.default_rng(0).random((args.images, 96, 96, 3), np.float32)
        ovtf.disable()   # the reference: stock TensorFlow, in this process
        expected = tf.function(lambda x: model(x, training=False))(images).numpy()
        ovtf.enable()

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING)
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ray.data.DataContext.get_current().enable_progress_bars = False
        try:
            results = {name: run_pipeline(ray, path, images, args.batch, accelerate)
                       for name, accelerate in (("stock TF", False), ("ovtf", True))}
        finally:
            ray.shutdown()

    print(f"{args.images} images 96x96, MobileNetV2 (alpha 0.35), batch {args.batch}, "
          f"2 Ray actors x 1 CPU")
    print(f"{'':10} {'wall (s)':>9} {'model ms/image':>15} {'max rel diff vs TF':>19}")
    for name, (outputs, wall, per_image_ms) in results.items():
        difference = float(np.max(np.abs(outputs - expected)) / np.max(np.abs(expected)))
        print(f"{name:10} {wall:9.2f} {per_image_ms:15.3f} {difference:19.2e}")
    stock, accelerated = results["stock TF"][2], results["ovtf"][2]
    print(f"ovtf vs stock TF inside the actors: {stock / accelerated:.2f}x "
          f"(wall time includes Ray and actor start-up)")


if __name__ == "__main__":
    main()
