"""The validated spec: frozen objects that carry their spec locations."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Optional, Union

from codegen.errors import Location

Shape = tuple[Optional[int], ...]


@dataclass(frozen=True)
class Choice:
    """A catalogue entry picked in the spec, with all parameters filled in."""

    kind: str
    params: Mapping[str, object]
    location: Location

    @staticmethod
    def of(kind: str, params: dict[str, object], location: Location) -> Choice:
        return Choice(kind, MappingProxyType(dict(params)), location)


@dataclass(frozen=True)
class Input:
    name: str
    dtype: str
    shape: Shape
    location: Location


@dataclass(frozen=True)
class Variable:
    name: str
    dtype: str
    shape: Shape
    initializer: Choice
    trainable: bool
    location: Location
    l2: float = dataclasses.field(default=0.0, metadata={"digest_default": True})
    """Weight of this variable's L2 term in the training loss (0: none)."""


@dataclass(frozen=True)
class LayerStack:
    """Forward computation as built-in layers applied to one feature input."""

    input: str
    layers: tuple[Choice, ...]
    output_shape: Shape


@dataclass(frozen=True)
class KerasBuilder:
    """Forward computation by a zero-argument function returning a Keras model."""

    module: str
    function: str
    location: Location


Forward = Union[LayerStack, KerasBuilder]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    aggregation: str
    location: Location
    params: Mapping[str, object] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    """The metric's parameters other than `aggregation`, defaults filled in."""


@dataclass(frozen=True)
class Spec:
    """A complete, valid model description."""

    version: int
    name: str
    description: str
    inputs: tuple[Input, ...]
    label: str
    variables: tuple[Variable, ...]
    forward: Forward
    loss: Choice
    metrics: tuple[Metric, ...]
    optimizer: Choice
    output: str | None

    @property
    def label_input(self) -> Input:
        return next(item for item in self.inputs if item.name == self.label)

    @property
    def features(self) -> tuple[Input, ...]:
        return tuple(item for item in self.inputs if item.name != self.label)


def digest(spec: Spec) -> str:
    """sha256 of what the spec means: its validated content without source positions.

    Comments, formatting and the order of keys whose order means nothing (the
    sections, the fields of an entry, the parameters of a choice) do not change
    it; the order of inputs, variables, metrics and layers does. A field
    added to the format after version 1 shipped counts only when it is not
    at its default, so specs that do not use it keep their digest.
    """
    from codegen.catalogue import LATER_DEFAULTS

    text = json.dumps(
        _canonical(spec, LATER_DEFAULTS), sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: object, later: Mapping[tuple[str, str], object]) -> object:
    if isinstance(value, Choice):
        params = {
            name: item
            for name, item in value.params.items()
            if (value.kind, name) not in later or later[(value.kind, name)] != item
        }
        return {
            "type": "Choice",
            "kind": value.kind,
            "params": _canonical(params, later),
        }
    if isinstance(value, Metric):
        params = {
            name: item
            for name, item in value.params.items()
            if (value.kind, name) not in later or later[(value.kind, name)] != item
        }
        fields = {"name": value.name, "kind": value.kind}
        fields["aggregation"] = value.aggregation
        if params:
            fields["params"] = _canonical(params, later)
        return {"type": "Metric", **fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: _canonical(getattr(value, f.name), later)
            for f in dataclasses.fields(value)
            if f.name != "location"
            and not (
                f.metadata.get("digest_default") and getattr(value, f.name) == f.default
            )
        }
        return {"type": type(value).__name__, **fields}
    if isinstance(value, Mapping):
        return {str(key): _canonical(item, later) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [_canonical(item, later) for item in value]
    return value
