"""The verifier on model code of every TFF API generation and import style.

`tests/verify_eras/` holds small modules written the way TFF model code of
each generation was: a 2019 tutorial-style classic `Model`/`TrainableModel`,
a 2022 `tff.learning.Model` with unfinalized metrics, a modern
`VariableModel`, and TFF's internal import styles. Each `NAME.py` is clean;
`NAME_broken.py` marks every finding it must give with a comment on the line
before it: `# expect next line: WG101 [words the message must contain]`.
WG801 (APIs that TFF 0.87 removed) is left out of the comparison: classic and
2022 code uses such APIs by design, which `test_removed_apis_are_reported_...`
checks on its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

from codegen.passes import BY_CODE
from codegen.verify import verify_file, verify_source

ERAS = ROOT / "tests" / "verify_eras"
CLEAN = sorted(p for p in ERAS.glob("*.py") if not p.stem.endswith("_broken"))
BROKEN = sorted(ERAS.glob("*_broken.py"))
RULES = [code for code in BY_CODE if code != "WG801"]
_EXPECT = re.compile(r"#\s*expect next line:\s*(WG\d{3})(?:\s*\[(.*)\])?\s*$")


def _expected(path: Path) -> list[tuple[str, int, str | None]]:
    """(code, line, words its message must contain) for each marker of `path`."""
    expected = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        found = _EXPECT.search(line)
        if found is not None:
            expected.append((found.group(1), number + 1, found.group(2)))
    return sorted(expected)


def _findings(path: Path):
    return [f for f in verify_file(path) if f.code in RULES]


def test_every_era_has_a_clean_and_a_broken_module():
    assert {p.stem for p in CLEAN} >= {p.stem.removesuffix("_broken") for p in BROKEN}
    assert len(BROKEN) >= 6
    for path in BROKEN:
        assert _expected(path), f"{path.name} marks no expected finding"


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.stem)
def test_clean_module_has_no_finding(path):
    assert _findings(path) == []


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_module_gives_the_marked_findings(path):
    findings = _findings(path)
    expected = _expected(path)
    assert sorted((f.code, f.line) for f in findings) == [
        (code, line) for code, line, _ in expected
    ], findings
    for (code, line, words), finding in zip(
        expected, sorted(findings, key=lambda f: (f.code, f.line))
    ):
        assert (finding.code, finding.line) == (code, line)
        if words is not None:
            assert words in finding.message, finding


@pytest.mark.parametrize(
    ("name", "generation"),
    [
        ("classic_2019", "classic tff.learning.TrainableModel (TFF 0.1-0.13"),
        ("transitional_2022", "2022 tff.learning.Model (TFF 0.20-0.48)"),
        ("modern_variable", "tff.learning.models.VariableModel (TFF 0.49"),
        ("python_as_tff", "classic tff.learning.Model"),
        ("internal_intrinsics", "classic tff.learning.Model"),
    ],
)
def test_contract_findings_name_the_generation(name, generation):
    """Dropping `input_spec` is a WG101 finding that names the class's generation."""
    source = (ERAS / f"{name}.py").read_text("utf-8")
    start = source.index("    @property\n    def input_spec(self):")
    end = source.index("\n    @", start + 10)
    broken = source[:start] + source[end + 1 :]
    findings = verify_source(broken, f"{name}.py", select=["WG101"])
    missing = [f for f in findings if "lacks `input_spec`" in f.message]
    assert missing, findings
    assert all(generation in f.message for f in missing), missing


def test_generated_module_is_judged_by_wrapgen_contract():
    source = (EXAMPLES / "mnist_logistic.py").read_text("utf-8")
    broken = source.replace(
        "    def reset_metrics(self)", "    def reset_counters(self)"
    )
    assert broken != source
    findings = verify_source(broken, "mnist_logistic.py", select=["WG101"])
    assert [f.code for f in findings] == ["WG101"]
    assert "wrapgen's combined contract" in findings[0].message


def test_classic_model_needs_no_num_examples_but_2022_does():
    """BatchOutput gained `num_examples` in TFF 0.9; classic code may lack it."""
    classic = (ERAS / "classic_2019.py").read_text("utf-8")
    assert "BatchOutput(loss=loss, predictions=predictions)" in classic
    assert verify_source(classic, "c.py", select=["WG301"]) == []


def test_removed_apis_are_reported_through_internal_imports():
    """The classic and 2022 bases resolve to `tff.learning.Model`, which 0.87 removed."""
    for name in ("classic_2019", "transitional_2022", "python_as_tff"):
        codes = {f.code for f in verify_file(ERAS / f"{name}.py")}
        assert codes == {"WG801"}, name
    assert [f.code for f in verify_file(ERAS / "modern_variable.py")] == []


@pytest.mark.parametrize(
    ("imports", "base"),
    [
        ("from mylib import VariableModel", "VariableModel"),
        ("class FooVariableModel:\n    pass", "FooVariableModel"),
        ("import mylib.learning as learning", "learning.Model"),
    ],
)
def test_only_bases_that_resolve_to_tff_make_a_model(imports, base):
    source = f"{imports}\n\n\nclass Mine({base}):\n    def local_variables(self):\n        return []\n"
    assert verify_source(source, "m.py") == []


def test_members_decide_the_generation_of_tff_learning_model():
    head = "import tensorflow_federated as tff\n\n\nclass M(tff.learning.Model):\n"
    reset = "    def reset_metrics(self):\n        pass\n"
    classic = "    def report_local_outputs(self):\n        return None\n"
    only_reset = verify_source(head + reset, "m.py", select=["WG101"])
    assert only_reset and all(
        "2022 tff.learning.Model" in f.message for f in only_reset
    )
    # A classic model may have a helper named reset_metrics: still classic.
    with_classic = verify_source(head + reset + classic, "m.py", select=["WG101"])
    assert with_classic and all("classic" in f.message for f in with_classic)
    assert not any("metric_finalizers" in f.message for f in with_classic)
