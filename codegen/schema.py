"""A JSON Schema (draft 2020-12) of the spec format, built from the catalogue.

Editors use it for completion and hover docs (`wrapgen schema`); it checks
structure, names and catalogue choices. Cross-field rules (shapes through the
layers, the label against the loss, every variable used) are the validator's.
"""

from __future__ import annotations

import builtins
import keyword
import sys
from collections.abc import Mapping

from codegen import catalogue
from codegen.catalogue import REQUIRED, Entry, Param
from codegen.names import (
    MAX_METRIC_NAME_LENGTH,
    MAX_NAME_LENGTH,
    RESERVED_MEMBERS,
    RESERVED_MODULE_NAMES,
    RESERVED_TFF_ATTRIBUTES,
)

SCHEMA_ID = "https://wrapgen.dev/schema/spec-1.json"

_RESERVED = sorted(
    {
        *keyword.kwlist,
        *keyword.softkwlist,
        *(name for name in dir(builtins) if name.isidentifier()),
        *RESERVED_MEMBERS,
        *RESERVED_MODULE_NAMES,
        *RESERVED_TFF_ATTRIBUTES,
    }
)


def _name(pattern: str, what: str) -> dict:
    return {
        "type": "string",
        "pattern": pattern,
        "maxLength": MAX_NAME_LENGTH,
        "not": {"enum": _RESERVED},
        "description": what,
    }


SNAKE = _name(r"^[a-z][a-z0-9_]*$", "snake_case name")
CAMEL = _name(r"^[A-Z][A-Za-z0-9]*$", "CamelCase class name")
POSITIVE_INT = {"type": "integer", "minimum": 1, "maximum": catalogue.MAX_DIMENSION}
SHAPE = {"type": "array", "items": POSITIVE_INT}
_FINITE = sys.float_info.max
"""Bounds every float by float64's: the schema sees infinity (not NaN); the
validator checks the dtype each number ends up in."""

_PARAM_KINDS: Mapping[str, dict] = {
    "variable": {"type": "string", "description": "name of a declared variable"},
    "int": {
        "type": "integer",
        "minimum": catalogue.SEED_RANGE[0],
        "maximum": catalogue.SEED_RANGE[1],
    },
    "positive_int": POSITIVE_INT,
    "float": {"type": "number", "minimum": -_FINITE, "maximum": _FINITE},
    "positive": {"type": "number", "exclusiveMinimum": 0, "maximum": _FINITE},
    "non_negative": {"type": "number", "minimum": 0, "maximum": _FINITE},
    "rate": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
    "bool": {"type": "boolean"},
    "shape": SHAPE,
    "layers": {
        "type": "array",
        "items": {"$ref": "#/$defs/layer"},
        "minItems": 1,
        "description": "a sub-stack of layers",
    },
    "ids": {
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "maximum": catalogue.SEED_RANGE[1]},
        "uniqueItems": True,
        "maxItems": catalogue.MAX_IDS,
    },
}


def _param(param: Param) -> dict:
    if param.kind == "enum":
        return {"enum": list(param.choices)}
    schema = dict(_PARAM_KINDS[param.kind])
    if param.default is not REQUIRED and param.default is not None:
        schema["default"] = param.default
    return schema


def _choice(table: Mapping[str, Entry], what: str) -> dict:
    """A catalogue pick: a bare name (when nothing is required) or `{name: {params}}`."""
    bare = [
        name
        for name, entry in table.items()
        if all(p.default is not REQUIRED for _, p in entry.params)
    ]
    mapped = {}
    for name, entry in table.items():
        required = [n for n, p in entry.params if p.default is REQUIRED]
        params = {
            "type": "object",
            "properties": {n: _param(p) for n, p in entry.params},
            "additionalProperties": False,
            "required": required,
            "description": entry.summary,
        }
        mapped[name] = params if required else {"anyOf": [params, {"type": "null"}]}
    options = [
        {
            "type": "object",
            "properties": mapped,
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
        }
    ]
    if bare:
        options.insert(0, {"enum": bare})
    names = ", ".join(table)
    return {"oneOf": options, "description": f"{what}: {names}"}


