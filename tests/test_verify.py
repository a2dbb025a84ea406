"""The verifier: every pass's VALID/INVALID examples, mutations of every example, hand-written models, CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from conftest import EXAMPLES, ROOT

from codegen.passes import BY_CODE, PASSES
from codegen.verify import UnparsableSource, verify_file, verify_source

HANDWRITTEN = ROOT / "tests" / "handwritten" / "linear_regression.py"
GENERATED_MODULES = sorted(
    p for p in EXAMPLES.glob("*.py") if p.with_suffix(".yaml").exists()
)


def _cases(kind: str):
    for rule in PASSES:
        for index, case in enumerate(getattr(rule, kind)):
            yield pytest.param(rule, case, id=f"{rule.CODE}-{kind.lower()}-{index}")


# -- generated from the passes' own examples -----------------------------------


@pytest.mark.parametrize(("rule", "source"), _cases("VALID"))
def test_pass_accepts_its_valid_example(rule, source):
    assert verify_source(source, "valid.py", select=[rule.CODE]) == []


@pytest.mark.parametrize(("rule", "case"), _cases("INVALID"))
def test_pass_rejects_its_invalid_example_at_the_pinned_position(rule, case):
    line, column, source = case
    findings = verify_source(source, "invalid.py", select=[rule.CODE])
    assert [(f.code, f.line, f.column) for f in findings] == [(rule.CODE, line, column)]
    assert findings[0].message


@pytest.mark.parametrize("rule", PASSES, ids=lambda r: r.CODE)
def test_every_pass_is_documented_and_has_examples(rule):
    assert rule.__doc__.startswith(f"{rule.CODE} {rule.NAME}:")
    assert "\n" not in rule.MESSAGE
    assert rule.VALID and rule.INVALID
    assert callable(rule.check)


def test_rule_codes_are_unique_and_ordered():
    codes = [rule.CODE for rule in PASSES]
    assert codes == sorted(set(codes))
    assert list(BY_CODE) == codes


# -- generated examples -------------------------------------------------------


@pytest.mark.parametrize("path", GENERATED_MODULES, ids=lambda p: p.stem)
def test_generated_examples_have_no_findings(path):
    assert verify_file(path) == []


@dataclass(frozen=True)
class Mutation:
    """A text edit of a generated module and the finding it must produce."""

    code: str
    apply: Callable[[list[str]], tuple[list[str], int, int]]
    """Takes the module's lines; returns new lines and the expected 1-based line and column."""


def _index(lines: list[str], text: str, start: int = 0) -> int:
    for number in range(start, len(lines)):
        if lines[number] == text or lines[number].strip() == text:
            return number
    raise AssertionError(f"no line {text!r}")


def _insert_in_forward_pass(statement: str, column: int):
    def apply(lines):
        at = _index(lines, "_check_batch(batch_input)") + 1
        return lines[:at] + [" " * 8 + statement] + lines[at:], at + 1, column

    return apply


def _reduce_sum_for_intrinsic(lines):
    at = _index(lines, "def aggregate_local_outputs(local_outputs):")
    at = next(i for i in range(at, len(lines)) if "tff.federated_sum(" in lines[i])
    lines = list(lines)
    lines[at] = lines[at].replace("tff.federated_sum(", "tf.reduce_sum(", 1)
    return lines, at + 1, lines[at].index("tf.reduce_sum(") + 1


def _no_forward_pass_in_train_on_batch(lines):
    at = _index(lines, "output = self.forward_pass(batch_input, training=True)")
    lines = list(lines)
    lines[at] = lines[at].replace(
        "self.forward_pass(batch_input, training=True)",
        'self.predict_on_batch(batch_input["x"], training=True)',
    )
    tape = _index(lines, "with tf.GradientTape() as tape:")
    return lines, tape + 1, 9


def _missing_metric_key(lines):
    start = _index(lines, "def metric_finalizers(self) -> collections.OrderedDict:")
    ret = _index(lines, "return collections.OrderedDict(", start)
    close = _index(lines, ")", ret)
    return lines[: close - 1] + lines[close:], ret + 1, 16


