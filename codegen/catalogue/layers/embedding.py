"""looks integer ids up in table [vocabulary, width]."""

from codegen.catalogue.base import Param
from codegen.shapes import ShapeError, fmt, need_int, var

PARAMS = (("table", Param("variable")),)


def output(flow, params, variables, field):
    need_int(flow)
    table = var(params, "table", variables)
    if len(table.shape) != 2:
        raise ShapeError(
            f"expected table {table.name!r} of shape [vocabulary, width], found {fmt(table.shape)}"
        )
    return flow.to((*flow.shape, table.shape[1]), table.dtype)


VALID = (
    """
    inputs:
      x: {dtype: int32, shape: [null, 3]}
      y: {dtype: float32, shape: [null, 3, 4]}
    variables:
      t: {shape: [10, 4], initializer: {random_uniform: {seed: 1}}}
    forward: {layers: [{embedding: {table: t}}]}
    """,
)
INVALID = (
    (
        """
        variables:
          t: {shape: [10, 4], initializer: zeros}
        forward: {layers: [{embedding: {table: t}}]}
        """,
        "forward.layers[0].embedding: expected integer ids as input, found float32",
    ),
)
