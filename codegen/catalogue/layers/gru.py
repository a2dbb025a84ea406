"""gated recurrent unit over [batch, time, features], as Keras' GRU

Keras 2.14 semantics with `reset_after=True`: gates z, r, h in the column
blocks of kernel [features, 3*units] and recurrent_kernel [units, 3*units];
bias [2, 3*units] holds the input bias (row 0) and the recurrent bias (row 1),
and the reset gate applies after the recurrent matmul. Sigmoid gates, tanh
activation; the state starts at zeros. The output is [batch, time, units]
with `return_sequences`, else the last output [batch, units]. Over a masked
input (`embedding` with `mask_zero`) a masked step carries state and output
forward (zeros before the first valid step); the mask passes on with
`return_sequences` and is consumed otherwise. The generated code steps
through time with `tf.scan`, for any batch size.
"""

from codegen.catalogue.base import Param
from codegen.catalogue.layers.lstm import recurrent_from_keras, recurrent_output

PARAMS = (
    ("kernel", Param("variable")),
    ("recurrent_kernel", Param("variable")),
    ("bias", Param("variable", None)),
    ("return_sequences", Param("bool", False)),
)


MASK = "own"
"""Its rule decides what becomes of a padding mask."""


def output(flow, params, variables, field):
    return recurrent_output(
        flow, params, variables, 3, lambda units: (2, 3 * units), "[2, 3*units]"
    )


def data(params, flow, ctx):
    return {"masked": flow.masked}


def helpers(params):
    """Module-level functions the generated code needs."""
    return ("layers/_gru.py.jinja",)


KERAS = ("GRU",)


def from_keras(layer, reader):
    """A Keras `GRU` with reset_after (its default)."""
    cell = layer.cell
    return recurrent_from_keras(
        layer,
        reader,
        "gru",
        cell.bias_initializer,
        cell.reset_after,
        ", reset_after=True",
    )


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 5, 4]}
      y: {dtype: float32, shape: [null, 4]}
    variables:
      k: {shape: [4, 12], initializer: {glorot_uniform: {seed: 1}}}
      r: {shape: [4, 12], initializer: {orthogonal: {seed: 2}}}
      b: {shape: [2, 12], initializer: zeros}
    forward: {layers: [{gru: {kernel: k, recurrent_kernel: r, bias: b}}]}
    """,
    """
    inputs:
      x: {dtype: int32, shape: [null, 5]}
      y: {dtype: float32, shape: [null, 5, 4]}
    variables:
      t: {shape: [10, 3], initializer: {random_uniform: {seed: 1}}}
      k: {shape: [3, 12], initializer: {glorot_uniform: {seed: 2}}}
      r: {shape: [4, 12], initializer: {orthogonal: {seed: 3}}}
    forward:
      layers:
        - embedding: {table: t, mask_zero: true}
        - gru: {kernel: k, recurrent_kernel: r, return_sequences: true}
    """,
)
_GRU = "forward: {layers: [{gru: {kernel: k, recurrent_kernel: r, bias: b}}]}"
INVALID = (
    (
        """
        variables:
          k: {shape: [4, 12], initializer: zeros}
          r: {shape: [4, 12], initializer: zeros}
        forward: {layers: [{gru: {kernel: k, recurrent_kernel: r}}]}
        """,
        "forward.layers[0].gru: expected a [batch, time, features] input of rank 3, found shape [null, 4]",
    ),
    (
        f"""
        inputs:
          x: {{dtype: float32, shape: [null, 5, 4]}}
          y: {{dtype: float32, shape: [null, 4]}}
        variables:
          k: {{shape: [4, 16], initializer: zeros}}
          r: {{shape: [4, 12], initializer: zeros}}
          b: {{shape: [2, 12], initializer: zeros}}
        {_GRU}
        """,
        "forward.layers[0].gru: expected kernel 'k' of shape [4, 3*units] for input [null, 5, 4], found [4, 16]",
    ),
    (
        f"""
        inputs:
          x: {{dtype: float32, shape: [null, 5, 4]}}
          y: {{dtype: float32, shape: [null, 4]}}
        variables:
          k: {{shape: [4, 12], initializer: zeros}}
          r: {{shape: [4, 16], initializer: zeros}}
          b: {{shape: [2, 12], initializer: zeros}}
        {_GRU}
        """,
        "forward.layers[0].gru: expected recurrent_kernel 'r' of shape [4, 12] (units 4 from kernel 'k' [4, 12]), found [4, 16]",
    ),
    (
        f"""
        inputs:
          x: {{dtype: float32, shape: [null, 5, 4]}}
          y: {{dtype: float32, shape: [null, 4]}}
        variables:
          k: {{shape: [4, 12], initializer: zeros}}
          r: {{shape: [4, 12], initializer: zeros}}
          b: {{shape: [12], initializer: zeros}}
        {_GRU}
        """,
        "forward.layers[0].gru: expected bias 'b' of shape [2, 12] ([2, 3*units]), found [12]",
    ),
)