def _missing_train_on_batch(lines):
    start = _index(
        lines,
        "def train_on_batch(self, batch_input) -> tff.learning.models.BatchOutput:",
    )
    end = (
        _index(lines, "return output", start) + 2
    )  # the method and the blank line after it
    cls = next(i for i, line in enumerate(lines) if line.startswith("class "))
    return lines[:start] + lines[end:], cls + 1, 7


MUTATIONS = {
    "weight-write-in-forward-pass": Mutation(
        "WG301",
        _insert_in_forward_pass(
            "self.trainable_variables[0].assign(self.trainable_variables[0] * 2.0)", 9
        ),
    ),
    "variable-outside-init": Mutation(
        "WG201", _insert_in_forward_pass("scratch = tf.Variable(0.0)", 19)
    ),
    "reduce-sum-for-intrinsic": Mutation("WG501", _reduce_sum_for_intrinsic),
    "train-on-batch-without-forward-pass": Mutation(
        "WG401", _no_forward_pass_in_train_on_batch
    ),
    "missing-metric-key": Mutation("WG501", _missing_metric_key),
    "missing-train-on-batch": Mutation("WG101", _missing_train_on_batch),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("path", GENERATED_MODULES, ids=lambda p: p.stem)
def test_mutation_of_generated_example_is_caught_at_its_line(path, mutation, tmp_path):
    rule = MUTATIONS[mutation]
    lines = path.read_text("utf-8").split("\n")
    mutated, line, column = rule.apply(lines)
    shutil.copy(path.with_suffix(".yaml"), tmp_path)
    target = tmp_path / path.name
    target.write_text("\n".join(mutated), "utf-8")
    findings = verify_file(target)
    assert (rule.code, line, column) in [
        (f.code, f.line, f.column) for f in findings
    ], findings
    assert {f.code for f in findings} == {rule.code}, findings


def test_generated_module_does_not_honour_ignore_comments():
    lines = (EXAMPLES / "mnist_logistic.py").read_text("utf-8").split("\n")
    mutated, line, _ = _insert_in_forward_pass(
        "self.trainable_variables[0].assign_add(1.0)  # wrapgen: ignore[WG301]", 9
    )(lines)
    findings = verify_source("\n".join(mutated), "m.py")
    assert [(f.code, f.line) for f in findings] == [("WG301", line)]


# -- the hand-written model -----------------------------------------------------


def test_handwritten_linear_regression_is_clean():
    assert verify_file(HANDWRITTEN) == []


HANDWRITTEN_BREAKS = [
    # (code, text to replace, replacement, the text the finding starts at)
    (
        "WG101",
        "    @property\n    def local_variables(self):",
        "    def local_variables(self):",
        "local_variables(self)",
    ),
    (
        "WG201",
        '        self._b = tf.Variable(0.0, name="b", trainable=True)\n',
        '        self._b = tf.Variable(0.0, name="b", trainable=True)\n        self._d = tf.Variable(0.0)\n',
        "self._d",
    ),
    (
        "WG201",
        "        return [self._num_examples, self._num_batches, self._loss_sum]",
        "        return [self._num_examples, self._num_batches, self._loss_sum, self._a]",
        "self._a]",
    ),
    (
        "WG301",
        "        self._num_batches.assign_add(1)",
        "        self._c.assign_add(1.0)",
        "self._c.assign_add",
    ),
    (
        "WG301",
        "        self._count(num_examples, loss)",
        "        for w in self.weights.trainable:\n            w.assign(w * 0.5)\n        self._count(num_examples, loss)",
        "w.assign(w * 0.5)",
    ),
    (
        "WG301",
        '        error = predictions - batch_input["y"]',
        '        error = predictions - batch_input["label"]',
        '"label"',
    ),
    (
        "WG401",
        "            variable.assign_sub(LEARNING_RATE * gradient)",
        "            variable.assign_sub(LEARNING_RATE * gradient)\n        self._c.assign(self._c * 0.9)",
        "self._c.assign(self._c * 0.9)",
    ),
    (
        "WG401",
        "        gradients = tape.gradient(output.loss, self.trainable_variables)",
        "        gradients = tape.gradient(output.loss, self.weights)",
        "self.weights)",
    ),
    (
        "WG501",
        "                num_batches=tff.federated_sum(local_outputs.num_batches),",
        "                num_batches=tf.reduce_sum(local_outputs.num_batches),",
        "tf.reduce_sum(",
    ),
    (
        "WG501",
        "            num_batches=tf.function(tf.identity),\n",
        "",
        "collections.OrderedDict(\n            loss=tf.function",
    ),
    (
        "WG701",
        "def model_fn():\n    return LinearRegression()",
        "_MODEL = LinearRegression()\n\n\ndef model_fn():\n    return _MODEL",
        "_MODEL\n",
    ),
    (
        "WG801",
        "tff.learning.models.VariableModel)",
        "tff.learning.Model)",
        "tff.learning.Model)",
    ),
]


@pytest.mark.parametrize(
    ("code", "old", "new", "at"),
    HANDWRITTEN_BREAKS,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(HANDWRITTEN_BREAKS)],
)
def test_broken_handwritten_model_is_reported_at_the_broken_line(code, old, new, at):
    source = HANDWRITTEN.read_text("utf-8")
    assert source.count(old) == 1
    broken = source.replace(old, new)
    offset = broken.index(at, broken.index(new) if new else 0)
    line = broken.count("\n", 0, offset) + 1
    column = offset - broken.rfind("\n", 0, offset)
    findings = verify_source(broken, "linear_regression.py")
    assert (code, line, column) in [(f.code, f.line, f.column) for f in findings], (
        findings
    )


