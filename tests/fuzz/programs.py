"""Random TensorFlow programs for differential testing: stock TF vs ovtf.

A program is plain data (JSON-able, so a failing one is kept as a regression case): its
inputs (arrays, edge values and zero-size dims included) and a list of steps, each one op
over earlier values. `generate(seed, features)` draws one; `build(program)` turns it into the
Python function a `tf.function` traces. Shapes are tracked while drawing, so every program
is valid TensorFlow; whether TF raises on it (an empty reduction's ArgMax, say) is part of
what is compared.

`features` switches on the classes of inputs and ops the draw may use (see FEATURES), so a
short default run can cover what is settled while a long run by hand covers everything.
"""

from __future__ import annotations

import random

import numpy as np

FEATURES = frozenset({
    "edge_values",    # NaN, +-inf, +-0 and large magnitudes among the inputs
    "zero_size",      # a 0 among the input dims
    "control_flow",   # tf.cond, tf.while_loop, tf.map_fn, tf.scan
    "int64",          # int64 inputs, values beyond int32 among them when edge_values is on
    "half",           # float16 inputs
})

FLOAT_UNARY = ("tanh", "sigmoid", "relu", "relu6", "elu", "abs", "neg", "square", "sqrt", "exp",
               "log", "sin", "cos", "floor", "ceil", "round", "sign", "softplus", "erf",
               "reciprocal", "log_softmax", "softmax", "clip", "selu", "rsqrt", "log1p")
FLOAT_BINARY = ("add", "sub", "mul", "div", "maximum", "minimum", "squared_difference",
                "atan2", "floordiv", "floormod", "pow")
INT_UNARY = ("abs", "neg", "square", "sign")
INT_BINARY = ("add", "sub", "mul", "maximum", "minimum")
COMPARE = ("greater", "greater_equal", "less", "less_equal", "equal", "not_equal")
REDUCE = ("sum", "mean", "max", "min", "prod")
SHAPE_STEPS = ("transpose", "reshape", "concat", "slice", "tile", "expand_squeeze", "reverse",
               "pad", "gather", "cumsum", "argmax", "cast_roundtrip", "split", "unstack")
CONTROL_STEPS = ("cond", "while", "map_fn", "scan")


def generate(seed: int, features=FEATURES, max_steps: int = 8) -> dict:
    rng = random.Random(seed)
    features = frozenset(features)
    values = []      # [(shape, dtype)] per value, inputs first
    inputs = []
    for _ in range(rng.randint(1, 3)):
        dtype = rng.choice(["float32"] * 5 + ["int32"] + (["int64"] if "int64" in features else [])
                           + (["float16"] if "half" in features else []))
        shape = [rng.randint(1, 5) for _ in range(rng.randint(0, 4))]
        if "zero_size" in features and shape and rng.random() < 0.15:
            shape[rng.randrange(len(shape))] = 0
        inputs.append({"shape": shape, "dtype": dtype,
                       "data": _draw_array(rng, shape, dtype, features)})
        values.append((shape, dtype))
    steps = []
    for _ in range(rng.randint(1, max_steps)):
        step = _draw_step(rng, values, features)
        if step is None:
            continue
        steps.append(step)
        values.append((step["shape"], step["dtype"]))
    outputs = sorted({len(values) - 1} | {rng.randrange(len(values))
                                          for _ in range(rng.randint(0, 2))})
    return {"seed": seed, "inputs": inputs, "steps": steps, "outputs": outputs}


def _draw_array(rng, shape, dtype, features) -> list:
    size = int(np.prod(shape)) if shape else 1
    if dtype.startswith("float"):
        data = [round(rng.gauss(0, 2), 3) for _ in range(size)]
        if "edge_values" in features:
            for i in range(size):
                if rng.random() < 0.08:
                    data[i] = rng.choice([float("nan"), float("inf"), float("-inf"), 0.0, -0.0,
                                          1e30, -1e30, 0.5, -0.5, 2.5])
    else:
        data = [rng.randint(-20, 20) for _ in range(size)]
        if "edge_values" in features and dtype == "int64":
            for i in range(size):
                if rng.random() < 0.1:
                    data[i] = rng.choice([2 ** 40, -(2 ** 40) + 3, 2 ** 31, 2 ** 62])
    return data


