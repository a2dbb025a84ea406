"""Stage 4, render: a `Plan` -> module text, through the one Jinja environment.

Catalogue entries' templates are rendered with the plain data the planner
gave their `Fragment`s: `raw(fragment)` is a template's own text (to nest it
in another), `code(fragment)` that text laid out ruff-style at the fragment's
indent (`pyfmt.reflow`).
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from codegen.plan import Fragment, Plan
from codegen.pyfmt import reflow, string

_PACKAGE = Path(__file__).resolve().parent
TEMPLATE_DIRS = (_PACKAGE / "templates", _PACKAGE.parent / "templates")
"""Installed wheels carry the templates inside the package; a source checkout keeps them at the top."""


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment: strict undefined, no autoescape (output is Python)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(
            [str(path) for path in TEMPLATE_DIRS if path.is_dir()]
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["pystr"] = string
    env.filters["pyrepr"] = repr
    env.globals["raw"] = raw
    env.globals["code"] = code
    env.globals["reflow"] = lambda text, indent: "\n".join(reflow(str(text), indent))
    return env


def raw(fragment: Fragment) -> str:
    """A fragment's template rendered with its data, as the template writes it."""
    return environment().get_template(fragment.template).render(**fragment.data)


def code(fragment: Fragment) -> str:
    """A fragment's code, laid out at its indent (no trailing newline)."""
    return "\n".join(reflow(raw(fragment), fragment.indent))


def render(plan: Plan) -> str:
    """Render the module for `plan`."""
    return environment().get_template(plan.template).render(plan=plan)
