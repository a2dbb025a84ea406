"""What the spec format offers: every layer, initializer, loss, metric and optimizer.

Each entry lists its parameters with their type and default. The validator
reads these tables, the JSON-free docs in the README mirror them, and the
planner turns each chosen entry into code.
"""

from __future__ import annotations

import math
import struct
import sys
from dataclasses import dataclass

REQUIRED = object()
"""Default marker for a parameter that must be given."""


@dataclass(frozen=True)
class Param:
    """One parameter of a catalogue entry.

    kind is one of: "variable" (name of a declared variable), "int" (an
    int64: seeds), "positive_int" (1 to `MAX_DIMENSION`), "float",
    "positive" (x > 0), "non_negative" (x >= 0), "rate" (0 <= x < 1), "bool",
    "shape" (a list of dimensions, see `MAX_ELEMENTS`), or "enum" with
    `choices`. Every float must also be finite in the dtype the generated
    code gives it, and keep its range there (see `float_in`).
    """

    kind: str
    default: object = REQUIRED
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    """A catalogue entry: its parameters and a one-line description."""

    summary: str
    params: tuple[tuple[str, Param], ...] = ()

    def param(self, name: str) -> Param | None:
        return dict(self.params).get(name)


DTYPES = ("float16", "float32", "float64", "int32", "int64", "bool")
FLOAT_DTYPES = ("float16", "float32", "float64")
"""Float dtypes, narrowest first."""
INT_DTYPES = ("int32", "int64")

INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
"""The integers each integer dtype holds."""

SEED_RANGE = INT_RANGES["int64"]
"""Seeds: the generated code passes them to TensorFlow as int64 tensors."""

MAX_DIMENSION = 2**31 - 1
"""Largest dimension, stride, pool size or axis: an int32, the dtype of `tf.shape`
and of the shape lists the generated code writes."""

MAX_ELEMENTS = 2**31 - 1
"""Most elements in one shape written in a spec (a variable, one example of an
input, a reshape target): element counts and indices stay int32, as many
TensorFlow kernels need, and a float32 variable stays under 8 GiB."""

TRAINING_DTYPE = "float32"
"""Dtype of optimizer hyperparameters and l2 (TFF's optimizers hold them as float32)."""

_FLOAT_FORMATS = {"float16": "e", "float32": "f", "float64": "d"}


def float_in(value: float, dtype: str) -> float | None:
    """`value` rounded to float `dtype` as TensorFlow converts it; None unless finite there."""
    if not math.isfinite(value):
        return None
    form = _FLOAT_FORMATS[dtype]
    try:
        held = struct.unpack(form, struct.pack(form, value))[0]
    except OverflowError:  # float16 raises; float32 gives inf instead
        return None
    return held if math.isfinite(held) else None


def float_max(dtype: str) -> float:
    """The largest finite value of float `dtype`."""
    return {"float16": 65504.0, "float32": 3.4028234663852886e38}.get(
        dtype, sys.float_info.max
    )


MAX_INPUTS = 100
MAX_VARIABLES = 100
MAX_LAYERS = 100
MAX_METRICS = 100
"""Most entries per section. A spec at every limit, every name 40 characters
long, gives a module of about 320 KiB and 6,500 lines, within the verifier's
input limits (`codegen.pysource`), generated and verified in seconds;
`tests/test_spec_values.py` generates it."""

_PADDING = Param("enum", "SAME", ("SAME", "VALID"))