def spec_schema() -> dict:
    """The JSON Schema of format version 1."""
    input_schema = {
        "type": "object",
        "properties": {
            "dtype": {"enum": list(catalogue.DTYPES)},
            "shape": {
                "type": "array",
                "prefixItems": [{"type": "null", "description": "the batch dimension"}],
                "items": POSITIVE_INT,
                "minItems": 1,
            },
        },
        "required": ["dtype", "shape"],
        "additionalProperties": False,
    }
    variable_schema = {
        "type": "object",
        "properties": {
            "shape": SHAPE,
            "dtype": {"enum": list(catalogue.DTYPES), "default": "float32"},
            "initializer": _choice(catalogue.INITIALIZERS, "initializer"),
            "trainable": {"type": "boolean", "default": True},
            "l2": {
                "type": "number",
                "minimum": 0,
                "maximum": _FINITE,
                "default": 0.0,
                "description": "adds l2 * sum(variable ** 2) to the training loss "
                "(a Keras l2 regularizer); trainable float variables only",
            },
        },
        "required": ["shape", "initializer"],
        "additionalProperties": False,
    }
    layers = {
        "type": "object",
        "properties": {
            "layers": {
                "type": "array",
                "items": {"$ref": "#/$defs/layer"},
                "minItems": 1,
                "maxItems": catalogue.MAX_LAYERS,
            },
            "input": {
                "type": "string",
                "description": "the feature input the layers read",
            },
        },
        "required": ["layers"],
        "additionalProperties": False,
    }
    keras = {
        "type": "object",
        "properties": {
            "keras": {
                "type": "string",
                "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$",
                "description": "module:function returning an uncompiled Keras model",
            }
        },
        "required": ["keras"],
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "wrapgen spec",
        "description": "A federated model for wrapgen to turn into a TFF module (format 1).",
        "type": "object",
        "properties": {
            "wrapgen": {"const": 1, "description": "spec format version"},
            "model": {
                "type": "object",
                "properties": {
                    "name": CAMEL,
                    "description": {"type": "string", "minLength": 1, "maxLength": 200},
                },
                "required": ["name", "description"],
                "additionalProperties": False,
            },
            "output": {
                "type": "string",
                "pattern": r"^(?!/)(?!.*(^|/)\.\.(/|$))[^:]*\.py$",
                "description": "module path relative to the spec's folder",
            },
            "inputs": {
                "type": "object",
                "propertyNames": SNAKE,
                "additionalProperties": input_schema,
                "minProperties": 2,
                "maxProperties": catalogue.MAX_INPUTS,
            },
            "label": {"type": "string", "description": "the input that is the label"},
            "variables": {
                "type": "object",
                "propertyNames": SNAKE,
                "additionalProperties": variable_schema,
                "maxProperties": catalogue.MAX_VARIABLES,
            },
            "forward": {"oneOf": [layers, keras]},
            "loss": _choice(catalogue.LOSSES, "loss"),
            "metrics": {
                "type": "object",
                "propertyNames": {**SNAKE, "maxLength": MAX_METRIC_NAME_LENGTH},
                "additionalProperties": _choice(catalogue.METRICS, "metric"),
                "minProperties": 1,
                "maxProperties": catalogue.MAX_METRICS,
            },
            "training": {
                "type": "object",
                "properties": {"optimizer": _choice(catalogue.OPTIMIZERS, "optimizer")},
                "required": ["optimizer"],
                "additionalProperties": False,
            },
        },
        "$defs": {"layer": _choice(catalogue.LAYERS, "layer")},
        "required": [
            "wrapgen",
            "model",
            "inputs",
            "label",
            "forward",
            "loss",
            "metrics",
            "training",
        ],
        "additionalProperties": False,
    }
