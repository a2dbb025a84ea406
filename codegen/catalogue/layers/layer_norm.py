"""layer normalization over the last axis (Keras LayerNormalization)

Each position is normalized by the mean and (biased) variance of its last
axis, then scaled by `gamma` and shifted by `beta` (each of shape [features],
optional), as Keras' `LayerNormalization(axis=-1, epsilon)` does. Like Keras,
a float32 input with epsilon at least 1.001e-5 goes through the fused batch
normalization kernel (the same numbers as Keras to the bit), any other
through `tf.nn.moments` and `tf.nn.batch_normalization`. A padding mask
(`embedding` with `mask_zero`) passes through unused, as in Keras.
"""

from codegen.catalogue.base import Param
from codegen.catalogue.layers.group_norm import last_axis, norm_from_keras

PARAMS = (
    ("gamma", Param("variable", None)),
    ("beta", Param("variable", None)),
    ("epsilon", Param("positive", 0.001)),
)

FUSED_EPSILON = 1.001e-5
"""Keras' fused path needs an epsilon at least this large (cuDNN's minimum)."""


MASK = "keeps"
"""A padding mask passes through it, as in Keras."""


def output(flow, params, variables, field):
    last_axis(flow, params, variables)
    return flow


def data(params, flow, context):
    """Keras' choice of path, the shape to restore and the names of the temporaries."""
    rank = len(flow.shape)
    fused = flow.dtype == "float32" and float(params["epsilon"]) >= FUSED_EPSILON
    return {
        "fused": fused,
        "restored": "[" + ", ".join(str(d) for d in (-1, *flow.shape[1:])) + "]",
        "width": flow.shape[-1],
        "axes": f"[{rank - 1}]",
        "mean": None if fused else context.name("mean"),
        "variance": None if fused else context.name("variance"),
    }


KERAS = ("LayerNormalization",)


def from_keras(layer, reader):
    return norm_from_keras(layer, reader, "layer_norm")


VALID = (
    """
    variables:
      g: {shape: [4], initializer: ones}
      b: {shape: [4], initializer: zeros}
    forward: {layers: [{layer_norm: {gamma: g, beta: b}}]}
    """,
    """
    inputs:
      x: {dtype: float64, shape: [null, 3, 4]}
      y: {dtype: float64, shape: [null, 3, 4]}
    variables:
      g: {shape: [4], dtype: float64, initializer: ones}
    forward: {layers: [{layer_norm: {gamma: g, epsilon: 1.0e-6}}]}
    """,
    """
    inputs:
      x: {dtype: float32, shape: [null, 3, 4]}
      y: {dtype: float32, shape: [null, 3, 4]}
    forward: {layers: [layer_norm]}
    """,
    """
    inputs:
      x: {dtype: int64, shape: [null, 3]}
      y: {dtype: float32, shape: [null, 3, 4]}
    variables:
      t: {shape: [10, 4], initializer: {random_uniform: {seed: 1}}}
    forward: {layers: [{embedding: {table: t, mask_zero: true}}, layer_norm]}
    """,
)
INVALID = (
    (
        """
        variables:
          g: {shape: [4, 1], initializer: ones}
        forward: {layers: [{layer_norm: {gamma: g}}]}
        """,
        "forward.layers[0].layer_norm: expected gamma 'g' of shape [4], found [4, 1]",
    ),
    (
        """
        inputs:
          x: {dtype: float16, shape: [null, 4]}
          y: {dtype: float16, shape: [null, 4]}
        forward: {layers: [{layer_norm: {epsilon: 1.0e-9}}]}
        """,
        "forward.layers[0].layer_norm: expected epsilon above 0 in float16 (the input's dtype), found 1e-09, which float16 rounds to 0.0",
    ),
)
