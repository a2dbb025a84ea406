"""Spec fragments of the catalogue entries, merged into a small complete spec."""

from __future__ import annotations

import textwrap

import yaml

from codegen import catalogue

BASE = {
    "wrapgen": 1,
    "model": {"name": "Probe", "description": "One catalogue entry on its own."},
    "inputs": {
        "x": {"dtype": "float32", "shape": [None, 4]},
        "y": {"dtype": "float32", "shape": [None, 4]},
    },
    "label": "y",
    "forward": {"layers": ["relu"]},
    "loss": "mean_squared_error",
    "metrics": {"loss": "loss", "num_examples": "num_examples"},
    "training": {"optimizer": {"sgd": {"learning_rate": 0.1}}},
}


def spec_text(fragment: str) -> str:
    """The base spec with the fragment's top-level sections in place of its own."""
    spec = dict(BASE)
    spec.update(yaml.safe_load(textwrap.dedent(fragment)))
    return yaml.safe_dump(spec, sort_keys=False)


def cases(kind: str) -> list[tuple[str, str, object]]:
    """(test id, spec text, expected) for every VALID (expected None) or INVALID fragment."""
    out = []
    for section in catalogue.SECTIONS:
        for name, entry in catalogue.BY_SECTION[section].items():
            if kind == "valid":
                for index, fragment in enumerate(entry.valid):
                    out.append(
                        (f"{section}.{name}[{index}]", spec_text(fragment), None)
                    )
            else:
                for index, (fragment, message) in enumerate(entry.invalid):
                    out.append(
                        (f"{section}.{name}[{index}]", spec_text(fragment), message)
                    )
    return out
