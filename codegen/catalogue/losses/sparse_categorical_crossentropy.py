"""integer class label [batch] or [batch, 1] against class scores.

A layer stack that outputs scores per position ([batch, time, classes]) takes
one class id per position ([batch, time]); the loss is the mean over every
position, as TFF's `from_keras_model` computes it (padding included).
"""

from codegen.catalogue.base import INT_DTYPES
from codegen.catalogue.losses import FROM_LOGITS, L2, PROBE, REDUCTION, fmt

PARAMS = (FROM_LOGITS, REDUCTION, L2)


def label_problem(label, per_position=False):
    """`per_position` allows one class id per position (e.g. [null, steps] for a
    Keras model that outputs [null, steps, classes])."""
    one_per_example = len(label.shape) == 1 or label.shape[1:] == (1,)
    if label.dtype not in INT_DTYPES or not (one_per_example or per_position):
        return f"expected an integer label of shape [null] or [null, 1], found {label.dtype} {fmt(label.shape)}"
    return None


def output_problem(label, output):
    if len(output) == len(label.shape) + 1 and output[:-1] == label.shape:
        return None  # class scores per label position
    one_per_example = len(label.shape) == 1 or label.shape[1:] == (1,)
    if one_per_example:
        if len(output) != 2:
            return f"expected the layers to output class scores [null, classes], found {fmt(output)}"
        return None
    return f"expected the layers to output class scores {fmt((*label.shape, 'classes'))} for label {fmt(label.shape)}, found {fmt(output)}"


VALID = (
    PROBE.format(
        dtype="int32", shape="[null]", width=3, loss="sparse_categorical_crossentropy"
    ),
    PROBE.format(
        dtype="int64",
        shape="[null, 1]",
        width=3,
        loss="{sparse_categorical_crossentropy: {from_logits: true}}",
    ),
)
INVALID = (
    (
        PROBE.format(
            dtype="float32",
            shape="[null]",
            width=3,
            loss="sparse_categorical_crossentropy",
        ),
        "loss.sparse_categorical_crossentropy: expected an integer label of shape [null] or [null, 1], found float32 [null]",
    ),
)
