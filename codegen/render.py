"""Stage 4, render: a `Plan` -> module text, through the one Jinja environment."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from codegen.plan import Plan

_PACKAGE = Path(__file__).resolve().parent
TEMPLATE_DIRS = (_PACKAGE / "templates", _PACKAGE.parent / "templates")
"""Installed wheels carry the templates inside the package; a source checkout keeps them at the top."""


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment: strict undefined, no autoescape (output is Python)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(
            [str(path) for path in TEMPLATE_DIRS if path.is_dir()]
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(plan: Plan) -> str:
    """Render the module for `plan`."""
    return environment().get_template(plan.template).render(plan=plan)
