"""Hypothesis strategies: valid specs built from the catalogue, and mutations of them.

`valid_specs()` draws dense networks for three tasks (classes, 0/1, regression)
with every initializer, optional normalization, dropout, hidden layers,
metrics with any allowed aggregation, both optimizers, and a description of
arbitrary text. `mutated_specs()` breaks one of them: deleted keys, wrong
types, swapped shapes, junk strings, deep nesting, or damaged YAML bytes.
"""

from __future__ import annotations

import contextlib
from typing import Any

import yaml
from hypothesis import strategies as st

from codegen.names import CLASS_NAME, SNAKE_NAME, name_problem

snake_names = st.from_regex(r"[a-z][a-z0-9_]{0,14}", fullmatch=True).filter(
    lambda n: name_problem(n, SNAKE_NAME, "a snake_case name") is None
)
class_names = st.from_regex(r"[A-Z][A-Za-z0-9]{0,20}", fullmatch=True).filter(
    lambda n: name_problem(n, CLASS_NAME, "a CamelCase class name") is None
)
seeds = st.integers(0, 2**31 - 1)
hostile_fragments = st.sampled_from(
    ['"""', "'''", "\\", "# ", "\\n", "{{", "}}", "{%", "%}", ")", "\\x00", "`"]
)
descriptions = (
    st.lists(
        st.one_of(st.text(min_size=1, max_size=20), hostile_fragments),
        min_size=1,
        max_size=8,
    )
    .map("".join)
    .filter(lambda d: bool(d.strip()) and d.isprintable() and len(d) <= 200)
)
"""One printable line (what validation allows), rich in quotes, escapes and comment marks."""


def initializers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(["zeros", "ones"]),
        st.builds(
            lambda v: {"constant": {"value": v}},
            st.floats(-1, 1, allow_nan=False).map(lambda v: round(v, 3)),
        ),
        st.builds(lambda s: {"glorot_uniform": {"seed": s}}, seeds),
        st.builds(lambda s: {"glorot_normal": {"seed": s}}, seeds),
        st.builds(
            lambda s, d: {"truncated_normal": {"seed": s, "stddev": d}},
            seeds,
            st.sampled_from([0.01, 0.05, 0.1]),
        ),
    )


