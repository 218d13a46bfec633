"""The `ovtf` command: what ovtf sees on this machine, what it would do with a model, and
how fast that is.

    ovtf info [--json]                        versions, devices, backends, settings
    ovtf analyze MODEL [--json] [--html PATH] [--backend B] [--min-cluster-size N]
    ovtf bench MODEL [--batch N] [--precision P] [--backend B] [--iterations N] [--json]

MODEL is a SavedModel directory, a `.keras` file or a frozen GraphDef `.pb`. `analyze` never
runs the model: it asks TensorFlow's graph optimizer for each signature's graph (what ovtf is
handed at instantiation) and explains the placement with `ovtf.partitioner.explain`.
`bench` times stock TensorFlow, the same model with ovtf, and the model converted whole with
`ov.convert_model` (see ovtf/cli/benchmark.py for how stock TensorFlow is kept stock).

Bad arguments (a missing path, an unknown model format, an unknown backend) exit with status 2
and one message; `--debug` shows the traceback of an unexpected failure.
Entry point: `ovtf = ovtf.cli:main` (also `python -m ovtf.cli`).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys

import click
from rich.console import Console
from rich.table import Table

import ovtf
from ovtf.cli import models

logger = logging.getLogger("ovtf")

# Piped output is not wrapped at 80 columns (a table cell split over lines can't be grepped).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)


# --- the one place that maps a backend name to what the partitioner needs ------------------

def explain_arguments(backend: str) -> dict:
    """Keyword arguments for `ovtf.partitioner.explain` that select `backend`."""
    from ovtf import partitioner
    parameters = inspect.signature(partitioner.explain).parameters
    if "support" in parameters:
        from ovtf import backends, config
        arguments = {"support": backends.get(backend).operator_support()}
        if "training_graphs" in parameters:     # as the hook would: OVTF_TRAINING_GRAPHS
            arguments["training_graphs"] = config.settings.training_graphs
        return arguments
    return {"backend": backend}


def _backend(value):
    """A click callback: a backend name ovtf accepts, in its canonical spelling."""
    if value is None:
        return ovtf.get_backend()
    saved = ovtf.get_backend()
    try:
        ovtf.set_backend(value)
        return ovtf.get_backend()
    except ValueError as error:
        message = str(error)
        message = message[len("backend: "):] if message.startswith("backend: ") else message
        raise click.BadParameter(message, param_hint="'--backend'") from None
    finally:
        if ovtf.get_backend() != saved:
            ovtf.set_backend(saved)


def _load(path):
    try:
        return models.load(path)
    except models.ModelError as error:
        raise click.BadParameter(str(error), param_hint="'MODEL'") from None


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            raise click.ClickException(f"{type(error).__name__}: {error} (--debug shows where)") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(ovtf.__version__, prog_name="ovtf")
@click.option("--debug", is_flag=True, hidden=True, help="Show tracebacks.")
@click.pass_context
def cli(ctx, debug):
    """OpenVINO for unmodified TensorFlow programs: inspect, explain, measure."""
    ctx.obj = {"debug": debug}
    logging.getLogger("absl").setLevel(logging.ERROR)


# --- info -------------------------------------------------------------------------------------

def _plain(value):
    """An OpenVINO property value as JSON-ready data (lists joined, types by name)."""
    if isinstance(value, (int, float, bool, str)):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_plain(v)) for v in value)
    for method in ("to_string", "get_type_name"):
        if hasattr(value, method):
            try:
                return str(getattr(value, method)())
            except Exception:
                pass
    return str(value)


def info_data() -> dict:
    import platform

    import openvino as ov
    import tensorflow as tf

    from ovtf import _compat, backends, config

    core = ov.Core()
    devices = []
    for name in core.available_devices:
        properties = {}
        for key in ("FULL_DEVICE_NAME", "DEVICE_ARCHITECTURE", "OPTIMIZATION_CAPABILITIES",
                    "INFERENCE_PRECISION_HINT", "RANGE_FOR_STREAMS", "DEVICE_TYPE"):
            try:
                value = core.get_property(name, key)
            except Exception:
                continue
            properties[key] = _plain(value)
        devices.append({"name": name, "properties": properties})
    device_names = set(core.available_devices)
    backend_rows = []
    for name in ovtf.list_backends():
        try:
            backend = backends.get(name)
        except Exception:
            backend = None
        emulated = getattr(backend, "emulated", None)
        if emulated is None:
            device = getattr(backend, "device", None)
            emulated = device is None or not (set(str(device).replace(":", ",").split(","))
                                              & device_names)
        described = {}
        if hasattr(backend, "describe"):
            try:
                described = dict(backend.describe())
            except Exception:
                described = {}
        backend_rows.append({"name": name, "emulated": bool(emulated),
                             "kind": type(backend).__name__ if backend else "?",
                             "description": str(described.get("full_name", ""))})
    try:
        import pyopencl
        opencl = [{"platform": p.name, "version": p.version,
                   "devices": [d.name for d in p.get_devices()]} for p in pyopencl.get_platforms()]
    except ImportError:
        opencl = None  # pyopencl not installed
    except Exception as error:
        opencl = [{"error": str(error)}]
    settings = {}
    for key, value in vars(config.settings).items():
        settings[key] = sorted(value) if isinstance(value, (set, frozenset)) else value
    environment = {k: v for k, v in sorted(os.environ.items()) if k.startswith("OVTF_")}
    return {
        "ovtf": ovtf.__version__, "tensorflow": tf.__version__,
        "tensorflow_supported": _compat.SUPPORTED_RANGE, "openvino": ov.get_version(),
        "python": platform.python_version(), "platform": platform.platform(),
        "devices": devices, "backends": backend_rows, "opencl": opencl,
        "settings": settings, "environment": environment,
    }


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def info(as_json):
    """Versions, OpenVINO devices, ovtf backends and the settings in force."""
    data = info_data()
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    print_info(data, out)


def _table(title, *columns):
    """A left-titled rich Table; a column is a name or (name, justify)."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        name, justify = column if isinstance(column, tuple) else (column, "left")
        table.add_column(name, justify=justify)
    return table


