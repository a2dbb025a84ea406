"""Static shape checking of a layer stack, layer by layer, at generation time.

Each layer's own rule is the `output` function of its catalogue module; this
module walks a stack through them and holds the helpers those rules share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from codegen import catalogue
from codegen.catalogue.base import FLOAT_DTYPES, INT_DTYPES
from codegen.errors import Problem
from codegen.spec import Choice, Shape, Variable


@dataclass(frozen=True)
class Flow:
    """The tensor flowing between layers: static shape, dtype, and whether a mask
    (which time steps are padding) travels with it."""

    shape: Shape
    dtype: str
    masked: bool = False

    def to(self, shape: Shape, dtype: str | None = None) -> Flow:
        """The flow after a layer that changes the shape (and maybe the dtype)."""
        return replace(self, shape=shape, dtype=dtype or self.dtype)


def fmt(shape: Shape) -> str:
    return "[" + ", ".join("null" if dim is None else str(dim) for dim in shape) + "]"


def check_stack(
    start: Flow,
    layers: tuple[Choice, ...],
    variables: Mapping[str, Variable],
    field: str,
) -> tuple[Flow | None, list[Problem]]:
    """Walk the stack; return the output flow (None after an error) and the problems."""
    flow = start
    for index, layer in enumerate(layers):
        where = f"{field}[{index}].{layer.kind}"
        try:
            flow = apply(layer.kind, flow, layer.params, variables, where)
        except ShapeError as exc:
            return None, [
                Problem(exc.location or layer.location, exc.field or where, str(exc))
            ]
    return flow, []


def apply(
    kind: str,
    flow: Flow,
    params: Mapping[str, object],
    variables: Mapping[str, Variable],
    field: str,
) -> Flow:
    """The flow after layer `kind`: its shape rule, then its `MASK` behaviour.

    As in Keras, a padding mask passes through a layer only when the layer
    says so: `MASK = "keeps"` (dense, dropout, activations, layer_norm),
    `"own"` when its rule decides (embedding makes one, lstm and gru consume
    or pass it, residual joins its paths'); every other layer drops it.
    """
    entry = catalogue.LAYERS[kind]
    out = entry.hook("output")(flow, params, variables, field)
    mask = entry.hook("MASK", "drops")
    if mask == "keeps":
        return replace(out, masked=flow.masked)
    if mask == "own":
        return out
    return replace(out, masked=False)


class ShapeError(Exception):
    """A layer that does not fit its input; `field`/`location` when not the layer's own."""

    def __init__(self, message: str, field: str | None = None, location=None) -> None:
        super().__init__(message)
        self.field = field
        self.location = location


def var(
    params: Mapping[str, object], name: str, variables: Mapping[str, Variable]
) -> Variable:
    return variables[str(params[name])]


def need_rank(flow: Flow, rank: int, what: str) -> None:
    if len(flow.shape) != rank:
        raise ShapeError(
            f"expected {what} input of rank {rank}, found shape {fmt(flow.shape)}"
        )


def need_float(flow: Flow) -> None:
    if flow.dtype not in FLOAT_DTYPES:
        raise ShapeError(f"expected a float input, found {flow.dtype}")


def need_int(flow: Flow) -> None:
    if flow.dtype not in INT_DTYPES:
        raise ShapeError(f"expected integer ids as input, found {flow.dtype}")


def need_shape(variable: Variable, shape: Shape, role: str, layout: str = "") -> None:
    """`variable` must have exactly `shape` (a None matches any dimension)."""
    fits = len(variable.shape) == len(shape) and all(
        want is None or want == have for want, have in zip(shape, variable.shape)
    )
    if not fits:
        want = layout or fmt(shape)
        raise ShapeError(
            f"expected {role} {variable.name!r} of shape {want}, found {fmt(variable.shape)}"
        )


def bias(
    params: Mapping[str, object], variables: Mapping[str, Variable], width: int
) -> None:
    if params.get("bias") is None:
        return
    need_shape(var(params, "bias", variables), (width,), "bias")


def spatial(size: int, window: int, stride: int, padding: str) -> int:
    if padding == "SAME":
        return math.ceil(size / stride)
    if size < window:
        raise ShapeError(
            f"expected spatial size at least {window} for VALID padding, found {size}"
        )
    return math.ceil((size - window + 1) / stride)


def elements(shape: Shape) -> int:
    return math.prod(int(dim) for dim in shape)