@st.composite
def valid_specs(draw) -> dict[str, Any]:
    """A spec that must validate, generate, verify and compile."""
    task = draw(st.sampled_from(["classes", "binary", "regression"]))
    names = draw(st.lists(snake_names, min_size=12, max_size=12, unique=True))
    feature, label = names[0], names[1]
    width = draw(st.integers(1, 12))
    variables: dict[str, Any] = {}
    layers: list[Any] = []
    free = iter(names[2:])

    def variable(shape, **extra):
        name = next(free)
        variables[name] = {
            "shape": list(shape),
            "initializer": draw(initializers()),
            **extra,
        }
        return name

    if draw(st.booleans()):
        mean = variable([width], trainable=False)
        std = variable([width], trainable=False)
        variables[std]["initializer"] = "ones"
        layers.append({"normalize": {"mean": mean, "std": std}})
    for units in draw(st.lists(st.integers(1, 8), max_size=2)):
        dense: dict[str, Any] = {"kernel": variable([width, units])}
        if draw(st.booleans()):
            dense["bias"] = variable([units])
        layers.append({"dense": dense})
        layers.append(draw(st.sampled_from(["relu", "tanh", "sigmoid"])))
        if draw(st.booleans()):
            layers.append({"dropout": {"rate": draw(st.sampled_from([0.0, 0.1, 0.5]))}})
        width = units
    outputs = {"classes": draw(st.integers(2, 6)), "binary": 1}.get(
        task, draw(st.integers(1, 3))
    )
    layers.append(
        {"dense": {"kernel": variable([width, outputs]), "bias": variable([outputs])}}
    )
    logits = draw(st.booleans())
    aggregation = st.sampled_from(["mean", "max", "min"])
    metrics: dict[str, Any] = {"num_examples": "num_examples", "loss": "loss"}
    if task == "classes":
        label_spec = {
            "dtype": draw(st.sampled_from(["int32", "int64"])),
            "shape": [None, 1],
        }
        if not logits:
            layers.append("softmax")
        loss = {"sparse_categorical_crossentropy": {"from_logits": logits}}
        metrics["accuracy"] = {
            "sparse_categorical_accuracy": {"aggregation": draw(aggregation)}
        }
    elif task == "binary":
        label_spec = {"dtype": "float32", "shape": [None, 1]}
        if not logits:
            layers.append("sigmoid")
        loss = {"binary_crossentropy": {"from_logits": logits}}
        metrics["accuracy"] = "binary_accuracy"
    else:
        label_spec = {"dtype": "float32", "shape": [None, outputs]}
        loss = {"mean_squared_error": {"l2": draw(st.sampled_from([0.0, 0.001]))}}
        metrics["mse"] = "mean_squared_error"
        metrics["mae"] = {"mean_absolute_error": {"aggregation": draw(aggregation)}}
    if draw(st.booleans()):
        metrics["batches"] = {
            "num_batches": {"aggregation": draw(st.sampled_from(["sum", "max"]))}
        }
    optimizer = draw(
        st.one_of(
            st.builds(
                lambda lr, mo: {"sgd": {"learning_rate": lr, "momentum": mo}},
                st.sampled_from([0.01, 0.1, 0.5]),
                st.sampled_from([0.0, 0.9]),
            ),
            st.builds(
                lambda lr: {"adam": {"learning_rate": lr}},
                st.sampled_from([0.001, 0.01]),
            ),
        )
    )
    return {
        "wrapgen": 1,
        "model": {"name": draw(class_names), "description": draw(descriptions)},
        "inputs": {
            feature: {
                "dtype": "float32",
                "shape": [None, width_of(layers, variables, feature)],
            },
            label: label_spec,
        },
        "label": label,
        "variables": variables,
        "forward": {"layers": layers},
        "loss": loss,
        "metrics": metrics,
        "training": {"optimizer": optimizer},
    }


def width_of(layers: list[Any], variables: dict[str, Any], _feature: str) -> int:
    """The input width the first layer expects."""
    first = layers[0]
    if "normalize" in first:
        return variables[first["normalize"]["mean"]]["shape"][0]
    return variables[first["dense"]["kernel"]]["shape"][0]


def dump(spec: Any) -> bytes:
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True).encode("utf-8")


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "{{ 7 * 7 }}",
            '"""',
            "\\",
            "# x",
            "__import__('os')",
            "\u202e",
        ]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


@st.composite
def mutated_specs(draw) -> bytes:
    """The YAML bytes of a valid spec with one to three random defects."""
    spec = draw(valid_specs())
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(spec)
        path = draw(st.sampled_from(paths))
        parent = _get(spec, path[:-1])
        key = path[-1]
        action = draw(
            st.sampled_from(
                ["delete", "junk", "nest", "swap", "rename", "duplicate_list"]
            )
        )
        if action == "delete":
            del parent[key]
        elif action == "junk":
            parent[key] = draw(JUNK)
        elif action == "nest":
            value = parent[key]
            for _ in range(draw(st.integers(1, 60))):
                value = [value]
            parent[key] = value
        elif action == "swap":
            other = draw(st.sampled_from(paths))
            with contextlib.suppress(KeyError, IndexError, TypeError):
                parent[key] = _get(spec, other)
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = parent.pop(key)
        elif action == "duplicate_list" and isinstance(parent, list):
            parent.append(parent[key])
    raw = dump(spec)
    if draw(st.booleans()):
        return raw
    position = draw(st.integers(0, len(raw)))
    damage = draw(
        st.one_of(
            st.binary(min_size=1, max_size=4),
            st.sampled_from(
                [
                    b"\t",
                    b"[",
                    b"{",
                    b"&a",
                    b"*a",
                    b"!!python/object:os.system ",
                    b"---\n",
                    b": ",
                    b"\xff",
                ]
            ),
        )
    )
    if draw(st.booleans()):
        return raw[:position] + damage + raw[position:]
    return raw[:position]
