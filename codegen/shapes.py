"""Static shape checking of a layer stack, layer by layer, at generation time."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from codegen.catalogue import FLOAT_DTYPES, INT_DTYPES
from codegen.errors import Problem
from codegen.spec import Choice, Shape, Variable


@dataclass(frozen=True)
class Flow:
    """The tensor flowing between layers: static shape and dtype."""

    shape: Shape
    dtype: str


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
            flow = _RULES[layer.kind](flow, layer, variables)
        except _ShapeError as exc:
            return None, [Problem(layer.location, where, str(exc))]
    return flow, []


class _ShapeError(Exception):
    pass


def _var(layer: Choice, param: str, variables: Mapping[str, Variable]) -> Variable:
    return variables[str(layer.params[param])]


def _need_rank(flow: Flow, rank: int, what: str) -> None:
    if len(flow.shape) != rank:
        raise _ShapeError(
            f"expected {what} input of rank {rank}, found shape {fmt(flow.shape)}"
        )


def _need_float(flow: Flow) -> None:
    if flow.dtype not in FLOAT_DTYPES:
        raise _ShapeError(f"expected a float input, found {flow.dtype}")


def _bias(layer: Choice, variables: Mapping[str, Variable], width: int) -> None:
    if layer.params.get("bias") is None:
        return
    bias = _var(layer, "bias", variables)
    if bias.shape != (width,):
        raise _ShapeError(
            f"expected bias {bias.name!r} of shape [{width}], found {fmt(bias.shape)}"
        )


def _dense(flow: Flow, layer: Choice, variables: Mapping[str, Variable]) -> Flow:
    _need_rank(flow, 2, "a [batch, features]")
    _need_float(flow)
    kernel = _var(layer, "kernel", variables)
    if len(kernel.shape) != 2 or kernel.shape[0] != flow.shape[1]:
        raise _ShapeError(
            f"expected kernel {kernel.name!r} of shape [{flow.shape[1]}, units] for input "
            f"{fmt(flow.shape)}, found {fmt(kernel.shape)}"
        )
    _bias(layer, variables, kernel.shape[1])
    return Flow((None, kernel.shape[1]), flow.dtype)


def _spatial(size: int, window: int, stride: int, padding: str) -> int:
    if padding == "SAME":
        return math.ceil(size / stride)
    if size < window:
        raise _ShapeError(
            f"expected spatial size at least {window} for VALID padding, found {size}"
        )
    return math.ceil((size - window + 1) / stride)


def _conv2d(flow: Flow, layer: Choice, variables: Mapping[str, Variable]) -> Flow:
    _need_rank(flow, 4, "a [batch, height, width, channels]")
    _need_float(flow)
    filters = _var(layer, "filters", variables)
    channels = flow.shape[3]
    if len(filters.shape) != 4 or filters.shape[2] != channels:
        raise _ShapeError(
            f"expected filters {filters.name!r} of shape [height, width, {channels}, out] for "
            f"input {fmt(flow.shape)}, found {fmt(filters.shape)}"
        )
    stride, padding = int(layer.params["strides"]), str(layer.params["padding"])
    height = _spatial(int(flow.shape[1]), int(filters.shape[0]), stride, padding)
    width = _spatial(int(flow.shape[2]), int(filters.shape[1]), stride, padding)
    _bias(layer, variables, int(filters.shape[3]))
    return Flow((None, height, width, filters.shape[3]), flow.dtype)


def _max_pool2d(flow: Flow, layer: Choice, variables: Mapping[str, Variable]) -> Flow:
    _need_rank(flow, 4, "a [batch, height, width, channels]")
    size = int(layer.params["size"])
    stride = int(layer.params["strides"] or size)
    padding = str(layer.params["padding"])
    height = _spatial(int(flow.shape[1]), size, stride, padding)
    width = _spatial(int(flow.shape[2]), size, stride, padding)
    return Flow((None, height, width, flow.shape[3]), flow.dtype)


def _flatten(flow: Flow, layer: Choice, variables: Mapping[str, Variable]) -> Flow:
    return Flow((None, math.prod(int(dim) for dim in flow.shape[1:])), flow.dtype)


def _reshape(flow: Flow, layer: Choice, variables: Mapping[str, Variable]) -> Flow:
    target = tuple(int(dim) for dim in layer.params["shape"])  # type: ignore[union-attr]
    have = math.prod(int(dim) for dim in flow.shape[1:])
    if math.prod(target) != have:
        raise _ShapeError(
            f"expected a shape with {have} elements per example to match input "
            f"{fmt(flow.shape)}, found {fmt(target)}"
        )
    return Flow((None, *target), flow.dtype)


def _elementwise(flow: Flow, layer: Choice, variables: Mapping[str, Variable]) -> Flow:
    _need_float(flow)
    return flow


def _embedding(flow: Flow, layer: Choice, variables: Mapping[str, Variable]) -> Flow:
    if flow.dtype not in INT_DTYPES:
        raise _ShapeError(f"expected integer ids as input, found {flow.dtype}")
    table = _var(layer, "table", variables)
    if len(table.shape) != 2:
        raise _ShapeError(
            f"expected table {table.name!r} of shape [vocabulary, width], found {fmt(table.shape)}"
        )
    return Flow((*flow.shape, table.shape[1]), table.dtype)


def _normalize(flow: Flow, layer: Choice, variables: Mapping[str, Variable]) -> Flow:
    _need_float(flow)
    for param in ("mean", "std"):
        variable = _var(layer, param, variables)
        if variable.trainable:
            raise _ShapeError(f"expected {param} {variable.name!r} to be non-trainable")
        tail = (
            flow.shape[len(flow.shape) - len(variable.shape) :]
            if variable.shape
            else ()
        )
        if variable.shape != tail:
            raise _ShapeError(
                f"expected {param} {variable.name!r} to match the trailing dimensions of "
                f"{fmt(flow.shape)}, found {fmt(variable.shape)}"
            )
    return flow


def _reduce_mean(flow: Flow, layer: Choice, variables: Mapping[str, Variable]) -> Flow:
    axis = int(layer.params["axis"])  # type: ignore[arg-type]
    if axis >= len(flow.shape):
        raise _ShapeError(
            f"expected an axis below {len(flow.shape)} for input {fmt(flow.shape)}"
        )
    _need_float(flow)
    return Flow(flow.shape[:axis] + flow.shape[axis + 1 :], flow.dtype)


_RULES = {
    "dense": _dense,
    "conv2d": _conv2d,
    "max_pool2d": _max_pool2d,
    "flatten": _flatten,
    "reshape": _reshape,
    "relu": _elementwise,
    "sigmoid": _elementwise,
    "tanh": _elementwise,
    "softmax": _elementwise,
    "dropout": _elementwise,
    "embedding": _embedding,
    "normalize": _normalize,
    "reduce_mean": _reduce_mean,
}
