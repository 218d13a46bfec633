"""Batch inference with ovtf on Ray Data (optional extra: `pip install ovtf[ray]`).

    import ray
    import ovtf.ray

    ds = ray.data.read_parquet(...)            # a column "input": one image / row per record
    ds = ds.map_batches(ovtf.ray.Predictor, fn_constructor_kwargs={"model": "model_dir"},
                        concurrency=4, batch_size=32)
    ds.take(1)[0]["output"]                    # the model's output for that row

(Ray >= 2.51 spells `concurrency=4` as `compute=ray.data.ActorPoolStrategy(size=4)`; the old
form still works there, with a deprecation warning.)

Ray does the distribution (actors, scheduling, data movement); this module only says what one
actor does. `Predictor(model, ...)` runs once per actor: it imports ovtf (so every graph the
actor builds is accelerated), caps the threads at the CPUs Ray assigned to the actor
(`limit_threads`), and loads the model once:
* a SavedModel directory: its signature `signature` (default "serving_default"), or the
  loaded object itself when the SavedModel has no signatures but is callable;
* a `.keras` file: `keras.models.load_model(path, compile=False)`, called in a tf.function
  whose input signature has a free batch dimension (one trace serves every batch size).
Each call takes the batch's column `input_column` (default "input"), runs the model on it and
returns the batch with the model's output added as `output_column` (default "output"); the
other columns are kept. A model with several outputs needs `output_key` (which one); a
missing column raises ValueError naming it and the columns present.

Options: `num_threads` (default: the actor's CPUs from
`ray.get_runtime_context().get_assigned_resources()`; without Ray or without a CPU
reservation, no cap), `backend` and `precision` (as `ovtf.set_backend` / `ovtf.set_precision`;
default: the environment, which Ray's workers inherit, e.g. OVTF_BACKEND), `accelerate=False`
(the same actor with ovtf disabled: stock TensorFlow, for a baseline). Batches may be
numpy dicts (Ray Data's default batch format) or pandas DataFrames.

`import ovtf` never imports Ray; this module imports it only to ask for the actor's CPUs.
"""

from __future__ import annotations

import logging
import os

import numpy as np

__all__ = ["Predictor", "limit_threads", "actor_cpus"]

logger = logging.getLogger("ovtf")


def actor_cpus() -> int | None:
    """Whole CPUs Ray assigned to the calling actor or task (at least 1 when any fraction is
    assigned); None outside Ray, in Ray's driver, or with no CPU reserved."""
    try:
        import ray
    except ImportError:
        return None
    if not ray.is_initialized():
        return None
    try:
        resources = ray.get_runtime_context().get_assigned_resources()
    except AssertionError:   # Ray answers only in a worker (actor or task), not in the driver
        return None
    cpus = resources.get("CPU")
    if not cpus:
        return None
    return max(1, int(cpus))


