"""drops units with probability rate when training, identity otherwise.

Without a seed this is Keras' stateful dropout (`tf.nn.dropout`): masks differ
on every call and no run repeats. With a seed the mask is stateless, keyed on
the seed and a fingerprint of the layer's input, so a seeded model trains the
same way every time it runs.
"""

from codegen.catalogue.base import Param
from codegen.shapes import need_float

PARAMS = (("rate", Param("rate")), ("seed", Param("int", None)))
KEEPS_MEANING = True


def output(flow, params, variables, field):
    need_float(flow)
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
        "forward: {layers: [{dropout: {rate: 1.0}}]}",
        "forward.layers[0].dropout.rate: expected a number in [0, 1), found 1.0",
    ),
)
