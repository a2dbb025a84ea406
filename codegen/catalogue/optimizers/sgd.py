"""gradient descent, with heavy-ball momentum when momentum > 0.

`client_optimizer()` is TFF's `build_sgdm` with the same hyperparameters.
"""

from codegen.catalogue.base import Param

PARAMS = (("learning_rate", Param("positive")), ("momentum", Param("rate", 0.0)))


def data(params):
    return {"momentum": float(params["momentum"]) > 0}


def constants(params):
    """The hyperparameters the generated module defines as constants."""
    return (
        ("learning_rate", "momentum")
        if data(params)["momentum"]
        else ("learning_rate",)
    )


def slots(params):
    """The optimizer's slot variables, listed among the local variables."""
    return ("*self._optimizer_velocity",) if data(params)["momentum"] else ()


VALID = (
    "training: {optimizer: {sgd: {learning_rate: 0.1}}}",
    "training: {optimizer: {sgd: {learning_rate: 0.1, momentum: 0.9}}}",
)
INVALID = (
    (
        "training: {optimizer: {sgd: {learning_rate: 0}}}",
        "training.optimizer.sgd.learning_rate: expected a number above 0, found 0",
    ),
)
