"""Catalogue: initializers, one module per entry.

Each template writes one expression: the variable's initial value. Random
initializers are stateless and seeded (`seed=[seed, 0]`), so every build of a
model starts from the same weights; their scales follow Keras' formulas.
"""

import math

TRUNCATED_NORMAL_CORRECTION = 0.87962566103423978
"""Stddev of a unit normal truncated at two standard deviations (as Keras divides by)."""


def fans(shape: tuple) -> tuple[int, int]:
    """Keras' fan_in and fan_out: [in, out] kernels, HWIO filters (receptive field times channels)."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def variance_scaling(shape: tuple, scale: float, mode: str) -> float:
    """Keras' VarianceScaling variance: scale / fan (fan_in, fan_out or their mean)."""
    fan_in, fan_out = fans(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[
        mode
    ]
    return scale / max(1.0, fan)


def uniform(shape: tuple, scale: float, mode: str) -> dict:
    """Template data of a variance-scaling uniform initializer: its limit."""
    return {"limit": repr(math.sqrt(3.0 * variance_scaling(shape, scale, mode)))}


def truncated(shape: tuple, scale: float, mode: str) -> dict:
    """Template data of a variance-scaling truncated normal initializer."""
    stddev = (
        math.sqrt(variance_scaling(shape, scale, mode)) / TRUNCATED_NORMAL_CORRECTION
    )
    return {"mean": repr(0.0), "stddev": repr(stddev)}


def normal_params():
    """Parameters of the normal initializers: seed, mean, stddev (Keras' defaults)."""
    from codegen.catalogue.base import Param

    return (
        ("seed", Param("int")),
        ("mean", Param("float", 0.0)),
        ("stddev", Param("positive", 0.05)),
    )


def normal_data(variable) -> dict:
    """Template data of a normal initializer: its mean and stddev."""
    params = variable.initializer.params
    return {
        "mean": repr(float(params["mean"])),
        "stddev": repr(float(params["stddev"])),
    }


FLOAT_VALID = """
variables:
  k: {{shape: [4, 4], initializer: {init}}}
forward: {{layers: [{{dense: {{kernel: k}}}}]}}
"""
"""A spec fragment using initializer `init` on a float [4, 4] kernel."""
