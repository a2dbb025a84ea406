"""Property-based tests (hypothesis): valid specs always give a verified module; broken ones a located error.

The "ci" profile (the default; see conftest.py) runs 500 examples per property
with a fixed seed; HYPOTHESIS_PROFILE=dev runs 50.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

from hypothesis import given
from spec_strategies import dump, mutated_specs, valid_specs
from typer.testing import CliRunner

from codegen import generate
from codegen.cli import app
from codegen.verify import verify_source

LOCATED = re.compile(r"^[^\n]*spec\.yaml:\d+:\d+: \S")


def _write(tmp_path_factory, raw: bytes) -> Path:
    folder = tmp_path_factory.mktemp("spec")
    path = folder / "spec.yaml"
    path.write_bytes(raw)
    return path


def _strings_blanked(tree: ast.AST) -> str:
    """The AST with every string constant replaced: what code the module holds."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = "..."
    return ast.dump(tree)


@given(spec=valid_specs())
def test_valid_spec_generates_a_verified_module_whose_code_ignores_the_description(
    spec, tmp_path_factory
):
    generated = generate(_write(tmp_path_factory, dump(spec)))
    tree = ast.parse(generated.text)
    compile(tree, "generated.py", "exec")
    assert verify_source(generated.text, "generated.py") == []
    # The description reaches only docstrings: with a plain one the code is identical.
    spec["model"]["description"] = "plain"
    clean = generate(_write(tmp_path_factory, dump(spec)))
    assert _strings_blanked(tree) == _strings_blanked(ast.parse(clean.text))


@given(raw=mutated_specs())
def test_mutated_spec_generates_or_fails_with_located_errors(raw, tmp_path_factory):
    path = _write(tmp_path_factory, raw)
    output = path.parent / "out" / "model.py"
    result = CliRunner().invoke(app, [str(path), "-o", str(output)])
    assert not result.exception or isinstance(result.exception, SystemExit), (
        result.exception
    )
    assert result.exit_code in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert lines and all(LOCATED.match(line) for line in lines), result.stderr
        assert not output.exists()
    else:
        assert output.exists()
        compile(output.read_text("utf-8"), "model.py", "exec")


def test_ci_profile_runs_at_least_500_examples_and_is_the_default():
    from hypothesis import settings

    assert settings.get_profile("ci").max_examples >= 500
    if "HYPOTHESIS_PROFILE" not in os.environ:
        assert settings.default.max_examples == settings.get_profile("ci").max_examples