LAYERS: dict[str, Entry] = {
    "dense": Entry(
        "x @ kernel (+ bias); kernel [in, out]",
        (("kernel", Param("variable")), ("bias", Param("variable", None))),
    ),
    "conv2d": Entry(
        "2-D convolution of NHWC input; filters [height, width, in, out]",
        (
            ("filters", Param("variable")),
            ("bias", Param("variable", None)),
            ("strides", Param("positive_int", 1)),
            ("padding", _PADDING),
        ),
    ),
    "max_pool2d": Entry(
        "2-D max pooling of NHWC input",
        (
            ("size", Param("positive_int", 2)),
            ("strides", Param("positive_int", None)),
            ("padding", Param("enum", "VALID", ("SAME", "VALID"))),
        ),
    ),
    "flatten": Entry("reshape to [batch, -1]"),
    "reshape": Entry("reshape to [batch, *shape]", (("shape", Param("shape")),)),
    "relu": Entry("rectified linear unit"),
    "sigmoid": Entry("logistic sigmoid"),
    "tanh": Entry("hyperbolic tangent"),
    "softmax": Entry("softmax over the last axis"),
    "dropout": Entry(
        "drops units with probability rate when training, identity otherwise",
        (("rate", Param("rate")), ("seed", Param("int", None))),
    ),
    "embedding": Entry(
        "looks integer ids up in table [vocabulary, width]",
        (("table", Param("variable")),),
    ),
    "normalize": Entry(
        "(x - mean) / std with non-trainable mean and std",
        (("mean", Param("variable")), ("std", Param("variable"))),
    ),
    "reduce_mean": Entry(
        "mean over one non-batch axis", (("axis", Param("positive_int", 1)),)
    ),
}

INITIALIZERS: dict[str, Entry] = {
    "zeros": Entry("all zeros"),
    "ones": Entry("all ones"),
    "constant": Entry("every element the same value", (("value", Param("float")),)),
    "glorot_uniform": Entry(
        "uniform in +-sqrt(6 / (fan_in + fan_out)), seeded", (("seed", Param("int")),)
    ),
    "glorot_normal": Entry(
        "truncated normal, stddev sqrt(2 / (fan_in + fan_out)), seeded",
        (("seed", Param("int")),),
    ),
    "truncated_normal": Entry(
        "normal truncated at two standard deviations, seeded",
        (
            ("seed", Param("int")),
            ("mean", Param("float", 0.0)),
            ("stddev", Param("positive", 0.05)),
        ),
    ),
}

_L2 = ("l2", Param("non_negative", 0.0))
_FROM_LOGITS = ("from_logits", Param("bool", False))

LOSSES: dict[str, Entry] = {
    "sparse_categorical_crossentropy": Entry(
        "integer class label [batch] or [batch, 1] against class scores",
        (_FROM_LOGITS, _L2),
    ),
    "categorical_crossentropy": Entry(
        "one-hot float label [batch, classes] against class scores", (_FROM_LOGITS, _L2)
    ),
    "binary_crossentropy": Entry(
        "0/1 label (float, int or bool) against one probability per output",
        (_FROM_LOGITS, _L2),
    ),
    "mean_squared_error": Entry("mean of squared differences", (_L2,)),
}

AGGREGATIONS = ("sum", "mean", "max", "min")


def _metric(summary: str, default: str, allowed: tuple[str, ...]) -> Entry:
    return Entry(summary, (("aggregation", Param("enum", default, allowed)),))


_COUNTER = ("sum", "max", "min")
_AVERAGE = ("mean", "max", "min")

METRICS: dict[str, Entry] = {
    "num_examples": _metric("examples seen", "sum", _COUNTER),
    "num_batches": _metric("batches seen", "sum", _COUNTER),
    "loss": _metric("example-weighted mean of the batch loss", "mean", _AVERAGE),
    "sparse_categorical_accuracy": _metric(
        "share of examples whose top class is the label", "mean", _AVERAGE
    ),
    "binary_accuracy": _metric(
        "share of outputs on the label's side of 0.5", "mean", _AVERAGE
    ),
    "mean_squared_error": _metric("mean squared error per example", "mean", _AVERAGE),
    "mean_absolute_error": _metric("mean absolute error per example", "mean", _AVERAGE),
}

COUNTER_METRICS = ("num_examples", "num_batches")

OPTIMIZERS: dict[str, Entry] = {
    "sgd": Entry(
        "gradient descent, with heavy-ball momentum when momentum > 0",
        (("learning_rate", Param("positive")), ("momentum", Param("rate", 0.0))),
    ),
    "adam": Entry(
        "Adam",
        (
            ("learning_rate", Param("positive", 0.001)),
            ("beta_1", Param("rate", 0.9)),
            ("beta_2", Param("rate", 0.999)),
            ("epsilon", Param("positive", 1e-7)),
        ),
    ),
}
