"""Every catalogue entry, tested from its own VALID and INVALID spec fragments.

Each entry's module (codegen/catalogue/<section>/<name>.py) carries the
fragments; this file turns each VALID one into a generated, verified,
compiling module and each INVALID one into its located error. The README's
catalogue table must be the one the entries write today (the committed JSON
schema is checked in test_workflow.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue_cases import cases
from conftest import ROOT

from codegen import catalogue, generate
from codegen.catalogue import docs
from codegen.errors import SpecError

VALID = cases("valid")
INVALID = cases("invalid")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probe.yaml"
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize("text", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_fragment_generates_a_verified_module(text, tmp_path):
    generated = generate(_write(tmp_path, text))
    compile(generated.text, "probe.py", "exec")


@pytest.mark.parametrize(
    "text,message", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_fragment_gives_its_located_error(text, message, tmp_path):
    with pytest.raises(SpecError) as caught:
        generate(_write(tmp_path, text))
    lines = [f"{p.field}: {p.message}" for p in caught.value.problems]
    assert message in lines, lines
    assert all(p.location.line >= 1 for p in caught.value.problems)


@pytest.mark.parametrize(
    "entry",
    [
        e
        for section in catalogue.SECTIONS
        for e in catalogue.BY_SECTION[section].values()
    ],
    ids=lambda e: f"{e.section}.{e.name}",
)
def test_entry_is_complete(entry):
    """A summary, a template on disk, at least one VALID fragment; a layer has its rule."""
    assert entry.summary and not entry.summary.endswith(".")
    assert (ROOT / "templates" / entry.template).is_file(), entry.template
    assert entry.valid, f"{entry.name} has no VALID fragment"
    if entry.section == "layers":
        assert callable(entry.hook("output"))


def test_every_entry_with_a_rule_has_an_invalid_fragment():
    lacking = [
        f"{e.section}.{e.name}"
        for section in ("layers", "losses")
        for e in catalogue.BY_SECTION[section].values()
        if not e.invalid and e.name not in ("flatten",)
    ]
    assert lacking == []


def test_readme_catalogue_table_is_current():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert docs.table() in readme, "stale README catalogue: run make docs"
