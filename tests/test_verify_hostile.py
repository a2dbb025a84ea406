"""`wrapgen verify` on hostile input: bounded before parsing, located, and never hiding other files.

Every corpus input (tests/hostile_py/corpus.py) runs in its own `wrapgen
verify` process with a timeout, so a crash (SIGSEGV) or a hang fails one
test instead of the run. No TensorFlow is needed.
"""

from __future__ import annotations

import ast
import json
import random
import re

import libcst as cst
import pytest
from hostile_py.corpus import CORPUS, HERE, HOSTILE, VERIFIED, run, snapshot, verify

from codegen import report
from codegen.passes import analysis, forward_pass
from codegen.pysource import MAX_DEPTH, nesting_depth
from codegen.verify import UnparsableSource, verify_source


@pytest.mark.parametrize("name", HOSTILE, ids=str)
def test_hostile_input_is_one_located_line_exit_2(name, tmp_path):
    result = run(name, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stdout == ""
    assert re.fullmatch(rf"{name}\.py:\d+:\d+: [^\n]+\n", result.stderr), result.stderr
    assert snapshot(result) == _pinned(name), _RESNAPSHOT


@pytest.mark.parametrize("name", VERIFIED, ids=str)
def test_input_is_verified_as_python_reads_it(name, tmp_path):
    result = run(name, tmp_path)
    assert result.returncode in (0, 1), result.stderr
    assert snapshot(result) == _pinned(name), _RESNAPSHOT


def test_snapshots_and_corpus_match():
    assert sorted(p.stem for p in HERE.glob("*.out")) == sorted(CORPUS)


def test_directory_with_hostile_files_still_reports_the_real_finding(tmp_path):
    for name in ("unary_minus", "nested_brackets", "plus_chain", "subclass_chain"):
        (tmp_path / f"{name}.py").write_bytes(CORPUS[name]())
    (tmp_path / "model.py").write_bytes(CORPUS["fullwidth_assign"]())
    result = verify(tmp_path, ".")
    assert (
        result.returncode == 2
    )  # the most severe: over a limit (2) beats findings (1)
    assert result.stdout.splitlines() == [
        "model.py:62:9: WG301 `forward_pass` writes to a trainable variable "
        "(`self._a`); it may change only local variables (judged by the contract of "
        "tff.learning.models.VariableModel (TFF 0.49 and later))"
    ]
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [
        "nested_brackets.py",
        "plus_chain.py",
        "subclass_chain.py",
        "unary_minus.py",
    ]
    as_json = verify(tmp_path, "--format", "json", ".")
    assert [f["code"] for f in json.loads(as_json.stdout)] == ["WG301"]


def test_crash_in_a_pass_is_a_located_internal_error_for_that_file_only(
    tmp_path, monkeypatch
):
    def explode(module):
        if module.path.endswith("boom.py"):
            raise RecursionError("maximum recursion depth exceeded")
        return original(module)

    original = forward_pass.check
    monkeypatch.setattr(forward_pass, "check", explode)
    (tmp_path / "boom.py").write_text("x = 1\n", "utf-8")
    (tmp_path / "model.py").write_bytes(CORPUS["fullwidth_assign"]())
    printed: list[tuple[str, bool]] = []
    code = report.verify_paths(
        [tmp_path], "text", None, lambda text, err=False: printed.append((text, err))
    )
    assert code == 3
    errors = [text for text, err in printed if err]
    assert errors == [
        f"{tmp_path / 'boom.py'}:1:1: internal error in wrapgen's WG301 forward-pass "
        "pass: RecursionError('maximum recursion depth exceeded'); please report it "
        "with this file"
    ]
    assert [text.split(": ")[1].split()[0] for text, err in printed if not err] == [
        "WG301"
    ]


def test_crash_while_analysing_is_a_located_internal_error(tmp_path, monkeypatch):
    def explode(self, node):
        raise RecursionError("deep")

    monkeypatch.setattr(analysis.SourceModule, "model_flavour", explode)
    (tmp_path / "boom.py").write_text("class A(B):\n    pass\n", "utf-8")
    printed: list[str] = []
    code = report.verify_paths(
        [tmp_path / "boom.py"],
        "text",
        None,
        lambda text, err=False: printed.append(text),
    )
    assert code == 3
    assert printed == [
        f"{tmp_path / 'boom.py'}:1:1: internal error while analysing the module: "
        "RecursionError('deep'); please report it with this file"
    ]


# -- the nesting estimate ---------------------------------------------------------


def test_nesting_estimate_bounds_the_depth_of_libcsts_tree():
    """An upper bound on random mixes of every construct that nests."""
    rng = random.Random(11)
    checked = 0
    for _ in range(300):
        source = "".join(_statement(rng, rng.randrange(2, 9)) for _ in range(3))
        try:
            ast.parse(source)
        except SyntaxError:
            continue
        depth = _tree_depth(cst.parse_module(source))
        assert depth <= nesting_depth(source, "random.py", limit=10**6), source
        checked += 1
    assert checked > 250


def test_real_code_is_far_below_the_nesting_limit():
    from conftest import EXAMPLES, ROOT

    sources = [*EXAMPLES.glob("*.py"), ROOT / "tests/handwritten/linear_regression.py"]
    sources += (ROOT / "codegen").rglob("*.py")
    for path in sources:
        assert nesting_depth(path.read_text("utf-8"), str(path)) <= MAX_DEPTH * 0.6


def test_over_the_limit_in_process_is_a_located_unparsable_source():
    with pytest.raises(UnparsableSource) as raised:
        verify_source("x = " + "-" * 200 + "1\n", "m.py")
    assert str(raised.value).startswith("m.py:1:")
    assert raised.value.exit_code == 2


_RESNAPSHOT = "if intended, run: .venv/bin/python tests/hostile_py/corpus.py"


def _pinned(name: str) -> str:
    return (HERE / f"{name}.out").read_text("utf-8")


def _tree_depth(tree: cst.CSTNode) -> int:
    """How deep the nodes the verifier indexes go (whitespace and punctuation skipped)."""
    deepest, pending = 0, [(tree, 0)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in analysis._children(node))
    return deepest


def _expression(rng: random.Random, depth: int, quotes: bool = True) -> str:
    """A random expression mixing every construct that nests; no quotes inside f-strings."""
    if depth <= 0 or rng.random() < 0.1:
        return rng.choice(["a", "1", "x.y", "f()", *(["'s'"] if quotes else [])])

    def inner() -> str:
        return _expression(rng, depth - 1, quotes)

    forms = [
        lambda: f"-{inner()}",
        lambda: f"(not {inner()})",
        lambda: f"({inner()} + {inner()})",
        lambda: f"{inner()} * a",
        lambda: f"({inner()}).b",
        lambda: f"g({inner()}, k={inner()})",
        lambda: f"h[{inner()}]",
        lambda: f"[{inner()}, {inner()}]",
        lambda: f"{{{inner()}: {inner()}}}",
        lambda: f"(lambda q={inner()}, r={inner()}: {inner()})",
        lambda: f"[{inner()} for p, q in {inner()} for r, s in {inner()} if {inner()}]",
        lambda: f"({inner()} if {inner()} else {inner()})",
        lambda: f"({inner()} and {inner()} or {inner()})",
        lambda: f"({inner()})({inner()})",
        lambda: f"({inner()})[{inner()}].c(d)",
        lambda: f"(yield {inner()})",
        lambda: f"{inner()} < {inner()} <= {inner()}",
        lambda: f"await ({inner()})",
    ]
    if quotes:
        field = _expression(rng, depth - 1, quotes=False)
        forms += [
            lambda: "('a' 'b' 'c')",
            lambda: f"f'{{ {field} }}x{{ {field} !r:>{{w}}}}'",
        ]
    return rng.choice(forms)()


def _statement(rng: random.Random, depth: int, indent: int = 0) -> str:
    pad = "    " * indent
    kind = rng.randrange(5)
    if kind == 0 and indent < 6:
        text = f"{pad}if {_expression(rng, 2)}:\n{_statement(rng, depth, indent + 1)}"
        for _ in range(rng.randrange(4)):
            text += f"{pad}elif a:\n{_statement(rng, depth, indent + 1)}"
        return text + f"{pad}else:\n{_statement(rng, depth, indent + 1)}"
    if kind == 1 and indent < 6:
        default = _expression(rng, depth)
        return f"{pad}async def f(a={default}):\n{_statement(rng, depth, indent + 1)}"
    return f"{pad}x = {_expression(rng, depth)}\n"


def test_a_finding_in_a_file_whose_name_holds_a_newline_and_an_escape_is_one_line(
    tmp_path,
):
    name = "a\nb\x1b[31m.py"
    (tmp_path / name).write_text(
        "import tensorflow_federated as tff\n"
        "process = tff.learning.build_federated_averaging_process\n"
    )
    result = verify(tmp_path, ".")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and "WG801" in lines[0], lines
    assert "\x1b" not in result.stdout and "a\\nb\\x1b[31m.py:2:" in lines[0]
