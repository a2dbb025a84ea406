"""an LSTM bias as Keras' `unit_forget_bias` starts it: ones in the forget gate's block.

For an `lstm` bias of shape [4*units] (gates i, f, c, o): zeros, except the
second block of `units` entries, which is ones, as Keras' LSTM initialises
its bias by default.
"""

from codegen.shapes import ShapeError


def check(variable):
    if len(variable.shape) != 1 or variable.shape[0] % 4:
        raise ShapeError(
            f"expected an LSTM bias of shape [4*units], found shape {list(variable.shape)}"
        )


def data(variable):
    return {"units": variable.shape[0] // 4}


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 3, 2]}
      y: {dtype: float32, shape: [null, 4]}
    variables:
      k: {shape: [2, 16], initializer: {glorot_uniform: {seed: 1}}}
      r: {shape: [4, 16], initializer: {orthogonal: {seed: 2}}}
      b: {shape: [16], initializer: unit_forget_bias}
    forward: {layers: [{lstm: {kernel: k, recurrent_kernel: r, bias: b}}]}
    """,
)
INVALID = (
    (
        """
        variables:
          k: {shape: [4, 4], initializer: zeros}
          b: {shape: [6], initializer: unit_forget_bias}
        forward: {layers: [{dense: {kernel: k, bias: b}}]}
        """,
        "variables.b.initializer.unit_forget_bias: expected an LSTM bias of shape [4*units], found shape [6]",
    ),
)