def _pick(rng, values, predicate=lambda shape, dtype: True):
    choices = [i for i, (shape, dtype) in enumerate(values) if predicate(shape, dtype)]
    return rng.choice(choices) if choices else None


def _is_float(dtype):
    return dtype.startswith("float")


def _broadcast_partner(rng, values, index):
    """Another value of the same dtype whose shape broadcasts with value `index`, or None."""
    shape, dtype = values[index]
    partners = [i for i, (s, d) in enumerate(values) if d == dtype and _broadcast(s, shape)]
    return rng.choice(partners) if partners else None


def _broadcast(a, b):
    for x, y in zip(reversed(a), reversed(b)):
        if x != y and x != 1 and y != 1:
            return False
    return True


def _broadcast_shape(a, b):
    result = []
    for i in range(max(len(a), len(b))):
        x = a[len(a) - 1 - i] if i < len(a) else 1
        y = b[len(b) - 1 - i] if i < len(b) else 1
        result.append(y if x == 1 else x)
    return list(reversed(result))


def _draw_step(rng, values, features):
    kinds = ["unary"] * 4 + ["binary"] * 4 + ["compare", "reduce", "reduce", "matmul"] + \
        ["shape"] * 5 + (["control"] * 2 if "control_flow" in features else [])
    kind = rng.choice(kinds)
    if kind == "unary":
        i = _pick(rng, values)
        shape, dtype = values[i]
        op = rng.choice(FLOAT_UNARY if _is_float(dtype) else INT_UNARY)
        step = {"op": op, "args": [i], "shape": shape, "dtype": dtype}
        if op in ("log_softmax", "softmax"):
            if not shape:
                return None
            step["axis"] = rng.randrange(-len(shape), len(shape))
        return step
    if kind == "binary":
        i = _pick(rng, values)
        j = _broadcast_partner(rng, values, i)
        shape, dtype = values[i]
        op = rng.choice(FLOAT_BINARY if _is_float(dtype) else INT_BINARY)
        return {"op": op, "args": [i, j], "shape": _broadcast_shape(shape, values[j][0]),
                "dtype": dtype}
    if kind == "compare":
        i = _pick(rng, values)
        j = _broadcast_partner(rng, values, i)
        out = _broadcast_shape(values[i][0], values[j][0])
        # where(a > b, a, b) keeps the dtype: the comparison's NaN semantics show in values
        return {"op": "where_" + rng.choice(COMPARE), "args": [i, j], "shape": out,
                "dtype": values[i][1]}
    if kind == "reduce":
        i = _pick(rng, values, lambda s, d: len(s) > 0)
        if i is None:
            return None
        shape, dtype = values[i]
        axis = rng.randrange(-len(shape), len(shape))
        keep = rng.random() < 0.3
        out = [d for k, d in enumerate(shape) if k != axis % len(shape)] if not keep else \
            [1 if k == axis % len(shape) else d for k, d in enumerate(shape)]
        op = rng.choice(REDUCE if _is_float(dtype) else ("sum", "max", "min"))
        return {"op": "reduce_" + op, "args": [i], "axis": axis, "keepdims": keep,
                "shape": out, "dtype": dtype}
    if kind == "matmul":
        i = _pick(rng, values, lambda s, d: len(s) == 2 and d == "float32")
        if i is None:
            return None
        rows, inner = values[i][0]
        cols = rng.randint(1, 4)
        weight = [round(rng.gauss(0, 1), 3) for _ in range(inner * cols)]
        return {"op": "matmul", "args": [i], "weight": weight, "cols": cols,
                "shape": [rows, cols], "dtype": "float32"}
    if kind == "shape":
        return _draw_shape_step(rng, values)
    return _draw_control_step(rng, values)


