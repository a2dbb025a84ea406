"""one-hot float label [batch, classes] against class scores."""

from codegen.catalogue.losses import (
    FROM_LOGITS,
    L2,
    PROBE,
    REDUCTION,
    float_label,
    same_shape,
)

PARAMS = (FROM_LOGITS, REDUCTION, L2)
label_problem = float_label
output_problem = same_shape

VALID = (
    PROBE.format(
        dtype="float32", shape="[null, 3]", width=3, loss="categorical_crossentropy"
    ),
)
INVALID = (
    (
        PROBE.format(
            dtype="int32", shape="[null, 3]", width=3, loss="categorical_crossentropy"
        ),
        "loss.categorical_crossentropy: expected a float label, found int32",
    ),
)
