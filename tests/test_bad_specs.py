"""Every broken or hostile spec in tests/bad_specs/ gets its pinned, located error and writes nothing."""

from __future__ import annotations

import re

import pytest
from snapshots import bad_specs, run_bad_spec, snapshot

SPECS = bad_specs()


def test_corpus_is_large_enough():
    assert len(SPECS) >= 40


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_bad_spec_gives_its_snapshot(spec, tmp_path):
    code, stdout, stderr, exception = run_bad_spec(spec, tmp_path)
    assert exception is None, exception
    assert code == 2, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    located = re.compile(rf"^tests/bad_specs/{re.escape(spec.name)}:\d+:\d+: \S")
    lines = stderr.splitlines()
    assert lines and all(located.match(line) for line in lines), stderr
    assert lines == sorted(lines, key=_position)
    assert list(tmp_path.iterdir()) == []
    expected = spec.with_suffix(".out").read_text("utf-8")
    assert snapshot(code, stderr) == expected, "if intended, run: make snapshots"


def _position(line: str) -> tuple[int, int]:
    _, number, column, _ = line.split(":", 3)
    return int(number), int(column)
