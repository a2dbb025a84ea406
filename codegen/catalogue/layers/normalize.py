"""(x - mean) / std with non-trainable mean and std."""

from codegen.catalogue.base import Param
from codegen.shapes import ShapeError, fmt, need_float, var

PARAMS = (("mean", Param("variable")), ("std", Param("variable")))


MASK = "keeps"
"""A padding mask passes through it, as in Keras."""


def output(flow, params, variables, field):
    need_float(flow)
    for param in ("mean", "std"):
        variable = var(params, param, variables)
        if variable.trainable:
            raise ShapeError(f"expected {param} {variable.name!r} to be non-trainable")
        tail = (
            flow.shape[len(flow.shape) - len(variable.shape) :]
            if variable.shape
            else ()
        )
        if variable.shape != tail:
            raise ShapeError(
                f"expected {param} {variable.name!r} to match the trailing dimensions of "
                f"{fmt(flow.shape)}, found {fmt(variable.shape)}"
            )
    return flow


VALID = (
    """
    variables:
      m: {shape: [4], initializer: zeros, trainable: false}
      s: {shape: [4], initializer: ones, trainable: false}
    forward: {layers: [{normalize: {mean: m, std: s}}]}
    """,
)
INVALID = (
    (
        """
        variables:
          m: {shape: [4], initializer: zeros}
          s: {shape: [4], initializer: ones, trainable: false}
        forward: {layers: [{normalize: {mean: m, std: s}}]}
        """,
        "forward.layers[0].normalize: expected mean 'm' to be non-trainable",
    ),
)
