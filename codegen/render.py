"""Stage 4, render: a `Plan` -> module text, through the one Jinja environment.

Catalogue entries' templates are rendered with the plain data the planner
gave their `Fragment`s: `raw(fragment)` is a template's own text (to nest it
in another), `code(fragment)` that text laid out ruff-style at the fragment's
indent (`pyfmt.reflow`).
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path

import jinja2

from codegen.plan import Fragment, Plan
from codegen.pyfmt import reflow, string

_PACKAGE = Path(__file__).resolve().parent
TEMPLATE_DIRS = (_PACKAGE / "templates", _PACKAGE.parent / "templates")
"""Installed wheels carry the templates inside the package; a source checkout keeps them at the top."""


BYTECODE_DIR = _PACKAGE / "__pycache__" / "jinja"
"""Compiled templates, kept beside Python's own bytecode of this package."""


class PackageBytecodeCache(jinja2.BytecodeCache):
    """Jinja's compiled templates, cached the way Python caches the package's bytecode.

    A cold `wrapgen` would otherwise compile every template it renders (a
    quarter of the generation time of a small spec). Entries live in the
    package's own `__pycache__`, are keyed by template path and checked
    against the template's source (Jinja's checksum) and the Python and
    Jinja versions, so a stale or foreign entry is simply recompiled. Like
    Python, nothing is written when bytecode writing is off
    (`PYTHONDONTWRITEBYTECODE`) or the folder is not writable; the rendered
    text never depends on the cache.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, bucket: jinja2.bccache.Bucket) -> Path:
        return self.directory / f"{bucket.key}.cache"

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            data = self._path(bucket).read_bytes()
        except OSError:
            return
        try:
            bucket.bytecode_from_string(data)
        except Exception:  # noqa: BLE001 - a damaged entry is recompiled
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if sys.dont_write_bytecode:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(bucket.bytecode_to_string())
                os.replace(temporary, self._path(bucket))
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError:
            return


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment: strict undefined, no autoescape (output is Python)."""
    env = jinja2.Environment(
        bytecode_cache=PackageBytecodeCache(BYTECODE_DIR),
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