def test_ignore_comment_silences_only_the_named_rule_on_its_line():
    source = HANDWRITTEN.read_text("utf-8").replace(
        "        self._num_batches.assign_add(1)",
        "        self._c.assign_add(1.0)  # wrapgen: ignore[WG301] deliberate\n"
        "        self._c.assign_sub(1.0)",
    )
    findings = verify_source(source, "m.py")
    assert [f.code for f in findings] == ["WG301"]
    assert "assign_sub" in source.split("\n")[findings[0].line - 1]


@pytest.mark.parametrize(
    "comment", ["# wrapgen: ignore", "# wrapgen: ignore[WG999]", "# wrapgen: ignore[]"]
)
def test_malformed_ignore_comment_is_itself_a_finding(comment):
    findings = verify_source(f"x = 1  {comment}\n", "m.py")
    assert [(f.code, f.line, f.column) for f in findings] == [("WG002", 1, 8)]


def test_syntax_error_is_a_located_error_not_a_finding():
    with pytest.raises(UnparsableSource) as raised:
        verify_source("def f(:\n    pass\n", "bad.py")
    assert str(raised.value).startswith("bad.py:1:")
    assert raised.value.exit_code == 2


# -- Keras builder imports ------------------------------------------------------


def test_keras_builder_import_is_checked_against_the_spec(tmp_path):
    module = (EXAMPLES / "keras_mlp.py").read_text("utf-8")
    alone = tmp_path / "keras_mlp.py"
    alone.write_text(module, "utf-8")
    findings = verify_file(alone)
    assert [f.code for f in findings] == ["WG601"]
    assert "cannot be confirmed" in findings[0].message
    shutil.copy(EXAMPLES / "keras_mlp.yaml", tmp_path / "keras_mlp.yaml")
    assert verify_file(alone) == []
    alone.write_text(
        module.replace("from keras_builders import build_mlp", "from os import system"),
        "utf-8",
    )
    findings = verify_file(alone)
    assert [f.code for f in findings] == ["WG601"]
    assert "`os:system`" in findings[0].message


# -- command line ---------------------------------------------------------------


