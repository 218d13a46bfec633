"""Benchmark: stock TensorFlow vs ovtf vs the whole model converted to OpenVINO by hand.

    python benchmarks/run_benchmarks.py                        # everything (takes a while)
    python benchmarks/run_benchmarks.py --models mobilenetv2 --batches 1 --reps 10   # quick

For each model and precision, in one process and with interleaved repetitions (every round
times each mode once, so machine noise hits all modes alike):

  tf      `tf.function(model)` traced and instantiated while ovtf is disabled (stock TF; TF
          has no bf16 inference mode, so this column is f32 in both tables)
  ovtf    the same model in a `tf.function` instantiated with ovtf enabled at that precision
  ov      the upper bound: `ov.convert_model` of the whole model + `compile_model` (LATENCY
          hint, INFERENCE_PRECISION_HINT = the precision), fed numpy arrays directly
  dispatch  a trivial `tf.function` (one multiply of a one-element tensor, no variables,
          stock TF): what calling any tf.function costs, which OV direct does not pay
  captures  a stock `tf.function` with the model's variables captured and a trivial body (the
          handles go into an IdentityN it waits on): what TF's own call path costs for a
          function with that many variables, before any op runs

"in kernel" is the device's own timing of the inference inside ovtf's call (median per call,
from `ovtf.stats()["devices"]`): set against OV direct, it tells a slower compiled model or a
colder inference from time spent around it.

limit = OV direct + dispatch, the floor for anything called as a tf.function (the per-call
goal is ovtf <= limit + 0.3 ms at batch 1); "- limit" = ovtf - limit in ms. With hundreds of
variables TF's call path itself costs more than a trivial function's: "captures" shows how
much of "- limit" is TensorFlow's own (ovtf cannot avoid passing them), and "own" = ovtf -
OV direct - captures (batch 1) is what ovtf adds beyond the model run and TF's own call path
for this very function.

Every round times each mode once, in a fresh (seeded) random order. Batch 1: median
latency. Batch 16: throughput (images or sequences per second, from the
median time per call). The table gives ovtf/tf and ovtf/ov speed ratios, the offloaded op
fraction (`ops_clustered / ops_total` from `ovtf.stats()` while the graph was rewritten) and
the largest relative difference of ovtf's output from TensorFlow's.

Models: Keras applications built in code with `weights=None` (no downloads) and a
BERT-base-like encoder (12 layers, hidden 768, 12 heads, sequence 128) built in Keras.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = ("resnet50", "mobilenetv2", "efficientnetb0", "inceptionv3", "bert")


# --- models ---------------------------------------------------------------------------------

def build_model(name):
    """(keras model, input maker: batch -> numpy input)."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if name == "bert":
        model = bert_like_encoder()
        return model, lambda batch: rng.integers(0, 30522, size=(batch, 128), dtype=np.int32)
    constructors = {
        "resnet50": keras.applications.ResNet50,
        "mobilenetv2": keras.applications.MobileNetV2,
        "efficientnetb0": keras.applications.EfficientNetB0,
        "inceptionv3": keras.applications.InceptionV3,
    }
    # logits, not softmax: random-weight CNNs give near-uniform softmax outputs that hide
    # numerical differences
    model = constructors[name](weights=None, classifier_activation=None)
    shape = tuple(model.input_shape[1:])
    return model, lambda batch: rng.random((batch,) + shape, dtype=np.float32)


