"""reshape to [batch, -1]."""

from codegen.shapes import elements

KEEPS_MEANING = True
"""Probabilities stay probabilities through it (see the losses' from_logits check)."""


def output(flow, params, variables, field):
    return flow.to((None, elements(flow.shape[1:])))


KERAS = ("Flatten",)


def from_keras(layer, reader):
    return ["flatten"]


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 2, 2]}
      y: {dtype: float32, shape: [null, 4]}
    forward: {layers: [flatten]}
    """,
)
INVALID = ()
