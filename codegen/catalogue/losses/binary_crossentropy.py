"""0/1 label (float, int or bool) against one probability per output."""

from codegen.catalogue.losses import (
    BINARY_LABEL_DTYPES,
    FROM_LOGITS,
    L2,
    PROBE,
    REDUCTION,
    same_shape,
)

PARAMS = (FROM_LOGITS, REDUCTION, L2)
output_problem = same_shape


def label_problem(label, per_position=False):
    if label.dtype not in BINARY_LABEL_DTYPES:
        return f"expected a 0/1 label (float, integer or bool), found {label.dtype}"
    return None


VALID = (
    PROBE.format(
        dtype="float32", shape="[null, 2]", width=2, loss="binary_crossentropy"
    ),
    PROBE.format(
        dtype="bool",
        shape="[null, 2]",
        width=2,
        loss="{binary_crossentropy: {from_logits: true}}",
    ),
)
INVALID = (
    (
        PROBE.format(
            dtype="float32", shape="[null, 3]", width=2, loss="binary_crossentropy"
        ),
        "loss.binary_crossentropy: expected the layers' output shape to equal the label shape [null, 3], found [null, 2]",
    ),
)
