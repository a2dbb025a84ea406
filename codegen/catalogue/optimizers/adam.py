"""Adam.

`client_optimizer()` is TFF's `build_adam` with the same hyperparameters.
"""

from codegen.catalogue.base import Param

PARAMS = (
    ("learning_rate", Param("positive", 0.001)),
    ("beta_1", Param("rate", 0.9)),
    ("beta_2", Param("rate", 0.999)),
    ("epsilon", Param("positive", 1e-7)),
)


def data(params):
    return {}


def constants(params):
    return ("learning_rate", "beta_1", "beta_2", "epsilon")


def slots(params):
    return ("self._optimizer_step", "*self._optimizer_m", "*self._optimizer_v")


VALID = ("training: {optimizer: adam}",)
INVALID = (
    (
        "training: {optimizer: {adam: {beta_1: 1}}}",
        "training.optimizer.adam.beta_1: expected a number in [0, 1), found 1",
    ),
)
