"""looks integer ids up in table [vocabulary, width].

As Keras' `Embedding`. With `mask_zero` the id 0 is padding: the layer also
writes `mask = ids != 0`, and the recurrent layers after it (`lstm`, `gru`)
carry their state and output forward over the masked steps, as Keras does.
"""

from dataclasses import replace

from codegen.catalogue.base import Param
from codegen.shapes import ShapeError, fmt, need_int, var

PARAMS = (
    ("table", Param("variable")),
    ("mask_zero", Param("bool", False, later=True)),
)


MASK = "own"
"""Its rule decides what becomes of a padding mask."""


def output(flow, params, variables, field):
    need_int(flow)
    table = var(params, "table", variables)
    if len(table.shape) != 2:
        raise ShapeError(
            f"expected table {table.name!r} of shape [vocabulary, width], found {fmt(table.shape)}"
        )
    out = flow.to((*flow.shape, table.shape[1]), table.dtype)
    if not params.get("mask_zero"):
        return replace(out, masked=False)
    if len(flow.shape) != 2:
        raise ShapeError(
            "expected ids of shape [batch, time] with mask_zero (its mask marks padded "
            f"time steps), found shape {fmt(flow.shape)}"
        )
    return replace(out, masked=True)


KERAS = ("Embedding",)


def from_keras(layer, reader):
    """A Keras `Embedding` (mask_zero kept)."""
    table = reader.variable(
        layer,
        layer.embeddings,
        layer.embeddings_initializer,
        layer.embeddings_regularizer,
        "table",
    )
    item = {"table": table}
    if layer.mask_zero:
        item["mask_zero"] = True
    return [{"embedding": item}]


VALID = (
    """
    inputs:
      x: {dtype: int32, shape: [null, 3]}
      y: {dtype: float32, shape: [null, 3, 4]}
    variables:
      t: {shape: [10, 4], initializer: {random_uniform: {seed: 1}}}
    forward: {layers: [{embedding: {table: t}}]}
    """,
    """
    inputs:
      x: {dtype: int64, shape: [null, 3]}
      y: {dtype: float32, shape: [null, 3, 4]}
    variables:
      t: {shape: [10, 4], initializer: {random_uniform: {seed: 1}}}
    forward: {layers: [{embedding: {table: t, mask_zero: true}}]}
    """,
)
INVALID = (
    (
        """
        inputs:
          x: {dtype: int32, shape: [null]}
          y: {dtype: float32, shape: [null, 4]}
        variables:
          t: {shape: [10, 4], initializer: zeros}
        forward: {layers: [{embedding: {table: t, mask_zero: true}}]}
        """,
        "forward.layers[0].embedding: expected ids of shape [batch, time] with mask_zero (its mask marks padded time steps), found shape [null]",
    ),
    (
        """
        variables:
          t: {shape: [10, 4], initializer: zeros}
        forward: {layers: [{embedding: {table: t}}]}
        """,
        "forward.layers[0].embedding: expected integer ids as input, found float32",
    ),
)
