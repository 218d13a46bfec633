"""ovtf.ray.Predictor on a local 2-CPU Ray cluster: 2 actors, 64 images through
`Dataset.map_batches`, equal to stock TensorFlow, for a SavedModel directory and a `.keras`
file (a small CNN built in code); the other columns are kept; each actor ran the model on the
device with its OpenVINO threads capped at its one CPU. A missing column's message is checked
in this process (no actor needed), and `import ovtf` must not import Ray."""

from __future__ import annotations

import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
_ray_before_ovtf = "ray" in sys.modules
import ovtf  # noqa: E402
# whether importing ovtf (and every test module collected so far) brought Ray in
_ray_after_ovtf = "ray" in sys.modules

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'ovtf[ray]', or "
                                        "requirements-dev.txt)")
pytest.importorskip("ray.data", reason="ray is installed without ray.data (pip install 'ray[data]')")

import ovtf.ray  # noqa: E402

IMAGES = 64
SHAPE = (16, 16, 3)


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster for the module (start-up is the slow part). Its workers inherit
    this process's environment (OVTF_MIN_CLUSTER_SIZE=2 from conftest) and Python (the venv,
    where ovtf is installed editable)."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False, object_store_memory=200 * 1024 * 1024)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # start only once both actors are up (models loaded), so both get batches: Ray Data
    # otherwise feeds the first actor ready, and a fast one can take every batch
    context.wait_for_min_actors_s = 120
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """(SavedModel dir, .keras path, images, stock TF outputs)."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(SHAPE),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(5),
    ])
    root = tmp_path_factory.mktemp("ray_models")
    saved_model, keras_file = str(root / "saved_model"), str(root / "model.keras")
    model.export(saved_model, verbose=False)
    model.save(keras_file)
    images = np.random.default_rng(0).random((IMAGES, *SHAPE), np.float32)
    was = ovtf.is_enabled()
    ovtf.disable()
    try:
        expected = tf.function(lambda x: model(x, training=False))(images).numpy()
    finally:
        if was:
            ovtf.enable()
    return saved_model, keras_file, images, expected


def probe_class():
    """The Predictor plus columns that say what happened in the actor. Defined in a function so
    that Ray pickles it by value (this test module is not importable in Ray's workers)."""

    class Probe(ovtf.ray.Predictor):
        def __call__(self, batch):
            import os

            import tensorflow as tf

            import ovtf
            from ovtf.backends.openvino import core as openvino_core

            out = super().__call__(batch)
            rows = len(out["output"])
            out["pid"] = np.full(rows, os.getpid())
            out["device_executions"] = np.full(rows, ovtf.stats()["device_executions"])
            out["threads"] = np.full(rows, self.num_threads or 0)
            out["tf_intra_op_threads"] = np.full(
                rows, tf.config.threading.get_intra_op_parallelism_threads())
            out["openvino_threads"] = np.full(rows, int(openvino_core().get_property(
                "CPU", "INFERENCE_NUM_THREADS")))
            return out

    return Probe


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", ["saved_model", "keras"])
def test_two_actors_equal_stock_tensorflow(cluster, model_files, kind):
    saved_model, keras_file, images, expected = model_files
    path = saved_model if kind == "saved_model" else keras_file
    items = [{"input": images[i], "id": i, "label": f"image-{i}"} for i in range(IMAGES)]
    dataset = ray.data.from_items(items, override_num_blocks=8).map_batches(
        probe_class(), fn_constructor_kwargs={"model": path}, concurrency=2, batch_size=8)
    rows = sorted(dataset.take_all(), key=lambda row: row["id"])

    assert [row["id"] for row in rows] == list(range(IMAGES))
    assert [row["label"] for row in rows] == [f"image-{i}" for i in range(IMAGES)]
    np.testing.assert_array_equal(np.stack([row["input"] for row in rows]), images)
    got = np.stack([row["output"] for row in rows])
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert len({row["pid"] for row in rows}) == 2, "both actors should have run batches"
    assert min(row["device_executions"] for row in rows) >= 1, "the model ran on the device"
    assert {row["threads"] for row in rows} == {1}            # each actor holds one CPU
    assert {row["openvino_threads"] for row in rows} == {1}
    assert {row["tf_intra_op_threads"] for row in rows} == {1}


def test_missing_column_names_it_and_the_columns_present(model_files):
    saved_model, _, images, _ = model_files
    predictor = ovtf.ray.Predictor(model=saved_model)
    with pytest.raises(ValueError, match=r"no column 'input' \(input_column\); columns present: "
                                         r"'image', 'id'"):
        predictor({"image": images[:2], "id": np.arange(2)})
    renamed = ovtf.ray.Predictor(model=saved_model, input_column="image", output_column="logits")
    out = renamed({"image": images[:2], "id": np.arange(2)})
    assert sorted(out) == ["id", "image", "logits"] and out["logits"].shape == (2, 5)


def test_pandas_batches_and_bad_model_paths(model_files, tmp_path):
    pandas = pytest.importorskip("pandas")
    _, keras_file, images, expected = model_files
    frame = pandas.DataFrame({"input": list(images[:3]), "id": [0, 1, 2]})
    out = ovtf.ray.Predictor(model=keras_file)(frame)
    assert list(out.columns) == ["input", "id", "output"]
    np.testing.assert_allclose(np.stack(out["output"]), expected[:3], rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="dicts of numpy arrays or pandas DataFrames"):
        ovtf.ray.Predictor(model=keras_file)([images[:1]])
    with pytest.raises(ValueError, match="not a SavedModel directory or a .keras file"):
        ovtf.ray.Predictor(model=str(tmp_path / "nothing.h5"))
    with pytest.raises(ValueError, match="without saved_model.pb"):
        ovtf.ray.Predictor(model=str(tmp_path))


def test_import_ovtf_does_not_import_ray(fresh_process):
    if not _ray_before_ovtf:   # decided in this process, at no cost
        assert not _ray_after_ovtf, "import ovtf imported ray"
        return
    result = fresh_process("""
        import json, sys
        import ovtf
        print(json.dumps({"ray": "ray" in sys.modules, "ovtf.ray": "ovtf.ray" in sys.modules}))
    """)
    assert result == {"ray": False, "ovtf.ray": False}
