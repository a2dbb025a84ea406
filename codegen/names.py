"""Rules for names that a spec puts into the generated module."""

from __future__ import annotations

import builtins
import keyword
import re

SNAKE_NAME = re.compile(r"^[a-z][a-z0-9_]*\Z")
CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*\Z")
DOTTED_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")

MAX_NAME_LENGTH = 40

RESERVED_MEMBERS = frozenset(
    {
        "trainable_variables",
        "non_trainable_variables",
        "local_variables",
        "input_spec",
        "forward_pass",
        "predict_on_batch",
        "train_on_batch",
        "report_local_outputs",
        "report_local_unfinalized_metrics",
        "metric_finalizers",
        "reset_metrics",
        "federated_output_computation",
        "weights",
    }
)
"""Members of the generated class; a variable with one of these names would shadow it."""

RESERVED_MODULE_NAMES = frozenset(
    {
        "tf",
        "tff",
        "collections",
        "Mapping",
        "model_fn",
        "client_optimizer",
        "metrics_aggregator",
    }
)
"""Module-level names of the generated module."""

RESERVED_TFF_ATTRIBUTES = frozenset({"comp", "type_signature"})
"""Attributes of a placed TFF value; a metric with such a name could not be read from one."""


def name_problem(name: str, pattern: re.Pattern[str], what: str) -> str | None:
    """Why `name` cannot be used in generated code, or None when it can."""
    if not pattern.match(name):
        return f"expected {what}, found {name!r}"
    if len(name) > MAX_NAME_LENGTH:
        return f"expected a name of at most {MAX_NAME_LENGTH} characters, found {len(name)}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"expected a name that is not a Python keyword, found {name!r}"
    if hasattr(builtins, name):
        return f"expected a name that is not a Python builtin, found {name!r}"
    if name in RESERVED_MEMBERS | RESERVED_MODULE_NAMES | RESERVED_TFF_ATTRIBUTES:
        return f"expected a name not used by the generated module, found {name!r}"
    return None
