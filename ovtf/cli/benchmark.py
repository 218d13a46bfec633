"""`ovtf bench`: stock TensorFlow vs ovtf vs OpenVINO direct, like OpenVINO's benchmark_app.

How stock TensorFlow stays stock in a process where `import ovtf` hooks every graph: the
stock callable is a fresh function (a new load / a new tf.function) instantiated at its first
call while ovtf is disabled; TensorFlow keeps that instantiation, so later calls run the graph
TensorFlow built, unrewritten. The settings that clear TensorFlow's function cache
(`set_backend`) are applied before it is instantiated, and the timed stock calls are checked
to have run no ovtf cluster (`stock_cluster_executions` in the result, always 0 or an error).
The ovtf callable is another fresh function, instantiated with ovtf enabled. OpenVINO direct
is the model converted whole (`ov.convert_model`) and compiled for the same device and
precision: the upper bound ovtf aims for.

Latencies are per call (a batch), sequential, after `warmup` untimed calls: p50/p90/p99 and
mean in milliseconds; throughput is items per second (batch x calls / total time).
"""

from __future__ import annotations

import time

import numpy as np

import ovtf
from ovtf.cli import models

PRECISION_HINTS = {"f32": "f32", "bf16": "bf16", "f16": "f16"}


def _summary(latencies_ms, batch):
    values = np.asarray(latencies_ms)
    return {
        "p50_ms": float(np.percentile(values, 50)), "p90_ms": float(np.percentile(values, 90)),
        "p99_ms": float(np.percentile(values, 99)), "mean_ms": float(values.mean()),
        "min_ms": float(values.min()), "throughput": float(batch * len(values) / (values.sum() / 1e3)),
    }


def _time(label, call, arrays, iterations, warmup, console):
    for _ in range(warmup):
        call(arrays)
    latencies = []
    progress = None
    if console is not None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
        progress = Progress("[progress.description]{task.description}", BarColumn(),
                            MofNCompleteColumn(), TimeRemainingColumn(), console=console,
                            transient=True)
        progress.start()
        task = progress.add_task(label, total=iterations)
    try:
        for _ in range(iterations):
            start = time.perf_counter()
            call(arrays)
            latencies.append((time.perf_counter() - start) * 1e3)
            if progress is not None:
                progress.advance(task)
    finally:
        if progress is not None:
            progress.stop()
    return latencies


def _relative(actual, expected) -> float:
    worst = 0.0
    for a, e in zip(actual, expected):
        a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
        scale = max(float(np.abs(e).max()) if e.size else 0.0, 1e-30)
        worst = max(worst, float(np.abs(a - e).max()) / scale if e.size else 0.0)
    return worst


def _openvino_device(backend: str):
    from ovtf import backends
    device = getattr(backends.get(backend), "device", None)
    return device if isinstance(device, str) else None


