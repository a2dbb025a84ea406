"""drops units with probability rate when training, identity otherwise.

Without a seed this is Keras' stateful dropout (`tf.nn.dropout`): masks differ
on every call and no run repeats. With a seed the mask is stateless, keyed on
the seed and a fingerprint of the layer's input, so a seeded model trains the
same way every time it runs.
"""

from codegen.catalogue.base import Param, float_in
from codegen.shapes import ShapeError, need_float

PARAMS = (("rate", Param("rate")), ("seed", Param("int", None)))
KEEPS_MEANING = True


MASK = "keeps"
"""A padding mask passes through it, as in Keras."""


def output(flow, params, variables, field):
    need_float(flow)
    held = float_in(float(params["rate"]), flow.dtype)
    if held is None or held >= 1.0:
        raise ShapeError(
            f"expected a number in [0, 1), found {params['rate']!r}, which {flow.dtype} "
            f"rounds to {held!r}",
            f"{field}.rate",
        )
    return flow


def helpers(params):
    """Module-level functions the generated code needs."""
    return ("layers/_dropout_seed.py.jinja",) if params["seed"] is not None else ()


KERAS = ("Dropout",)


def from_keras(layer, reader):
    item = {"rate": float(layer.rate)}
    if layer.seed is not None:
        item["seed"] = int(layer.seed)
    return [{"dropout": item}]


VALID = (
    "forward: {layers: [{dropout: {rate: 0.5}}]}",
    "forward: {layers: [{dropout: {rate: 0.25, seed: 3}}]}",
)
INVALID = (
    (
        """
        inputs:
          x: {dtype: float16, shape: [null, 4]}
          y: {dtype: float16, shape: [null, 4]}
        forward: {layers: [{residual: {layers: [{dropout: {rate: 0.99999}}]}}]}
        """,
        "forward.layers[0].residual.layers[0].dropout.rate: expected a number in [0, 1), found 0.99999, which float16 rounds to 1.0",
    ),
    (
        "forward: {layers: [{dropout: {rate: 1.0}}]}",
        "forward.layers[0].dropout.rate: expected a number in [0, 1), found 1.0",
    ),
)