def _draw_shape_step(rng, values):
    op = rng.choice(SHAPE_STEPS)
    i = _pick(rng, values, lambda s, d: len(s) > 0)
    if i is None:
        return None
    shape, dtype = values[i]
    rank = len(shape)
    step = {"op": op, "args": [i], "dtype": dtype}
    if op == "transpose":
        perm = list(range(rank))
        rng.shuffle(perm)
        step.update(perm=perm, shape=[shape[p] for p in perm])
    elif op == "reshape":
        size = int(np.prod(shape))
        target = [size] if rng.random() < 0.5 or size == 0 else [-1] + \
            ([shape[-1]] if shape[-1] else [])
        step.update(target=target, shape=[size] if len(target) == 1 else
                    [size // shape[-1], shape[-1]])
    elif op == "concat":
        j = _pick(rng, values, lambda s, d: d == dtype and len(s) == rank)
        axis = rng.randrange(rank)
        if any(values[j][0][k] != shape[k] for k in range(rank) if k != axis):
            j = i
        out = list(shape)
        out[axis] = shape[axis] + values[j][0][axis]
        step.update(args=[i, j], axis=axis, shape=out)
    elif op == "slice":
        axis = rng.randrange(rank)
        n = shape[axis]
        begin, end = rng.randint(-n - 1, n), rng.randint(-n - 1, n + 1)
        stride = rng.choice([1, 1, 2, -1, -2])
        step.update(axis=axis, begin=begin, end=end, stride=stride,
                    shape=[len(range(n)[slice(begin, end, stride)]) if k == axis else d
                           for k, d in enumerate(shape)])
    elif op == "tile":
        multiples = [rng.randint(1, 3) for _ in range(rank)]
        step.update(multiples=multiples, shape=[d * m for d, m in zip(shape, multiples)])
    elif op == "expand_squeeze":
        axis = rng.randint(0, rank)
        step.update(axis=axis, shape=list(shape))
    elif op == "reverse":
        step.update(axis=rng.randrange(rank), shape=list(shape))
    elif op == "pad":
        pads = [[rng.randint(0, 2), rng.randint(0, 2)] for _ in range(rank)]
        step.update(pads=pads, shape=[d + a + b for d, (a, b) in zip(shape, pads)])
    elif op == "gather":
        axis = rng.randrange(rank)
        if shape[axis] == 0:
            return None
        indices = [rng.randrange(shape[axis]) for _ in range(rng.randint(0, 4))]
        step.update(axis=axis, indices=indices,
                    shape=shape[:axis] + [len(indices)] + shape[axis + 1:])
    elif op == "cumsum":
        if not _is_float(dtype) and dtype != "int32":
            return None
        step.update(axis=rng.randrange(rank), reverse=rng.random() < 0.3,
                    exclusive=rng.random() < 0.3, shape=list(shape))
    elif op == "argmax":
        axis = rng.randrange(rank)
        step.update(axis=axis, dtype="int64",
                    shape=[d for k, d in enumerate(shape) if k != axis])
    elif op == "cast_roundtrip":
        target = "int32" if _is_float(dtype) else "float32"
        step.update(target=target, dtype=target, shape=list(shape))
    elif op in ("split", "unstack"):
        axis = rng.randrange(rank)
        n = shape[axis]
        if op == "split":
            parts = rng.choice([p for p in (1, 2, 3) if n % p == 0] or [1])
            part = rng.randrange(parts)
            step.update(axis=axis, parts=parts, part=part,
                        shape=[d // parts if k == axis else d for k, d in enumerate(shape)])
        else:
            if n == 0:
                return None
            part = rng.randrange(n)
            step.update(axis=axis, part=part, shape=[d for k, d in enumerate(shape) if k != axis])
    return step


def _draw_control_step(rng, values):
    op = rng.choice(CONTROL_STEPS)
    i = _pick(rng, values, lambda s, d: _is_float(d))
    if i is None:
        return None
    shape, dtype = values[i]
    body = [rng.choice(("tanh", "sigmoid", "relu", "neg", "square", "sin", "abs"))
            for _ in range(rng.randint(1, 3))]
    step = {"op": op, "args": [i], "body": body, "shape": list(shape), "dtype": dtype}
    if op == "cond":
        step["else_body"] = [rng.choice(("cos", "exp", "relu", "neg")) for _ in range(2)]
    elif op == "while":
        step["count"] = rng.randint(0, 4)
    elif op in ("map_fn", "scan"):
        if not shape:
            return None
    return step


# --- building the TensorFlow function -----------------------------------------------------

def input_arrays(program) -> list:
    arrays = []
    for spec in program["inputs"]:
        dtype = np.dtype(spec["dtype"])
        with np.errstate(over="ignore"):   # 1e30 as float16 is inf, as in TF
            arrays.append(np.array(spec["data"], dtype=dtype).reshape(spec["shape"]))
    return arrays


# Steps whose float result is not correctly rounded, or whose last bits depend on the order
# of an accumulation: TF and OpenVINO may both be right and still differ by an ulp or two.
INEXACT = frozenset({
    "tanh", "sigmoid", "elu", "sqrt", "exp", "log", "sin", "cos", "softplus", "erf",
    "reciprocal", "selu", "rsqrt", "log1p", "log_softmax", "softmax", "div", "atan2", "pow",
    "squared_difference", "matmul", "reduce_sum", "reduce_mean", "reduce_prod", "cumsum",
})
# relative size of the noise `build(program, noise=...)` puts on an inexact step's result
NOISE = {"float32": 2.0 ** -21, "float16": 2.0 ** -9, "bfloat16": 2.0 ** -6}
# Ops whose zero result has no fixed sign: TF's relu(-0) is +0 in its vector loop and -0 in
# its scalar tail (so it depends on the tensor's size and the CPU), and max/min/clip of +0
# and -0 return whichever operand the kernel looks at first.
SIGN_OF_ZERO_FREE = frozenset({"relu", "relu6", "maximum", "minimum", "clip", "reduce_max",
                               "reduce_min"})


def build(program, noise=None):
    """The Python function of the program: takes its input tensors, returns its outputs.
    With `noise` (an int seed), the result of every inexact op (`INEXACT`, inside control-flow
    bodies too) is multiplied by 1 + u*eps, u uniform in [-1, 1] per element, eps a few ulps
    of its dtype (`NOISE`), and a zero from an op that leaves its sign free (`SIGN_OF_ZERO_FREE`)
    gets a random sign: the program as another correct implementation might compute it (`fuzz.runner` uses it to tell an
    ill-conditioned program from a wrong answer)."""
    import tensorflow as tf

    unary = {
        "tanh": tf.tanh, "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "relu6": tf.nn.relu6,
        "elu": tf.nn.elu, "abs": tf.abs, "neg": tf.negative, "square": tf.square,
        "sqrt": tf.sqrt, "exp": tf.exp, "log": tf.math.log, "sin": tf.sin, "cos": tf.cos,
        "floor": tf.floor, "ceil": tf.math.ceil, "round": tf.round, "sign": tf.sign,
        "softplus": tf.nn.softplus, "erf": tf.math.erf, "reciprocal": tf.math.reciprocal,
        "clip": lambda x: tf.clip_by_value(x, -1.5, 2.0), "selu": tf.nn.selu,
        "rsqrt": tf.math.rsqrt, "log1p": tf.math.log1p,
    }
    binary = {
        "add": tf.add, "sub": tf.subtract, "mul": tf.multiply, "div": tf.divide,
        "maximum": tf.maximum, "minimum": tf.minimum,
        "squared_difference": tf.math.squared_difference, "atan2": tf.atan2,
        "floordiv": tf.math.floordiv, "floormod": tf.math.floormod, "pow": tf.pow,
    }
    compare = {name: getattr(tf.math, name) for name in COMPARE}
    reduce = {"sum": tf.reduce_sum, "mean": tf.reduce_mean, "max": tf.reduce_max,
              "min": tf.reduce_min, "prod": tf.reduce_prod}

    tags = iter(range(1 << 30))   # a distinct noise stream for each perturbed op

    def jitter(y, name):
        if noise is None or not y.dtype.is_floating or \
                name not in INEXACT | SIGN_OF_ZERO_FREE:
            return y
        u = tf.random.stateless_uniform(tf.shape(y), seed=[noise, next(tags)], minval=-1.0,
                                        maxval=1.0)
        if name in SIGN_OF_ZERO_FREE:
            return tf.where(tf.logical_and(tf.equal(y, 0), u < 0), -y, y)
        return y * tf.cast(1.0 + u * NOISE[y.dtype.name], y.dtype)

    def chain(names, x):
        for name in names:
            x = jitter(unary[name](x), name)
        return x

    def run(*tensors):
        v = list(tensors)
        for step in program["steps"]:
            op, args = step["op"], [v[a] for a in step["args"]]
            x = args[0]
            if op in unary:
                y = unary[op](x)
            elif op in ("log_softmax", "softmax"):
                y = getattr(tf.nn, op)(x, axis=step["axis"])
            elif op in binary:
                y = binary[op](x, args[1])
            elif op.startswith("where_"):
                a, b = tf.broadcast_to(x, step["shape"]), tf.broadcast_to(args[1], step["shape"])
                y = tf.where(compare[op[6:]](a, b), a, b)
            elif op.startswith("reduce_"):
                y = reduce[op[7:]](x, axis=step["axis"], keepdims=step["keepdims"])
            elif op == "matmul":
                w = tf.constant(np.array(step["weight"], np.float32).reshape(-1, step["cols"]))
                y = tf.matmul(x, w)
            elif op == "transpose":
                y = tf.transpose(x, step["perm"])
            elif op == "reshape":
                y = tf.reshape(x, step["target"])
            elif op == "concat":
                y = tf.concat([x, args[1]], step["axis"])
            elif op == "slice":
                index = [slice(None)] * len(x.shape)
                index[step["axis"]] = slice(step["begin"], step["end"], step["stride"])
                y = x[tuple(index)]
            elif op == "tile":
                y = tf.tile(x, step["multiples"])
            elif op == "expand_squeeze":
                y = tf.squeeze(tf.expand_dims(x, step["axis"]), [step["axis"]])
            elif op == "reverse":
                y = tf.reverse(x, [step["axis"]])
            elif op == "pad":
                y = tf.pad(x, step["pads"])
            elif op == "gather":
                y = tf.gather(x, tf.constant(step["indices"], tf.int32), axis=step["axis"])
            elif op == "cumsum":
                y = tf.cumsum(x, axis=step["axis"], exclusive=step["exclusive"],
                              reverse=step["reverse"])
            elif op == "argmax":
                y = tf.argmax(x, axis=step["axis"])
            elif op == "cast_roundtrip":
                y = tf.cast(x, step["target"])
            elif op == "split":
                y = tf.split(x, step["parts"], axis=step["axis"])[step["part"]]
            elif op == "unstack":
                y = tf.unstack(x, axis=step["axis"])[step["part"]]
            elif op == "cond":
                # the largest element, not a sum: a float sum's last bits depend on the order
                # of its additions (TF's own differ by thread count), and with +-1e30 among
                # the edge values its sign did (seed 20454)
                y = tf.cond(tf.reduce_max(tf.cast(x, tf.float32)) > 0,
                            lambda: chain(step["body"], x), lambda: chain(step["else_body"], x))
            elif op == "while":
                _, y = tf.while_loop(lambda k, h: k < step["count"],
                                     lambda k, h: (k + 1, chain(step["body"], h)),
                                     (tf.constant(0), x))
            elif op == "map_fn":
                y = tf.map_fn(lambda row: chain(step["body"], row) * tf.reduce_max(row), x)
            elif op == "scan":
                y = tf.scan(lambda acc, row: chain(step["body"], acc + row), x)
            else:
                raise ValueError(f"unknown step {op!r}")
            v.append(jitter(y, op))
        return [v[k] for k in program["outputs"]]

    return run
