"""mean of squared differences."""

from codegen.catalogue.losses import L2, PROBE, float_label, same_shape

PARAMS = (L2,)
label_problem = float_label
output_problem = same_shape

VALID = (
    PROBE.format(
        dtype="float32", shape="[null, 2]", width=2, loss="mean_squared_error"
    ),
)
INVALID = (
    (
        PROBE.format(
            dtype="float32", shape="[null, 3]", width=2, loss="mean_squared_error"
        ),
        "loss.mean_squared_error: expected the layers' output shape to equal the label shape [null, 3], found [null, 2]",
    ),
)
