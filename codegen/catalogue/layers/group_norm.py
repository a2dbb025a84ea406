"""group normalization over the last axis (Keras GroupNormalization)

The last axis (channels) is split into `groups` groups of equal size; each
example is normalized by the mean and (biased) variance of each group, taken
over every other non-batch axis and the channels of the group, then scaled by
`gamma` and shifted by `beta` (each of shape [channels], optional), as Keras'
`GroupNormalization(groups, axis=-1, epsilon)` does. The moments are Keras'
own (`tf.nn.weighted_moments` with unit weights), so outputs and gradients are
Keras' to the bit.
"""

from codegen.catalogue.base import Param, float_in
from codegen.shapes import ShapeError, fmt, need_float, need_shape, var

PARAMS = (
    ("gamma", Param("variable", None)),
    ("beta", Param("variable", None)),
    ("groups", Param("positive_int", 32)),
    ("epsilon", Param("positive", 0.001)),
)


def output(flow, params, variables, field):
    channels = last_axis(flow, params, variables)
    groups = int(params["groups"])
    if channels % groups:
        raise ShapeError(
            f"expected channels (the last dimension, {channels}) divisible by groups "
            f"{groups}, found shape {fmt(flow.shape)}"
        )
    if flow.masked:
        raise ShapeError(
            "expected an input without a padding mask (Keras' GroupNormalization "
            "cannot broadcast a [batch, time] mask to it), found a masked input"
        )
    return flow


def last_axis(flow, params, variables) -> int:
    """The checks group_norm and layer_norm share; the number of channels."""
    if len(flow.shape) < 2:
        raise ShapeError(
            f"expected an input of rank 2 or more, found shape {fmt(flow.shape)}"
        )
    need_float(flow)
    channels = flow.shape[-1]
    for role in ("gamma", "beta"):
        if params.get(role) is None:
            continue
        variable = var(params, role, variables)
        need_shape(variable, (channels,), role)
        if variable.dtype != flow.dtype:
            raise ShapeError(
                f"expected {role} {variable.name!r} of dtype {flow.dtype} (the input's), "
                f"found {variable.dtype}"
            )
    epsilon = float(params["epsilon"])
    held = float_in(epsilon, flow.dtype)
    if held is None or held <= 0.0:
        raise ShapeError(
            f"expected epsilon above 0 in {flow.dtype} (the input's dtype), found "
            f"{epsilon!r}, which {flow.dtype} rounds to {held!r}"
        )
    return int(channels)


def data(params, flow, context):
    """The grouped shape, the axes of the moments and the names of the temporaries.

    Every dimension but the batch's is static, so both shapes are written out.
    """
    rank = len(flow.shape)
    channels = int(flow.shape[-1])
    groups = int(params["groups"])
    per_group = channels // groups
    inner = flow.shape[1:-1]
    grouped = _dims((-1, *inner, groups, per_group))
    restored = _dims((-1, *inner, channels))
    return {
        "grouped": grouped,
        "restored": restored,
        "axes": _dims((*range(1, rank - 1), rank)),
        "weights": _dims((groups, per_group)),
        "mean": context.name("mean"),
        "variance": context.name("variance"),
    }


def _dims(dims) -> str:
    return "[" + ", ".join(str(dim) for dim in dims) + "]"


KERAS = ("GroupNormalization",)


def norm_from_keras(layer, reader, kind, extra=None):
    """A Keras normalization layer over the last axis as `kind`: its gamma and
    beta (when it scales and centers), its epsilon and the `extra` parameters."""
    axis = layer.axis if isinstance(layer.axis, int) else tuple(layer.axis)
    last = len(layer.input_shape) - 1
    if axis not in (-1, (-1,), last, (last,)):
        raise reader.refuse(layer, "only normalization over the last axis")
    item = {}
    if layer.scale:
        item["gamma"] = reader.variable(
            layer,
            layer.gamma,
            layer.gamma_initializer,
            layer.gamma_regularizer,
            "gamma",
        )
    if layer.center:
        item["beta"] = reader.variable(
            layer, layer.beta, layer.beta_initializer, layer.beta_regularizer, "beta"
        )
    item.update(extra or {})
    item["epsilon"] = float(layer.epsilon)
    return [{kind: item}]


def from_keras(layer, reader):
    """A Keras `GroupNormalization` over the last axis (channels last)."""
    return norm_from_keras(layer, reader, "group_norm", {"groups": int(layer.groups)})


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 4, 4, 8]}
      y: {dtype: float32, shape: [null, 4, 4, 8]}
    variables:
      g: {shape: [8], initializer: ones}
      b: {shape: [8], initializer: zeros}
    forward: {layers: [{group_norm: {gamma: g, beta: b, groups: 4}}]}
    """,
    "forward: {layers: [{group_norm: {groups: 2, epsilon: 1.0e-5}}]}",
    """
    inputs:
      x: {dtype: float32, shape: [null, 5, 6]}
      y: {dtype: float32, shape: [null, 5, 6]}
    variables:
      g: {shape: [6], initializer: ones}
    forward: {layers: [{group_norm: {gamma: g, groups: 3}}]}
    """,
)
INVALID = (
    (
        "forward: {layers: [{group_norm: {groups: 3}}]}",
        "forward.layers[0].group_norm: expected channels (the last dimension, 4) divisible by groups 3, found shape [null, 4]",
    ),
    (
        """
        variables:
          g: {shape: [8], initializer: ones}
        forward: {layers: [{group_norm: {gamma: g, groups: 2}}]}
        """,
        "forward.layers[0].group_norm: expected gamma 'g' of shape [4], found [8]",
    ),
    (
        """
        variables:
          b: {shape: [4], dtype: float64, initializer: zeros}
        forward: {layers: [{group_norm: {beta: b, groups: 2}}]}
        """,
        "forward.layers[0].group_norm: expected beta 'b' of dtype float32 (the input's), found float64",
    ),
    (
        """
        inputs:
          x: {dtype: float32, shape: [null]}
          y: {dtype: float32, shape: [null]}
        forward: {layers: [{group_norm: {groups: 1}}]}
        """,
        "forward.layers[0].group_norm: expected an input of rank 2 or more, found shape [null]",
    ),
    (
        """
        inputs:
          x: {dtype: int64, shape: [null, 3]}
          y: {dtype: float32, shape: [null, 3, 4]}
        variables:
          t: {shape: [10, 4], initializer: zeros}
        forward: {layers: [{embedding: {table: t, mask_zero: true}}, {group_norm: {groups: 2}}]}
        """,
        "forward.layers[1].group_norm: expected an input without a padding mask (Keras' GroupNormalization cannot broadcast a [batch, time] mask to it), found a masked input",
    ),
)
