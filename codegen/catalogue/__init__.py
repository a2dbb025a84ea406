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
import os
from collections.abc import Iterator, Mapping, Set

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
    "Section",
    "LAYERS",
    "INITIALIZERS",
    "LOSSES",
    "METRICS",
    "OPTIMIZERS",
    "AGGREGATIONS",
    "COUNTER_METRICS",
]

SECTIONS = ("layers", "initializers", "losses", "metrics", "optimizers")


class Section(Mapping[str, Entry]):
    """The entries of one section by name, in name order.

    The names come from the folder's listing; an entry's module is imported
    the first time the entry is looked up, so generating a spec imports the
    few entries it uses (iterating over the values imports them all).
    """

    def __init__(self, section: str) -> None:
        self.section = section
        folder = os.path.join(os.path.dirname(__file__), section)
        self._names = tuple(
            sorted(
                name[:-3]
                for name in os.listdir(folder)
                if name.endswith(".py") and not name.startswith("_")
            )
        )
        self._known = frozenset(self._names)
        self._entries: dict[str, Entry] = {}

    def __getitem__(self, name: str) -> Entry:
        entry = self._entries.get(name)
        if entry is None:
            if name not in self._known:
                raise KeyError(name)
            entry = self._entries[name] = _load(self.section, name)
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Section({self.section!r}: {', '.join(self._names)})"


def _load(section: str, name: str) -> Entry:
    """The entry `name` of `section`, read from its module."""
    module = importlib.import_module(f"codegen.catalogue.{section}.{name}")
    summary, _, doc = (module.__doc__ or "").strip().partition("\n")
    return Entry(
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


LAYERS = Section("layers")
INITIALIZERS = Section("initializers")
LOSSES = Section("losses")
METRICS = Section("metrics")
OPTIMIZERS = Section("optimizers")

BY_SECTION = {
    "layers": LAYERS,
    "initializers": INITIALIZERS,
    "losses": LOSSES,
    "metrics": METRICS,
    "optimizers": OPTIMIZERS,
}

AGGREGATIONS = ("sum", "mean", "max", "min")


class _Counters(Set[str]):
    """The metrics that count (their module sets `COUNTER`), asked one name at a time."""

    def __contains__(self, name: object) -> bool:
        return name in METRICS and bool(METRICS[name].hook("COUNTER", False))  # type: ignore[index]

    def __iter__(self) -> Iterator[str]:
        return (name for name in METRICS if name in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


COUNTER_METRICS: Set[str] = _Counters()
"""Metrics that count (int64, summed as they are); every other metric is a mean."""


class _LaterDefaults(Mapping[tuple[str, str], object]):
    """(entry, parameter) -> default, for the parameters marked `later=True`.

    Looked up one entry at a time; an entry name in several sections takes
    the last section's (in `SECTIONS` order).
    """

    def __getitem__(self, key: tuple[str, str]) -> object:
        kind, param_name = key
        found, default = False, None
        for table in BY_SECTION.values():
            if kind in table:
                param = table[kind].param(param_name)
                if param is not None and param.later:
                    found, default = True, param.default
        if not found:
            raise KeyError(key)
        return default

    def __iter__(self) -> Iterator[tuple[str, str]]:
        keys = {
            (name, param_name)
            for table in BY_SECTION.values()
            for name, entry in table.items()
            for param_name, param in entry.params
            if param.later
        }
        return iter(sorted(keys))

    def __len__(self) -> int:
        return sum(1 for _ in self)


LATER_DEFAULTS: Mapping[tuple[str, str], object] = _LaterDefaults()
"""(entry, parameter) -> default of the parameters added after format 1 shipped."""
