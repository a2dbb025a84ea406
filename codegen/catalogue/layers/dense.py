"""x @ kernel (+ bias); kernel [in, out].

As Keras' `Dense`: the kernel maps the last axis, so a `[batch, time, features]`
input gives `[batch, time, out]`.
"""

from codegen.catalogue.base import Param
from codegen.shapes import ShapeError, bias, fmt, need_float, var

PARAMS = (("kernel", Param("variable")), ("bias", Param("variable", None)))


MASK = "keeps"
"""A padding mask passes through it, as in Keras."""


def output(flow, params, variables, field):
    if len(flow.shape) < 2:
        raise ShapeError(
            f"expected a [batch, ..., features] input of rank 2 or more, found shape {fmt(flow.shape)}"
        )
    need_float(flow)
    kernel = var(params, "kernel", variables)
    if len(kernel.shape) != 2 or kernel.shape[0] != flow.shape[-1]:
        raise ShapeError(
            f"expected kernel {kernel.name!r} of shape [{flow.shape[-1]}, units] for input "
            f"{fmt(flow.shape)}, found {fmt(kernel.shape)}"
        )
    bias(params, variables, kernel.shape[1])
    return flow.to((*flow.shape[:-1], kernel.shape[1]))


def data(params, flow, ctx):
    return {"rank": len(flow.shape)}


KERAS = ("Dense",)


def from_keras(layer, reader):
    """A Keras `Dense`: this layer, then its activation."""
    item = {
        "kernel": reader.variable(
            layer,
            layer.kernel,
            layer.kernel_initializer,
            layer.kernel_regularizer,
            "kernel",
        )
    }
    if layer.use_bias:
        item["bias"] = reader.variable(
            layer, layer.bias, layer.bias_initializer, layer.bias_regularizer, "bias"
        )
    return [{"dense": item}, *reader.activation(layer)]


VALID = (
    """
    variables:
      k: {shape: [4, 4], initializer: {glorot_uniform: {seed: 1}}}
      b: {shape: [4], initializer: zeros}
    forward: {layers: [{dense: {kernel: k, bias: b}}]}
    """,
)
INVALID = (
    (
        """
        variables:
          k: {shape: [3, 4], initializer: zeros}
        forward: {layers: [{dense: {kernel: k}}]}
        """,
        "forward.layers[0].dense: expected kernel 'k' of shape [4, units] for input [null, 4], found [3, 4]",
    ),
    (
        """
        variables:
          k: {shape: [4, 4], initializer: zeros}
          b: {shape: [3], initializer: zeros}
        forward: {layers: [{dense: {kernel: k, bias: b}}]}
        """,
        "forward.layers[0].dense: expected bias 'b' of shape [4], found [3]",
    ),
)