def run(model, entry, shapes, *, backend, precision, iterations, warmup, openvino=True,
        console=None) -> dict:
    batch = shapes[0][0] if shapes and shapes[0] else 1
    arrays = models.random_inputs(entry.inputs, shapes)
    was_enabled = ovtf.is_enabled()
    ovtf.set_backend(backend)       # may clear TF's function cache: before anything is built
    ovtf.set_precision(precision)
    result = {"backend": backend, "precision": precision, "batch": batch,
              "iterations": iterations, "warmup": warmup,
              "inputs": [{"name": n, "dtype": d.name, "shape": s}
                         for (n, d, _), s in zip(entry.inputs, shapes)],
              "modes": {}}
    try:
        # Stock TensorFlow: instantiated (first call) while ovtf is off.
        ovtf.disable()
        stock = model.instantiate(entry, shapes)
        expected = stock(arrays)
        ovtf.enable()
        before = ovtf.stats()["cluster_executions"]
        result["modes"]["tensorflow"] = _summary(
            _time("stock TensorFlow", stock, arrays, iterations, warmup, console), batch)
        result["stock_cluster_executions"] = ovtf.stats()["cluster_executions"] - before
        if result["stock_cluster_executions"]:
            raise RuntimeError("the stock TensorFlow function ran ovtf clusters; "
                               "its measurement would not be stock")

        # ovtf: a fresh function, instantiated with ovtf on.
        ovtf.reset_stats()
        accelerated = model.instantiate(entry, shapes)
        actual = accelerated(arrays)
        stats = ovtf.stats()
        result["placement"] = {k: stats[k] for k in ("ops_total", "ops_clustered", "clusters",
                                                      "graphs_rewritten", "graphs_left_alone")}
        result["max_rel_diff_ovtf"] = _relative(actual, expected)
        result["modes"]["ovtf"] = _summary(
            _time("ovtf", accelerated, arrays, iterations, warmup, console), batch)
        after = ovtf.stats()
        result["fallbacks"] = after["fallbacks"]
        result["device_executions"] = after["device_executions"]

        if openvino:
            result["modes"]["openvino"] = _bench_openvino(
                model, entry, shapes, arrays, expected, backend, precision, iterations, warmup,
                console, result)
    finally:
        (ovtf.enable if was_enabled else ovtf.disable)()
    tf_p50 = result["modes"]["tensorflow"]["p50_ms"]
    result["speedup_ovtf"] = tf_p50 / result["modes"]["ovtf"]["p50_ms"]
    if result["modes"].get("openvino"):
        result["speedup_openvino"] = tf_p50 / result["modes"]["openvino"]["p50_ms"]
    return result


def _bench_openvino(model, entry, shapes, arrays, expected, backend, precision, iterations,
                    warmup, console, result):
    import openvino as ov

    device = _openvino_device(backend)
    if device is None:
        result["openvino_skipped"] = f"backend {backend} is not an OpenVINO device"
        return None
    ovtf.disable()  # converting builds TensorFlow graphs; they are not ovtf's to rewrite
    try:
        converted = model.openvino(entry, shapes)
    except Exception as error:
        result["openvino_skipped"] = f"ov.convert_model failed: {type(error).__name__}: {error}"
        return None
    finally:
        ovtf.enable()
    compiled = ov.Core().compile_model(converted, device,
                                       {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision]})
    request = compiled.create_infer_request()

    def call(inputs):
        request.infer(inputs)
        return [request.get_output_tensor(i).data.copy() for i in range(len(compiled.outputs))]

    result["max_rel_diff_openvino"] = _relative(call(arrays), expected) \
        if len(compiled.outputs) == len(expected) else None
    return _summary(_time("OpenVINO direct", call, arrays, iterations, warmup, console),
                    shapes[0][0] if shapes and shapes[0] else 1)


def print_result(result, console):
    from rich.table import Table

    console.print(f"[bold]{result['model']}[/] ({result['format']}, {result['signature']}), "
                  f"batch {result['batch']}, backend {result['backend']}, precision "
                  f"{result['precision']}, {result['iterations']} iterations")
    table = Table(title_justify="left")
    table.add_column("mode")
    for column in ("p50 ms", "p90 ms", "p99 ms", "mean ms", "items/s", "vs TF"):
        table.add_column(column, justify="right")
    names = {"tensorflow": "stock TensorFlow", "ovtf": "ovtf", "openvino": "OpenVINO direct"}
    tf_p50 = result["modes"]["tensorflow"]["p50_ms"]
    for mode, row in result["modes"].items():
        if row is None:
            continue
        table.add_row(names[mode], f"{row['p50_ms']:.2f}", f"{row['p90_ms']:.2f}",
                      f"{row['p99_ms']:.2f}", f"{row['mean_ms']:.2f}", f"{row['throughput']:.1f}",
                      f"{tf_p50 / row['p50_ms']:.2f}x")
    console.print(table)
    p = result["placement"]
    console.print(f"ovtf placement: {p['ops_clustered']}/{p['ops_total']} ops in {p['clusters']} "
                  f"cluster(s); device runs {result['device_executions']}, fallbacks "
                  f"{result['fallbacks']}; max relative difference vs TF "
                  f"{result['max_rel_diff_ovtf']:.3g}")
    if result.get("openvino_skipped"):
        console.print(f"OpenVINO direct skipped: {result['openvino_skipped']}")