def print_info(data, console):
    versions = Table(title="ovtf", show_header=False, title_justify="left")
    versions.add_row("ovtf", data["ovtf"])
    versions.add_row("TensorFlow", f"{data['tensorflow']}  (supported {data['tensorflow_supported']})")
    versions.add_row("OpenVINO", data["openvino"])
    versions.add_row("Python", f"{data['python']}  {data['platform']}")
    console.print(versions)
    devices = _table("OpenVINO devices", "device", "name", "capabilities", "default precision")
    for device in data["devices"]:
        p = device["properties"]
        devices.add_row(device["name"], p.get("FULL_DEVICE_NAME", ""),
                        p.get("OPTIMIZATION_CAPABILITIES", ""), p.get("INFERENCE_PRECISION_HINT", ""))
    console.print(devices)
    backends = _table("ovtf backends", "backend", "kind", "", "description")
    for row in data["backends"]:
        backends.add_row(row["name"], row["kind"], "[yellow]emulated[/]" if row["emulated"] else "",
                         row.get("description", ""))
    console.print(backends)
    if data["opencl"] is None:
        console.print("OpenCL platforms: pyopencl is not installed")
    else:
        opencl = _table("OpenCL platforms", "platform", "version", "devices")
        for row in data["opencl"]:
            opencl.add_row(row.get("platform", row.get("error", "")), row.get("version", ""),
                           ", ".join(row.get("devices", [])))
        console.print(opencl)
    settings = _table("settings", "setting", "value")
    for key, value in data["settings"].items():
        settings.add_row(key, str(value))
    console.print(settings)
    environment = ", ".join(f"{k}={v}" for k, v in data["environment"].items())
    console.print(f"from the environment: {environment or 'no OVTF_* variable set'}")


# --- analyze ----------------------------------------------------------------------------------

def analyze_model(model, backend: str, min_cluster_size: int) -> list:
    from ovtf import partitioner
    from ovtf.partitioner.graph import is_compute

    arguments = explain_arguments(backend)
    results = []
    for entry in model.entries:
        report = partitioner.explain(entry.graph_def, entry.fetch, (),
                                     min_cluster_size=min_cluster_size, **arguments)
        results.append({
            "name": entry.name,
            "inputs": [{"name": n, "dtype": d.name, "shape": s} for n, d, s in entry.inputs],
            "nodes_total": len(entry.graph_def.node),
            "compute_ops": sum(is_compute(n.op) for n in entry.graph_def.node),
            "headline": report.headline(),
            "report": report,
        })
    return results


@cli.command()
@click.argument("model", metavar="MODEL")
@click.option("--backend", default=None, metavar="NAME",
              help="Backend to place for (default: the current one, e.g. CPU).")
@click.option("--min-cluster-size", type=click.IntRange(min=1), default=None,
              help="Smaller clusters stay in TensorFlow (default: ovtf's setting).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the placement picture (self-contained HTML) to this file.")
def analyze(model, backend, min_cluster_size, as_json, html_path):
    """Explain where each signature of MODEL would run, without running it."""
    backend = _backend(backend)
    if html_path and os.path.isdir(html_path):
        raise click.BadParameter(f"{html_path!r} is a directory", param_hint="'--html'")
    loaded = _load(model)
    minimum = min_cluster_size or ovtf.get_min_cluster_size()
    results = analyze_model(loaded, backend, minimum)
    pictures = []
    if html_path:
        for result in results:
            path = html_path
            if len(results) > 1:
                stem, ext = os.path.splitext(html_path)
                path = f"{stem}-{result['name']}{ext or '.html'}"
            result["report"].to_html(path, title=f"ovtf placement: {os.path.basename(model)} "
                                                 f"{result['name']} on {backend}")
            result["html"] = path
            pictures.append(path)
    if as_json:
        document = {"model": model, "format": loaded.format, "backend": backend,
                    "min_cluster_size": minimum, "signatures": []}
        for result in results:
            data = result["report"].to_dict()
            data.pop("edges", None)
            entry = {k: v for k, v in result.items() if k != "report"}
            entry.update(data)
            document["signatures"].append(entry)
        click.echo(json.dumps(document, indent=2, default=str))
        return
    print_analysis(model, loaded.format, backend, minimum, results, out)