def limit_threads(n: int) -> None:
    """Cap this process's inference threads at `n`: OpenVINO's CPU device
    (`INFERENCE_NUM_THREADS`, set on ovtf's process-wide `openvino.Core`, so it applies to
    every cluster compiled on the CPU from now on, whatever the backend string) and
    TensorFlow's intra-op pool for the ops that stay in TensorFlow (only possible before
    TensorFlow's runtime starts; otherwise logged and left). Devices that set their own
    thread count (emulated devices' `threads`) keep it."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"limit_threads: {n!r} is not an integer >= 1")
    from ovtf.backends.openvino import core as openvino_core

    core = openvino_core()
    if "CPU" in core.available_devices:
        core.set_property("CPU", {"INFERENCE_NUM_THREADS": n})
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
    except RuntimeError as error:   # TensorFlow's runtime is already initialized
        logger.info("ovtf: TensorFlow's intra-op threads not capped at %d (%s)", n, error)


class Predictor:
    """One Ray Data actor's model: `ds.map_batches(Predictor, fn_constructor_kwargs={"model":
    path}, concurrency=N, batch_size=B)`. See the module docstring for the options."""

    def __init__(self, model, input_column: str = "input", output_column: str = "output",
                 signature: str = "serving_default", output_key: str | None = None,
                 num_threads: int | None = None, backend: str | None = None,
                 precision: str | None = None, accelerate: bool = True):
        import ovtf  # the hook: graphs built in this process from now on are accelerated

        if not accelerate:   # stock TensorFlow in the same pipeline, for comparisons
            ovtf.disable()
        self.model_path = os.fspath(model)
        self.input_column = input_column
        self.output_column = output_column
        self.output_key = output_key
        if backend is not None:
            ovtf.set_backend(backend)
        if precision is not None:
            ovtf.set_precision(precision)
        self.num_threads = num_threads if num_threads is not None else actor_cpus()
        if self.num_threads is not None:
            limit_threads(self.num_threads)
        self._function, self._input_dtype, self._input_name = _load(self.model_path, signature)
        logger.info("ovtf.ray: loaded %s (backend %s, %s threads)", self.model_path,
                    ovtf.get_backend(), self.num_threads or "uncapped")

    def __call__(self, batch):
        if not isinstance(batch, dict) and not _is_dataframe(batch):
            raise TypeError(f"ovtf.ray.Predictor: batches must be dicts of numpy arrays or "
                            f"pandas DataFrames (map_batches batch_format='numpy' or "
                            f"'pandas'), not {type(batch).__name__}")
        columns = list(batch.columns) if _is_dataframe(batch) else list(batch)
        if self.input_column not in columns:
            raise ValueError(f"ovtf.ray.Predictor: the batch has no column "
                             f"{self.input_column!r} (input_column); columns present: "
                             f"{', '.join(map(repr, columns)) or 'none'}")
        values = batch[self.input_column]
        values = values.to_numpy() if _is_dataframe(batch) else np.asarray(values)
        if values.dtype == object:   # one array per row (pandas, variable-shaped tensors)
            values = np.stack([np.asarray(row) for row in values])
        outputs = self._run(values.astype(self._input_dtype, copy=False))
        if _is_dataframe(batch):
            batch = batch.copy()
            batch[self.output_column] = list(outputs)
            return batch
        return {**batch, self.output_column: outputs}

    def _run(self, values):
        import tensorflow as tf

        argument = tf.convert_to_tensor(values)
        result = (self._function(**{self._input_name: argument}) if self._input_name
                  else self._function(argument))
        return _pick_output(result, self.output_key, self.model_path).numpy()

    def __repr__(self) -> str:
        return (f"<ovtf.ray.Predictor {self.model_path}: {self.input_column!r} -> "
                f"{self.output_column!r}>")


# --- loading ---------------------------------------------------------------------------------

def _load(path: str, signature: str):
    """(callable, input numpy dtype, keyword name of the input or None)."""
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            raise ValueError(f"ovtf.ray.Predictor: {path!r} is a directory without "
                             "saved_model.pb; expected a SavedModel directory or a .keras file")
        return _load_saved_model(path, signature)
    if path.endswith(".keras") and os.path.isfile(path):
        return _load_keras(path)
    raise ValueError(f"ovtf.ray.Predictor: model {path!r} is not a SavedModel directory or a "
                     ".keras file" + ("" if os.path.exists(path) else " (it does not exist)"))


def _load_saved_model(path: str, signature: str):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    signatures = dict(loaded.signatures)
    if signature in signatures:
        function = signatures[signature]
        _, keywords = function.structured_input_signature
        if len(keywords) != 1:
            raise ValueError(f"ovtf.ray.Predictor: signature {signature!r} of {path!r} takes "
                             f"{len(keywords)} inputs ({', '.join(sorted(keywords))}); the "
                             "Predictor feeds one column")
        (name, spec), = keywords.items()
        return function, spec.dtype.as_numpy_dtype, name
    if not signatures and callable(loaded):
        return loaded, np.float32, None
    raise ValueError(f"ovtf.ray.Predictor: SavedModel {path!r} has no signature {signature!r}; "
                     f"signatures: {', '.join(sorted(signatures)) or 'none'}")


def _load_keras(path: str):
    import keras
    import tensorflow as tf

    model = keras.models.load_model(path, compile=False)
    if len(model.inputs) != 1:
        raise ValueError(f"ovtf.ray.Predictor: {path!r} takes {len(model.inputs)} inputs; "
                         "the Predictor feeds one column")
    tensor = model.inputs[0]
    dtype = tf.as_dtype(tensor.dtype)
    spec = tf.TensorSpec([None, *tensor.shape[1:]], dtype)
    function = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    return function, dtype.as_numpy_dtype, None


def _pick_output(result, key, path):
    if isinstance(result, dict):
        if key is None and len(result) == 1:
            return next(iter(result.values()))
        if key in result:
            return result[key]
        raise ValueError(f"ovtf.ray.Predictor: {path!r} has outputs "
                         f"{', '.join(sorted(result))}; name one with output_key="
                         + (f" (not {key!r})" if key is not None else ""))
    if isinstance(result, (list, tuple)):
        if key is None and len(result) == 1:
            return result[0]
        if isinstance(key, int) and 0 <= key < len(result):
            return result[key]
        raise ValueError(f"ovtf.ray.Predictor: {path!r} has {len(result)} outputs; name one "
                         "with output_key=<index>")
    return result


def _is_dataframe(batch) -> bool:
    return hasattr(batch, "columns") and hasattr(batch, "iloc")
