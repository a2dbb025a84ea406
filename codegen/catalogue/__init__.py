"""What the spec format offers: every layer, initializer, loss, metric and optimizer.

Each entry is one module of `codegen/catalogue/<section>/`, named as a spec
writes it, holding everything about it in one place: its docstring (the
first line is its summary in the README and the JSON schema), `PARAMS`, its
rules (the shape and dtype rule of a layer, the label fit of a loss or
metric, the data its template is fed), and `VALID` / `INVALID` spec
fragments from which its tests are generated. The code it generates is the
Jinja template `templates/<section>/<name>.py.jinja`, fed plain data.

Adding an entry means adding those two files; the validator, planner, JSON
schema, README table (`python -m codegen.catalogue.docs`) and tests find it
here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from codegen.catalogue.base import (
    DTYPES,
    FLOAT_DTYPES,
    INT_DTYPES,
    INT_RANGES,
    MAX_DIMENSION,
    MAX_ELEMENTS,
    MAX_IDS,
    MAX_INPUTS,
    MAX_LAYERS,
    MAX_METRICS,
    MAX_VARIABLES,
    REQUIRED,
    SEED_RANGE,
    TRAINING_DTYPE,
    Entry,
    Param,
    float_in,
    float_max,
)

__all__ = [
    "DTYPES",
    "FLOAT_DTYPES",
    "INT_DTYPES",
    "INT_RANGES",
    "MAX_DIMENSION",
    "MAX_ELEMENTS",
    "MAX_IDS",
    "MAX_INPUTS",
    "MAX_LAYERS",
    "MAX_METRICS",
    "MAX_VARIABLES",
    "REQUIRED",
    "SEED_RANGE",
    "TRAINING_DTYPE",
    "Entry",
    "Param",
    "float_in",
    "float_max",
    "SECTIONS",
    "LAYERS",
    "INITIALIZERS",
    "LOSSES",
    "METRICS",
    "OPTIMIZERS",
    "AGGREGATIONS",
    "COUNTER_METRICS",
]

SECTIONS = ("layers", "initializers", "losses", "metrics", "optimizers")


def _load(section: str) -> dict[str, Entry]:
    """Every entry of `section`, in the order of their names."""
    folder = Path(__file__).resolve().parent / section
    names = sorted(
        path.stem for path in folder.glob("*.py") if not path.stem.startswith("_")
    )
    entries = {}
    for name in names:
        module = importlib.import_module(f"codegen.catalogue.{section}.{name}")
        summary, _, doc = (module.__doc__ or "").strip().partition("\n")
        entries[name] = Entry(
            section=section,
            name=name,
            summary=summary.strip().rstrip("."),
            doc=doc.strip(),
            params=tuple(getattr(module, "PARAMS", ())),
            template=f"{section}/{name}.py.jinja",
            valid=tuple(getattr(module, "VALID", ())),
            invalid=tuple(getattr(module, "INVALID", ())),
            module=module,
        )
    return entries


LAYERS = _load("layers")
INITIALIZERS = _load("initializers")
LOSSES = _load("losses")
METRICS = _load("metrics")
OPTIMIZERS = _load("optimizers")

BY_SECTION = {
    "layers": LAYERS,
    "initializers": INITIALIZERS,
    "losses": LOSSES,
    "metrics": METRICS,
    "optimizers": OPTIMIZERS,
}

AGGREGATIONS = ("sum", "mean", "max", "min")

COUNTER_METRICS = tuple(
    name for name, entry in METRICS.items() if entry.hook("COUNTER", False)
)
"""Metrics that count (int64, summed as they are); every other metric is a mean."""

LATER_DEFAULTS = {
    (name, param_name): param.default
    for table in (LAYERS, INITIALIZERS, LOSSES, METRICS, OPTIMIZERS)
    for name, entry in table.items()
    for param_name, param in entry.params
    if param.later
}
"""(entry, parameter) -> default of the parameters added after format 1 shipped."""
