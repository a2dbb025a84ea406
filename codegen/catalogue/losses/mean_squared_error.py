"""mean of squared differences.

With `reduction: sum`, the sum over examples of each example's mean squared
error, as Keras' `MeanSquaredError(reduction=SUM)`.
"""

from codegen.catalogue.losses import L2, PROBE, REDUCTION, float_label, same_shape

PARAMS = (REDUCTION, L2)
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