def wrapgen(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _broken_copy(tmp_path: Path) -> Path:
    source = HANDWRITTEN.read_text("utf-8")
    broken = source.replace(
        "        self._num_batches.assign_add(1)", "        self._c.assign_add(1.0)"
    ).replace("tff.learning.models.VariableModel)", "tff.learning.Model)")
    path = tmp_path / "broken.py"
    path.write_text(broken, "utf-8")
    return path


def test_cli_prints_sorted_findings_and_exits_1(tmp_path):
    path = _broken_copy(tmp_path)
    result = wrapgen("verify", str(path), str(HANDWRITTEN))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:19:24: WG801 ")
    assert lines[1].startswith(f"{path}:68:9: WG301 ")
    assert result.stderr == ""


def test_cli_json_format_has_the_same_fields(tmp_path):
    path = _broken_copy(tmp_path)
    result = wrapgen("verify", "--format", "json", str(path))
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert [(d["code"], d["line"], d["column"]) for d in data] == [
        ("WG801", 19, 24),
        ("WG301", 68, 9),
    ]
    assert set(data[0]) == {"path", "line", "column", "code", "message"}


def test_cli_select_runs_only_named_rules(tmp_path):
    result = wrapgen("verify", "--select", "WG301", str(_broken_copy(tmp_path)))
    assert result.returncode == 1
    assert [line.split()[1] for line in result.stdout.splitlines()] == ["WG301"]
    assert wrapgen("verify", "--select", "WG999", str(HANDWRITTEN)).returncode == 2


def test_cli_clean_files_and_directories_exit_0():
    result = wrapgen("verify", str(HANDWRITTEN), "generated_examples")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"def f(:\n", ":1:7: not valid Python"),
        (b"x = '\xff'\n", ":1:1: not UTF-8"),
        (None, ":1:1: no such file"),
    ],
)
def test_cli_unreadable_input_is_located_exit_2(tmp_path, content, expected):
    path = tmp_path / "model.py"
    if content is not None:
        path.write_bytes(content)
    result = wrapgen("verify", str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"{path}{expected}" or result.stderr.startswith(
        f"{path}{expected}"
    )
    assert "Traceback" not in result.stderr


def test_cli_lists_and_explains_rules():
    listed = wrapgen("verify", "--list-rules")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        *BY_CODE,
        "WG002",
    ]
    explained = wrapgen("verify", "--explain", "WG501")
    assert explained.returncode == 0
    assert explained.stdout.startswith("WG501 aggregation:")
    assert wrapgen("verify", "--explain", "WG000").returncode == 2


def test_generation_with_findings_writes_nothing_and_exits_1(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from codegen import cli, pipeline

    real_render = pipeline.render

    def render_with_a_defect(plan):
        return real_render(plan).replace(
            "        _check_batch(batch_input)\n",
            "        _check_batch(batch_input)\n        self.trainable_variables[0].assign_add(1.0)\n",
        )

    monkeypatch.setattr(pipeline, "render", render_with_a_defect)
    target = tmp_path / "model.py"
    result = CliRunner().invoke(
        cli.app, [str(EXAMPLES / "mnist_logistic.yaml"), "-o", str(target)]
    )
    assert result.exit_code == 1
    assert "WG301" in result.output
    assert not target.exists()


def test_many_files_are_verified_in_parallel_exactly_as_one_by_one(tmp_path):
    """From PARALLEL_MIN_FILES files on, forked processes share the work; the
    findings, the error lines on stderr, their order and the exit code do not change."""
    from codegen.report import PARALLEL_MIN_FILES

    tree = tmp_path / "tree"
    tree.mkdir()
    broken = _broken_copy(tmp_path).read_text("utf-8")
    for index in range(PARALLEL_MIN_FILES + 3):
        (tree / f"m{index:02d}.py").write_text(
            broken if index % 3 == 0 else HANDWRITTEN.read_text("utf-8"), "utf-8"
        )
    (tree / "m04.py").write_bytes(b"def f(:\n")
    (tree / "m07.py").write_bytes(b"x = '\xff'\n")
    together = wrapgen("verify", str(tree))
    alone = [wrapgen("verify", str(path)) for path in sorted(tree.iterdir())]
    assert together.returncode == 2  # unparsable files are the most severe outcome
    assert together.stdout == "".join(
        line + "\n"
        for line in sorted(
            (line for r in alone for line in r.stdout.splitlines()),
            key=lambda line: (line.split(":")[0], int(line.split(":")[1])),
        )
    )
    assert together.stdout.count(" WG301 ") == 4
    assert together.stderr == "".join(r.stderr for r in alone)
    assert together.stderr.splitlines()[0].startswith(f"{tree / 'm04.py'}:1:7: ")
