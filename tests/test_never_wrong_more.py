"""Issues 18 and 23, what was left: TF kernel-test failures and compile failures on valid
graphs, each computed on the device now or kept in TensorFlow with a reason.

Every case runs against stock TensorFlow on the same inputs (`test_ops._run_function`: ovtf
disabled, then enabled with fallback off and min cluster size 1, grappler's folding passes
off so the op under test reaches ovtf) and asserts where the op ran.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import ovtf
from test_ops import (PLAIN_GRAPPLER, _on_device, _run_function, assert_same,  # noqa: F401
                      grappler_options, reports)

RNG = np.random.default_rng(23)



# --- SplitV with computed size_splits (TF's ConcatOpTest.testGradientsRandom) ---------------

def test_split_v_with_computed_sizes_on_device(reports, grappler_options):
    """A concat gradient splits by sizes computed as Squeeze(Slice(Pack(shapes))): the
    frontend made a one-output split and the import failed ("input_outputs_vector.size() >
    producer_port_idx"); the sizes now go through a Reshape to [num_split]."""
    def fn(a, b, c):
        shapes = tf.stack([tf.shape(a), tf.shape(b), tf.shape(c)])
        sizes = tf.squeeze(tf.slice(shapes, [0, 1], [3, 1]))
        whole = tf.concat([a, b, c], 1) * 2.0
        parts = tf.split(whole, sizes, axis=1, num=3)
        return tf.concat([parts[2], parts[0], parts[1]], 1)

    inputs = [RNG.standard_normal((2, n)).astype(np.float32) for n in (3, 1, 4)]
    _on_device(fn, inputs, "SplitV", reports, grappler_options)


# --- a compile the CPU plugin's snippets refuse (TF's BinaryOpTest.testFloatDifferentShapes) --

def test_atan2_with_a_constant_compiles_on_device(reports, grappler_options):
    """The exact Atan2 lowering between a broadcast input and a constant is one long
    element-wise chain; the CPU plugin's snippets ran out of vector registers on it ("Can't
    allocate registers for a snippet") and the cluster failed to compile. The backend compiles
    such a model again with snippets off (seen on AVX2; with more registers it compiles as is)."""
    constant = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    inputs = [np.array([[1.0], [2.0]], np.float32)]
    _on_device(lambda y: tf.math.atan2(y, tf.constant(constant)) * 2.0, inputs, "Atan2",
               reports, grappler_options)