def print_analysis(model, format_name, backend, minimum, results, console):
    console.print(f"[bold]{model}[/] ({format_name}), backend [bold]{backend}[/], "
                  f"minimum cluster size {minimum}")
    summary = _table("placement per signature", "signature", ("ops", "right"),
                     ("supported", "right"), ("clustered", "right"), ("clusters", "right"),
                     "verdict")
    for result in results:
        report = result["report"]
        share = f" ({100 * report.ops_clustered / report.ops_total:.0f}%)" if report.ops_total else ""
        verdict = (f"[green]{len(report.clusters)} cluster(s): "
                   f"{', '.join(map(str, sorted(report.cluster_sizes, reverse=True)))}[/]"
                   if report.rewritten else f"[yellow]left in TensorFlow: {report.left_alone_reason}[/]")
        summary.add_row(result["name"], str(report.ops_total), str(report.ops_marked),
                        f"{report.ops_clustered}{share}", str(len(report.clusters)), verdict)
    console.print(summary)
    for result in results:
        report = result["report"]
        left = report.left_in_tf
        if not left:
            continue
        table = _table(f"{result['name']}: kept in TensorFlow", "op type", "reason",
                       ("count", "right"), "example node")
        examples = {}
        for name, p in report.placement.items():
            if p.compute and p.cluster is None:
                examples.setdefault((p.op, p.reason), (name, p.detail))
        for (op, reason), count in sorted(left.items(), key=lambda item: (-item[1], item[0]))[:20]:
            name, detail = examples[(op, reason)]
            table.add_row(op, str(reason) + (f" ({detail})" if detail else ""), str(count), name)
        if len(left) > 20:
            table.caption = f"... and {len(left) - 20} more (op type, reason) pairs; --json lists all"
        console.print(table)
    for result in results:
        if "html" in result:
            console.print(f"placement picture: {result['html']}")


# --- bench ------------------------------------------------------------------------------------

@cli.command()
@click.argument("model", metavar="MODEL")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size (the first dimension when the model leaves it open).")
@click.option("--precision", type=click.Choice(["f32", "bf16", "f16"]), default="f32",
              show_default=True, help="Inference precision for ovtf and OpenVINO.")
@click.option("--backend", default=None, metavar="NAME", help="Backend (default: current, e.g. CPU).")
@click.option("--iterations", type=click.IntRange(min=1), default=50, show_default=True,
              help="Timed calls per mode.")
@click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True,
              help="Untimed calls per mode first.")
@click.option("--signature", default=None, help="Signature to run (default: the first).")
@click.option("--no-openvino", is_flag=True, help="Skip the OpenVINO-direct measurement.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def bench(model, batch, precision, backend, iterations, warmup, signature, no_openvino, as_json):
    """Time MODEL with stock TensorFlow, with ovtf and converted whole to OpenVINO."""
    from ovtf.cli import benchmark as bench_module

    backend = _backend(backend)
    loaded = _load(model)
    names = [entry.name for entry in loaded.entries]
    if signature is not None and signature not in names:
        raise click.BadParameter(f"{signature!r} is not a signature of {model}; it has "
                                 f"{', '.join(names)}", param_hint="'--signature'")
    entry = loaded.entries[names.index(signature) if signature else 0]
    try:
        shapes = models.concrete_shapes(entry.inputs, batch)
    except models.ModelError as error:
        raise click.BadParameter(str(error), param_hint="'MODEL'") from None
    show_progress = not as_json and err.is_terminal
    result = bench_module.run(loaded, entry, shapes, backend=backend, precision=precision,
                              iterations=iterations, warmup=warmup, openvino=not no_openvino,
                              console=err if show_progress else None)
    result.update({"model": model, "format": loaded.format, "signature": entry.name})
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    bench_module.print_result(result, out)


def main(argv=None):
    """Console-script entry point. TensorFlow's C++ notices (grappler sessions, plugin
    registration) are filtered from stderr while a command runs; the progress bar writes to
    the terminal directly."""
    global err
    from ovtf import _quiet

    try:
        err = Console(file=os.fdopen(os.dup(2), "w", buffering=1), highlight=False)
    except OSError:
        pass
    with _quiet.filtered_stderr():
        return cli.main(args=argv, prog_name="ovtf")


if __name__ == "__main__":
    sys.exit(main())
