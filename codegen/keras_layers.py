"""Read a built Keras model into a layer spec (`wrapgen init --from-keras ... --layers`).

Each catalogue layer that has a Keras counterpart says so in its own module:
`KERAS` names the Keras layer classes it reads and `from_keras(layer, reader)`
returns the spec items for one of them, asking the `Reader` for variable names
(which records each weight's shape, initializer and L2 regularizer) and for
the activation that follows. Functional models are read as a chain from the
input to the output; an `Add` of two paths that start at the same tensor
becomes a `residual` block. Anything else is refused, naming the layer.

This module imports TensorFlow only through the model it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from codegen import catalogue
from codegen.errors import UsageError
from codegen.names import SNAKE_NAME, name_problem

_SKIPPED = ("InputLayer",)
"""Keras layers that compute nothing."""

_ACTIVATIONS = {
    "relu": "relu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "softmax": "softmax",
}
"""Keras activations that are catalogue layers; `linear` adds no layer."""


@dataclass
class Reader:
    """Collects a model's variables while its layers are read."""

    model: object
    builder: str
    variables: dict[int, dict] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)

    def refuse(self, layer, why: str) -> UsageError:
        return UsageError(
            f"--from-keras {self.builder} --layers: layer {layer.name!r} "
            f"({type(layer).__name__}): {why}; the spec can wrap the model as it is "
            "with `wrapgen init --from-keras` (no --layers: forward: keras)"
        )

    def variable(
        self, layer, weight, initializer=None, regularizer=None, role=None
    ) -> str:
        """The spec name of Keras `weight`, declared with its shape, initializer and L2."""
        key = id(weight)
        if key in self.variables:
            return self.variables[key]["name"]
        base = role or weight.name.split("/")[-1].split(":")[0]
        name = self._name(f"{layer.name}_{base}")
        self.variables[key] = {
            "name": name,
            "weight": weight,
            "shape": [int(dim) for dim in weight.shape],
            "dtype": weight.dtype.name,
            "trainable": bool(weight.trainable),
            "initializer": self._initializer(layer, initializer),
            "l2": self._l2(layer, regularizer),
        }
        return name

    @staticmethod
    def activation_name(function) -> str:
        from codegen.keras_spec import activation_name

        return activation_name(function)

    def activation(self, layer) -> list:
        """The catalogue layer for `layer.activation` (none for linear)."""
        from codegen.keras_spec import activation_name

        name = activation_name(getattr(layer, "activation", None))
        if name in ("linear", ""):
            return []
        if name not in _ACTIVATIONS:
            raise self.refuse(layer, f"activation {name!r} is not in the catalogue")
        return [_ACTIVATIONS[name]]

    def _name(self, text: str) -> str:
        name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
        name = re.sub(r"_+", "_", name)[:36] or "weight"
        if not name[0].isalpha():
            name = f"w_{name}"[:36]
        candidate, count = name, 1
        while candidate in self.names or name_problem(candidate, SNAKE_NAME, "a name"):
            count += 1
            candidate = f"{name}_{count}"
        self.names.add(candidate)
        return candidate

    def _initializer(self, layer, initializer) -> str:
        """The catalogue initializer (YAML flow text) matching a Keras initializer."""
        if initializer is None:
            return "zeros"
        if initializer == "unit_forget_bias":
            return "unit_forget_bias"
        kind = type(initializer).__name__
        config = initializer.get_config() if hasattr(initializer, "get_config") else {}
        seeded = {
            "GlorotUniform": "glorot_uniform",
            "GlorotNormal": "glorot_normal",
            "HeNormal": "he_normal",
            "HeUniform": "he_uniform",
            "LecunNormal": "lecun_normal",
            "LecunUniform": "lecun_uniform",
        }
        if kind in seeded:
            return f"{{{seeded[kind]}: {{seed: {{seed}}}}}}"
        if kind in ("Zeros", "Ones"):
            return kind.lower()
        if kind == "Constant":
            return f"{{constant: {{value: {float(config.get('value', 0.0))!r}}}}}"
        if kind == "Orthogonal":
            gain = float(config.get("gain", 1.0))
            return f"{{orthogonal: {{seed: {{seed}}, gain: {gain!r}}}}}"
        if kind in ("RandomNormal", "TruncatedNormal"):
            entry = "random_normal" if kind == "RandomNormal" else "truncated_normal"
            mean, stddev = float(config["mean"]), float(config["stddev"])
            return (
                f"{{{entry}: {{seed: {{seed}}, mean: {mean!r}, stddev: {stddev!r}}}}}"
            )
        if kind == "RandomUniform":
            low, high = float(config["minval"]), float(config["maxval"])
            return f"{{random_uniform: {{seed: {{seed}}, minval: {low!r}, maxval: {high!r}}}}}"
        raise self.refuse(layer, f"initializer {kind} is not in the catalogue")

    def _l2(self, layer, regularizer) -> float:
        if regularizer is None:
            return 0.0
        config = regularizer.get_config() if hasattr(regularizer, "get_config") else {}
        if type(regularizer).__name__ in ("L2", "L1L2") and not config.get("l1"):
            return _shortest_float32(float(config.get("l2", 0.0)))
        raise self.refuse(
            layer, f"regularizer {type(regularizer).__name__} is not an L2"
        )


def _readers() -> dict[str, catalogue.Entry]:
    """Keras layer class name -> the catalogue entry that reads it."""
    out = {}
    for entry in catalogue.LAYERS.values():
        for name in entry.hook("KERAS", ()):
            out[name] = entry
    return out