def bert_like_encoder(layers=12, hidden=768, heads=12, sequence=128, vocabulary=30522,
                      intermediate=3072):
    """A BERT-base-shaped Transformer encoder (post-LayerNorm, GELU), token ids -> hidden."""
    import keras
    from keras import layers as L

    ids = keras.Input((sequence,), dtype="int32", name="input_ids")
    x = L.Embedding(vocabulary, hidden, name="token_embedding")(ids)
    positions = L.Embedding(sequence, hidden, name="position_embedding")(
        keras.ops.arange(sequence, dtype="int32")[None, :])
    x = L.LayerNormalization(epsilon=1e-12)(x + positions)
    for index in range(layers):
        attention = L.MultiHeadAttention(heads, hidden // heads, name=f"attention_{index}")(x, x)
        x = L.LayerNormalization(epsilon=1e-12)(x + attention)
        feed = L.Dense(intermediate, activation="gelu")(x)
        feed = L.Dense(hidden)(feed)
        x = L.LayerNormalization(epsilon=1e-12)(x + feed)
    return keras.Model(ids, x, name="bert_like")


# --- timing ---------------------------------------------------------------------------------

class Mode:
    def __init__(self, name, call, inner=None):
        self.name = name
        self.call = call          # batch -> None (blocks until the result is there)
        self.times = {}           # batch -> [seconds]
        # () -> (seconds, calls) so far of the work inside a call (ovtf: the device's own
        # timing of its inferences), read outside the timed call
        self.inner = inner
        self.inner_times = {}     # batch -> [seconds per inner call]


def time_interleaved(modes, batch, reps):
    """Each round times every mode once, in a fresh random order (seeded, so runs repeat).

    What ran just before warms or cools a call: after stock TF's convolutions, TF's own
    worker threads keep spinning and the next call is slower. A rotating order keeps every
    mode behind the same neighbour (ovtf always behind stock TF); a shuffled one puts every
    mode behind each of the others about equally often."""
    order = random.Random(batch)
    for mode in modes:
        mode.times[batch] = []
        mode.inner_times[batch] = []
    for _ in range(reps):
        for mode in order.sample(modes, len(modes)):
            inner_before = mode.inner() if mode.inner else None
            start = time.perf_counter()
            mode.call(batch)
            mode.times[batch].append(time.perf_counter() - start)
            if inner_before is not None:
                seconds, calls = (after - before for after, before in zip(mode.inner(), inner_before))
                if calls:
                    mode.inner_times[batch].append(seconds / calls)


def convert_whole_model(function, spec):
    """`ov.convert_model` of the whole tf.function, keeping only its real outputs.

    The frontend turns dangling tensors into extra outputs (EfficientNet's swish IdentityN:
    49 extra outputs, which made the compiled model 3x slower at batch 16); a user
    converting by hand would keep the model's outputs, so the upper bound does too.
    """
    import openvino as ov
    concrete = function.get_concrete_function(spec)
    model = ov.convert_model(concrete)
    wanted = {tensor.name for tensor in concrete.outputs}
    results = [result for result in model.get_results()
               if result.get_friendly_name() in wanted or wanted & result.output(0).get_names()]
    if results and len(results) < len(model.get_results()):
        model = ov.Model(results, model.get_parameters(), model.get_friendly_name())
    return model


def max_relative_difference(actual, expected):
    import numpy as np
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(float(np.abs(expected).max()), 1e-30)
    return float(np.abs(actual - expected).max() / scale)


def run_model(name, precisions, batches, reps, modes_wanted, log):
    import numpy as np
    import openvino as ov
    import tensorflow as tf

    import ovtf

    model, make_input = build_model(name)
    inputs = {batch: make_input(batch) for batch in batches}
    tensors = {batch: tf.constant(inputs[batch]) for batch in batches}
    rows = []

    def keras_function():
        return tf.function(lambda x: model(x, training=False))

    # Stock TF: traced and instantiated for every batch while ovtf is off, so it stays stock.
    ovtf.disable()
    stock = keras_function()
    reference = {}
    before = ovtf.stats()["cluster_executions"]
    for batch in batches:
        reference[batch] = stock(tensors[batch]).numpy()
    if ovtf.stats()["cluster_executions"] != before:
        raise RuntimeError("the stock TF function ran ovtf clusters: the comparison is invalid")

    # TF's own call cost, without (dispatch) and with (captures) the model's variables.
    trivial = tf.function(lambda x: x * 2.0)
    variables = [weight.handle for weight in model.weights]

    @tf.function
    def captured(x):
        handles = tf.raw_ops.IdentityN(input=variables) if variables else []
        with tf.control_dependencies(handles):
            return x * 2.0

    tiny = tf.constant([1.0])
    trivial(tiny)
    captured(tiny)

    # OpenVINO direct (upper bound): converted from the same tf.function with ovtf off.
    converted = {}
    if "ov" in modes_wanted:
        for batch in batches:
            spec = tf.TensorSpec(inputs[batch].shape, tf.as_dtype(inputs[batch].dtype))
            started = time.perf_counter()
            converted[batch] = convert_whole_model(keras_function(), spec)
            log(f"  {name}: ov.convert_model batch {batch}: {time.perf_counter() - started:.1f}s")
    ovtf.enable()

    def device_time():
        devices = ovtf.stats()["devices"].values()
        return sum(d["seconds"] for d in devices), sum(d["calls"] for d in devices)

    core = ov.Core()
    for precision in precisions:
        ovtf.set_precision(precision)
        ovtf.reset_stats()
        accelerated = keras_function()
        started = time.perf_counter()
        outputs = {batch: accelerated(tensors[batch]).numpy() for batch in batches}
        stats = ovtf.stats()
        log(f"  {name} {precision}: ovtf first calls (rewrite + compile) "
            f"{time.perf_counter() - started:.1f}s; clusters {stats['clusters']}, "
            f"fallbacks {stats['fallbacks']} {stats['fallback_reasons'] or ''}")
        offloaded = stats["ops_clustered"] / stats["ops_total"] if stats["ops_total"] else 0.0

        requests = {}
        if "ov" in modes_wanted:
            for batch in batches:
                compiled = core.compile_model(converted[batch], "CPU", {
                    "INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"})
                requests[batch] = compiled.create_infer_request()
                requests[batch].infer([inputs[batch]], share_inputs=True)

        modes = []
        # on a one-element tensor: the call itself, not a multiply over the batch
        if "dispatch" in modes_wanted:
            modes.append(Mode("dispatch", lambda b: trivial(tiny).numpy()))
        if "captures" in modes_wanted:
            modes.append(Mode("captures", lambda b: captured(tiny).numpy()))
        if "tf" in modes_wanted:
            modes.append(Mode("tf", lambda b: stock(tensors[b]).numpy()))
        if "ovtf" in modes_wanted:
            modes.append(Mode("ovtf", lambda b: accelerated(tensors[b]).numpy(),
                              inner=device_time))
        if "ov" in modes_wanted:
            modes.append(Mode("ov", lambda b: requests[b].infer([inputs[b]], share_inputs=True)))
        for mode in modes:  # warm up
            for batch in batches:
                mode.call(batch)
        for batch in batches:
            time_interleaved(modes, batch, reps if batch == 1 else max(3, reps // 4))
        device_runs = ovtf.stats()["device_executions"]

        for batch in batches:
            medians = {mode.name: statistics.median(mode.times[batch]) for mode in modes}
            medians.update({f"{mode.name}_inner": statistics.median(mode.inner_times[batch])
                            for mode in modes if mode.inner_times.get(batch)})
            rows.append({
                "model": name, "precision": precision, "batch": batch,
                **{f"{key}_s": value for key, value in medians.items()},
                "offloaded": offloaded,
                "max_rel_diff": max_relative_difference(outputs[batch], reference[batch]),
                "device_executions": device_runs,
            })
        del requests
        gc.collect()
    return rows


# --- report ---------------------------------------------------------------------------------

def format_table(rows):
    lines = ["| model | prec | batch | TF | ovtf | in kernel | OV direct | dispatch | captures | limit | ovtf vs TF "
             "| ovtf vs OV | ovtf vs limit | - limit | own | offloaded | max rel diff |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def cell(row, key):
        value = row.get(f"{key}_s")
        if value is None:
            return "-"
        if row["batch"] == 1:
            return f"{value * 1000:.2f} ms"
        return f"{row['batch'] / value:.1f} /s"

    def ms_cell(row, key):
        value = row.get(f"{key}_s")
        return "-" if value is None else f"{value * 1000:.2f} ms"

    for row in rows:
        tf_s, ovtf_s, ov_s = row.get("tf_s"), row.get("ovtf_s"), row.get("ov_s")
        dispatch_s = row.get("dispatch_s")
        if ov_s and dispatch_s:
            row["limit_s"] = ov_s + dispatch_s
        limit_s = row.get("limit_s")
        speedup = f"{tf_s / ovtf_s:.2f}x" if tf_s and ovtf_s else "-"
        versus = f"{ov_s / ovtf_s:.2f}" if ov_s and ovtf_s else "-"
        versus_limit = f"{limit_s / ovtf_s:.2f}" if limit_s and ovtf_s else "-"
        over = f"{(ovtf_s - limit_s) * 1000:+.2f} ms" if limit_s and ovtf_s else "-"
        captures_s = row.get("captures_s")
        own = (f"{(ovtf_s - ov_s - captures_s) * 1000:+.2f} ms"
               if ovtf_s and ov_s and captures_s and row["batch"] == 1 else "-")
        lines.append(
            f"| {row['model']} | {row['precision']} | {row['batch']} | {cell(row, 'tf')} | "
            f"{cell(row, 'ovtf')} | {ms_cell(row, 'ovtf_inner')} | {cell(row, 'ov')} | {ms_cell(row, 'dispatch')} | "
            f"{ms_cell(row, 'captures')} | {cell(row, 'limit')} | {speedup} | {versus} | "
            f"{versus_limit} | {over} | {own} | {row['offloaded']:.1%} | {row['max_rel_diff']:.1e} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--precisions", default="f32,bf16", help="comma-separated: f32,bf16,f16")
    parser.add_argument("--batches", default="1,16", help="comma-separated batch sizes")
    parser.add_argument("--reps", type=int, default=30,
                        help="interleaved rounds at batch 1 (a quarter of that, >= 3, above)")
    parser.add_argument("--modes", default="tf,ovtf,ov,dispatch,captures",
                        help="comma-separated: tf,ovtf,ov,dispatch,captures")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--python-path", action="store_true",
                        help="compile and run clusters through OpenVINO's Python API, as ovtf "
                             "did before the kernel's fast path (for before/after numbers)")
    args = parser.parse_args(argv)

    models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    modes = {m.strip() for m in args.modes.split(",") if m.strip()}

    def log(message):
        print(message, file=sys.stderr, flush=True)

    import ovtf  # noqa: F401  (loads the hook before any model is traced)
    import openvino as ov
    import tensorflow as tf

    if args.python_path:
        from ovtf.backends.openvino import native
        native._native_state.update(tried=True, runtime=None)

    log(f"TensorFlow {tf.__version__}, OpenVINO {ov.__version__}, ovtf {ovtf.__version__}, "
        f"{os.cpu_count()} CPUs")
    rows = []
    for name in models:
        started = time.perf_counter()
        rows.extend(run_model(name, precisions, batches, args.reps, modes, log))
        log(f"{name}: {time.perf_counter() - started:.0f}s")
        log(format_table([row for row in rows if row["model"] == name]))
        gc.collect()
    table = format_table(rows)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as stream:
            stream.write(table + "\n")
    return rows


if __name__ == "__main__":
    main()
