"""Catalogue: layers, one module per entry.

A layer module holds `PARAMS`, its shape and dtype rule `output(flow, params,
variables, field)` (raising `codegen.shapes.ShapeError` with a located
message), optionally `data(params, flow, ctx)` (extra template data),
`helpers(params)` (module-level helper templates), `KERAS` and
`from_keras(layer, reader)` (how `wrapgen init --layers` reads its Keras
counterpart), flags (`PROBABILITIES`, `KEEPS_MEANING`), and `VALID` /
`INVALID` spec fragments.
"""

BATCH_NORM_REASON = (
    "batch normalization is refused: it updates its moving mean and variance inside "
    "forward_pass, and TFF's contract lets forward_pass change only local variables, "
    "never model weights (FedAvg would also average those statistics as weights); "
    "use group_norm or layer_norm, as TFF's own baseline ResNets do"
)

REFUSED = {
    "batch_norm": BATCH_NORM_REASON,
    "batch_normalization": BATCH_NORM_REASON,
    "batchnorm": BATCH_NORM_REASON,
}
"""Layer names a spec may reach for that the catalogue refuses on purpose, and why."""

REFUSED_KERAS = {"BatchNormalization": BATCH_NORM_REASON}
"""Keras layers `wrapgen init --layers` refuses on purpose, and why."""