def read_layers(model, builder: str) -> tuple[list, list[dict]]:
    """(spec layer items, variables in the order of `model.weights`) for `model`."""
    reader = Reader(model, builder)
    items = _chain(model, reader)
    order = {id(weight): index for index, weight in enumerate(model.weights)}
    missing = [w.name for w in model.weights if id(w) not in reader.variables]
    if missing:
        raise UsageError(
            f"--from-keras {builder} --layers: weights {missing} are not used by any "
            "layer the catalogue can read"
        )
    variables = sorted(reader.variables.values(), key=lambda v: order[id(v["weight"])])
    seeds = 0
    for variable in variables:  # random initializers seeded 1, 2, ... in weight order
        if "{seed}" in variable["initializer"]:
            seeds += 1
            variable["initializer"] = variable["initializer"].replace(
                "{seed}", str(seeds)
            )
    return items, variables


def _chain(model, reader: Reader) -> list:
    """The model's layers from its input to its output as spec items."""
    if len(model.inputs) != 1:
        raise UsageError(
            f"--from-keras {reader.builder} --layers: expected one input, found "
            f"{len(model.inputs)} (a layer spec reads one feature)"
        )
    inbound = _inbound_map(model)
    output = (
        model.layers[-1] if type(model).__name__ == "Sequential" else _output(model)
    )
    start = _first(model)
    return _path(output, start, inbound, reader)


def _output(model):
    history = model.outputs[0]._keras_history  # noqa: SLF001 - Keras' graph record
    return history.layer


def _first(model):
    """The layer that makes the model's input (its InputLayer), or None for Sequential."""
    history = getattr(model.inputs[0], "_keras_history", None)
    return history.layer if history is not None else None


def _inbound_map(model) -> dict[int, list]:
    """Layer id -> the layers its (single) call reads."""
    out = {}
    layers = list(model.layers)
    if type(model).__name__ == "Sequential":
        for previous, layer in zip([None, *layers], layers):
            out[id(layer)] = [previous] if previous is not None else []
        return out
    for layer in layers:
        nodes = [n for n in layer.inbound_nodes if n.inbound_layers or n.input_tensors]
        nodes = [n for n in nodes if _in_model(n, layers)]
        if len(nodes) > 1:
            raise UsageError(f"layer {layer.name!r} is called more than once (shared)")
        inbound = nodes[0].inbound_layers if nodes else []
        out[id(layer)] = (
            list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]
        )
    return out


def _in_model(node, layers) -> bool:
    inbound = node.inbound_layers
    inbound = list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]
    ids = {id(layer) for layer in layers}
    return all(id(layer) in ids for layer in inbound)


def _path(end, start, inbound, reader: Reader) -> list:
    """Spec items of the layers after `start` up to and including `end`."""
    reversed_items: list = []
    layer = end
    while layer is not None and layer is not start:
        name = type(layer).__name__
        parents = inbound.get(id(layer), [])
        if name in ("Add",):
            if len(parents) != 2 or parents[0] is parents[1]:
                raise reader.refuse(layer, "an add of other than two different paths")
            block_input = _common(parents[0], parents[1], start, inbound, reader, layer)
            first = _path(parents[0], block_input, inbound, reader)
            second = _path(parents[1], block_input, inbound, reader)
            main, shortcut = (
                (first, second) if len(first) >= len(second) else (second, first)
            )
            block = {"layers": main}
            if shortcut:
                block["shortcut"] = shortcut
            reversed_items.append({"residual": block})
            layer = block_input
            continue
        if len(parents) > 1:
            raise reader.refuse(
                layer, "it joins paths in a way the catalogue cannot write"
            )
        if name not in _SKIPPED:
            reversed_items.extend(reversed(_read(layer, reader)))
        layer = parents[0] if parents else None
    return list(reversed(reversed_items))


def _spine(layer, stop, inbound, reader: Reader) -> list:
    """Layers met walking back from `layer` (an add jumps to its block's input)."""
    seen = []
    while layer is not None and layer is not stop:
        seen.append(layer)
        parents = inbound.get(id(layer), [])
        if type(layer).__name__ == "Add" and len(parents) == 2:
            layer = _common(parents[0], parents[1], stop, inbound, reader, layer)
        else:
            layer = parents[0] if len(parents) == 1 else None
    seen.append(layer)
    return seen


def _common(first, second, stop, inbound, reader, add):
    """The latest layer both paths into `add` start from."""
    ancestors = {
        id(layer) for layer in _spine(first, stop, inbound, reader) if layer is not None
    }
    for layer in _spine(second, stop, inbound, reader):
        if layer is None or id(layer) in ancestors:
            return layer
    raise reader.refuse(add, "its two paths do not start at the same tensor")


def _read(layer, reader: Reader) -> list:
    from codegen.catalogue.layers import REFUSED_KERAS

    if type(layer).__name__ in REFUSED_KERAS:
        raise reader.refuse(layer, REFUSED_KERAS[type(layer).__name__])
    entry = _readers().get(type(layer).__name__)
    if entry is None:
        raise reader.refuse(layer, "the catalogue has no layer for it")
    return list(entry.hook("from_keras")(layer, reader))


def _shortest_float32(value: float) -> float:
    """The shortest decimal that float32 rounds to the same value (Keras keeps its
    regularization factors as float32: 1e-4 is stored as 9.9999997e-05)."""
    import numpy as np

    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))
