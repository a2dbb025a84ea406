"""Regeneration workflow: check and regenerate by spec or module, project config, determinism,
scaffolding and the editor schema (no TensorFlow)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import EXAMPLES, ROOT
from snapshots import bad_specs

from codegen import generate
from codegen.schema import spec_schema
from codegen.verify import verify_file

WRAPGEN = [sys.executable, "-m", "codegen"]


def wrapgen(
    *args: str, cwd: Path = ROOT, env: dict | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*WRAPGEN, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture()
def project(tmp_path):
    """A user project: two specs under models/, generated, with a [tool.wrapgen] table."""
    models = tmp_path / "models"
    models.mkdir()
    for name in ("mnist_logistic", "linear_regression"):
        shutil.copy(EXAMPLES / f"{name}.yaml", models)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.wrapgen]\nspecs = ["models/*.yaml"]\n'
        'output = "{stem}_model.py"\n'
    )
    result = wrapgen("generate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


# -- check and regenerate -----------------------------------------------------


def test_config_lists_the_specs_and_names_the_outputs(project):
    assert sorted(p.name for p in (project / "models").glob("*.py")) == [
        "linear_regression_model.py",
        "mnist_logistic_model.py",
    ]
    result = wrapgen("generate", cwd=project)
    assert result.stdout.splitlines() == [
        "up to date: models/linear_regression_model.py",
        "up to date: models/mnist_logistic_model.py",
    ]
    assert "0 written, 2 already fresh" in result.stderr
    assert wrapgen("check", cwd=project).returncode == 0


def test_check_accepts_a_hand_edited_module_alone(project):
    module = project / "models" / "mnist_logistic_model.py"
    fresh = module.read_text("utf-8")
    module.write_text(
        fresh.replace("LEARNING_RATE = 0.1", "LEARNING_RATE = 0.3"), "utf-8"
    )
    result = wrapgen("check", "models/mnist_logistic_model.py", cwd=project)
    assert result.returncode == 1
    assert "-LEARNING_RATE = 0.3\n+LEARNING_RATE = 0.1" in result.stdout
    assert result.stdout.startswith("--- models/mnist_logistic_model.py (on disk)")
    assert "\x1b[" not in result.stdout  # not a terminal: plain
    assert result.stderr == (
        "stale: models/mnist_logistic_model.py (spec models/mnist_logistic.yaml): "
        "edited by hand (its spec is unchanged since it was generated): move the change "
        "into the spec, then run: wrapgen models/mnist_logistic.yaml (this discards the "
        "edit)\n"
    )
    assert module.read_text("utf-8") != fresh  # check never writes
    coloured = wrapgen(
        "check", "--color", "always", "models/mnist_logistic_model.py", cwd=project
    )
    assert "\x1b[31m-LEARNING_RATE = 0.3" in coloured.stdout
    regenerated = wrapgen("models/mnist_logistic_model.py", cwd=project)
    assert regenerated.returncode == 0
    assert regenerated.stdout == "wrote: models/mnist_logistic_model.py\n"
    assert module.read_text("utf-8") == fresh


def test_check_json_reports_every_target(project):
    (project / "models" / "linear_regression_model.py").unlink()
    result = wrapgen("check", "--format", "json", cwd=project)
    assert result.returncode == 1
    report = {Path(item["output"]).name: item for item in json.loads(result.stdout)}
    assert report["linear_regression_model.py"]["status"] == "missing"
    assert report["mnist_logistic_model.py"]["status"] == "fresh"
    assert report["linear_regression_model.py"]["diff"].startswith("--- ")
    assert set(report["mnist_logistic_model.py"]) == {
        "spec",
        "output",
        "status",
        "reason",
        "fix",
        "message",
        "diff",
    }
    missing = report["linear_regression_model.py"]
    assert (missing["reason"], missing["fix"]) == (
        "",
        "wrapgen models/linear_regression.yaml",
    )


def _stale_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    return result.stderr.splitlines()[0]


def test_check_says_why_a_module_is_stale_and_the_command_that_fixes_it(project):
    spec = project / "models" / "mnist_logistic.yaml"
    module = project / "models" / "mnist_logistic_model.py"
    spec.write_text(
        spec.read_text("utf-8").replace("learning_rate: 0.1", "learning_rate: 0.2")
    )
    prefix = "stale: models/mnist_logistic_model.py (spec models/mnist_logistic.yaml): "
    for named in ("models/mnist_logistic.yaml", "models/mnist_logistic_model.py"):
        assert _stale_line(wrapgen("check", named, cwd=project)) == (
            prefix + "its spec changed since it was generated; run: "
            "wrapgen models/mnist_logistic.yaml"
        )
    report = json.loads(wrapgen("check", "--format", "json", cwd=project).stdout)
    stale = [item for item in report if item["status"] == "stale"]
    assert [(i["reason"], i["fix"]) for i in stale] == [
        ("spec-changed", "wrapgen models/mnist_logistic.yaml")
    ]
    # The printed command is the fix: after it, the module is fresh.
    fixed = subprocess.run(
        [*WRAPGEN, *stale[0]["fix"].split()[1:]],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fixed.returncode == 0, fixed.stderr
    assert wrapgen("check", cwd=project).returncode == 0
    # From another folder, and for a module outside the naming the config gives.
    elsewhere = project / "models"
    assert (
        wrapgen("models/mnist_logistic.yaml", "-o", "other.py", cwd=project).returncode
        == 0
    )
    spec.write_text(spec.read_text("utf-8").replace("0.2", "0.3"))
    assert _stale_line(wrapgen("check", "../other.py", cwd=elsewhere)) == (
        "stale: ../other.py (spec ../models/mnist_logistic.yaml): its spec changed since "
        "it was generated; run: wrapgen mnist_logistic.yaml -o ../other.py"
    )
    # A header someone rewrote, and a file wrapgen did not write.
    module.write_text("# my model\n" + module.read_text("utf-8"), "utf-8")
    assert "wrapgen will not replace it" in _stale_line(
        wrapgen("check", "models/mnist_logistic.yaml", cwd=project)
    )
    text = module.read_text("utf-8").split("\n", 1)[1]
    module.write_text(text.replace("DO NOT EDIT.", "EDITED.", 1), "utf-8")
    assert "its first line is not the header wrapgen wrote" in _stale_line(
        wrapgen("check", "models/mnist_logistic.yaml", cwd=project)
    )


def test_a_module_whose_spec_is_gone_says_what_to_do(project):
    (project / "models" / "mnist_logistic.yaml").unlink()
    result = wrapgen("check", "models/mnist_logistic_model.py", cwd=project)
    assert result.returncode == 2
    assert result.stderr == (
        "models/mnist_logistic_model.py:1:1: its header names the spec "
        "models/mnist_logistic.yaml, which does not exist: restore the spec (e.g. from "
        "version control), or, if it moved, regenerate from its new path with `wrapgen "
        "NEW_SPEC -o models/mnist_logistic_model.py`, or, if the model is gone, delete "
        "this module\n"
    )


def test_check_of_a_broken_spec_exits_2_and_names_it(project):
    spec = project / "models" / "mnist_logistic.yaml"
    spec.write_text(
        spec.read_text("utf-8").replace("learning_rate: 0.1", "learning_rate: x")
    )
    result = wrapgen("check", cwd=project)
    assert result.returncode == 2
    assert "models/mnist_logistic.yaml:" in result.stderr
    assert "learning_rate" in result.stderr


def test_spec_output_key_wins_over_the_config_naming(project):
    spec = project / "models" / "linear_regression.yaml"
    spec.write_text("output: custom.py\n" + spec.read_text("utf-8"))
    assert wrapgen("generate", cwd=project).returncode == 0
    assert (project / "models" / "custom.py").exists()


def test_skip_other_files_ignores_what_is_not_wrapgen(project):
    (project / "notes.yaml").write_text("just: data\n")
    (project / "tool.py").write_text("print('hello')\n")
    args = ["notes.yaml", "tool.py", "models/mnist_logistic_model.py"]
    assert wrapgen("check", *args, cwd=project).returncode == 2
    result = wrapgen("check", "--skip-other-files", *args, cwd=project)
    assert result.returncode == 0, result.stderr
    result = wrapgen("generate", "--skip-other-files", *args, cwd=project)
    assert result.stdout == "up to date: models/mnist_logistic_model.py\n"


def test_no_path_and_no_config_is_a_usage_error(tmp_path):
    result = wrapgen("check", cwd=tmp_path)
    assert result.returncode == 2
    assert "no [tool.wrapgen] table" in result.stderr


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('specs = "models/*.yaml"', "specs: expected a non-empty list"),
        ('specs = ["*.yaml"]\noutput = "../x.py"', "output: expected a relative path"),
        ('specs = ["*.yaml"]\noutput = "{name}.py"', "output: expected a path pattern"),
        ('specs = ["*.yaml"]\nglobs = []', "found unknown globs"),
    ],
)
def test_bad_config_is_a_clear_usage_error(tmp_path, table, message):
    (tmp_path / "pyproject.toml").write_text(f"[tool.wrapgen]\n{table}\n")
    result = wrapgen("check", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


# -- determinism --------------------------------------------------------------


def _reordered(text: str) -> str:
    """The spec with its sections, and the fields of each entry, in reverse order."""
    data = yaml.safe_load(text)

    def flip(value, depth=0):
        if isinstance(value, dict):
            ordered = {k: flip(v, depth + 1) for k, v in value.items()}
            # Inputs, variables and metrics are ordered collections; their entries' fields are not.
            if depth == 1:
                return ordered
            return dict(reversed(list(ordered.items())))
        if isinstance(value, list):
            return [flip(v, depth + 1) for v in value]
        return value

    top = {
        k: flip(v, 1) if k in ("inputs", "variables", "metrics") else flip(v)
        for k, v in data.items()
    }
    return "# reordered and reformatted\n" + yaml.safe_dump(
        dict(reversed(list(top.items()))), sort_keys=False, default_flow_style=False
    )


@pytest.mark.parametrize("name", ["mnist_cnn", "bag_of_words", "keras_mlp"])
def test_key_order_comments_and_layout_do_not_change_the_module(tmp_path, name):
    original = (EXAMPLES / f"{name}.yaml").read_text("utf-8")
    (tmp_path / f"{name}.yaml").write_text(_reordered(original), "utf-8")
    assert _reordered(original) != original
    reordered = generate(tmp_path / f"{name}.yaml", tmp_path / f"{name}.py")
    assert reordered.text == (EXAMPLES / f"{name}.py").read_text("utf-8")


def test_order_that_means_something_changes_the_module(tmp_path):
    spec = (EXAMPLES / "mnist_logistic.yaml").read_text("utf-8")
    swapped = spec.replace(
        "  loss: loss\n  accuracy: sparse_categorical_accuracy\n",
        "  accuracy: sparse_categorical_accuracy\n  loss: loss\n",
    )
    assert swapped != spec
    (tmp_path / "mnist_logistic.yaml").write_text(swapped, "utf-8")
    text = generate(tmp_path / "mnist_logistic.yaml").text
    assert 'METRIC_NAMES = ("accuracy", "loss", "num_examples")' in text


def test_output_is_identical_for_relative_and_absolute_paths_and_any_cwd(tmp_path):
    shutil.copy(EXAMPLES / "linear_regression.yaml", tmp_path)
    outputs = []
    for cwd, spec, out in (
        (tmp_path, "linear_regression.yaml", "out/model.py"),
        (
            ROOT,
            str(tmp_path / "linear_regression.yaml"),
            str(tmp_path / "out" / "model.py"),
        ),
        (tmp_path / "out", "../linear_regression.yaml", "model.py"),
    ):
        (tmp_path / "out").mkdir(exist_ok=True)
        env = {**os.environ, "PYTHONHASHSEED": str(len(outputs) * 7 + 1)}
        result = wrapgen(spec, "-o", out, cwd=cwd, env=env)
        assert result.returncode == 0, result.stderr
        outputs.append((tmp_path / "out" / "model.py").read_bytes())
        (tmp_path / "out" / "model.py").unlink()
    assert outputs[0] == outputs[1] == outputs[2]
    assert b"from ../linear_regression.yaml (sha256" in outputs[0]


# -- scaffolding ----------------------------------------------------------------


@pytest.mark.parametrize("template", ["logistic", "cnn", "keras"])
def test_init_template_generates_a_verified_module(tmp_path, template):
    result = wrapgen("init", "my_model", "--template", template, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    spec = tmp_path / "my_model.yaml"
    assert spec.read_text("utf-8").startswith("# MyModel: ")
    assert wrapgen("my_model.yaml", cwd=tmp_path).returncode == 0
    assert verify_file(tmp_path / "my_model.py") == []
    again = wrapgen("init", "my_model", cwd=tmp_path)
    assert again.returncode == 2 and "never overwrites" in again.stderr


def test_init_rejects_a_name_that_makes_no_class_and_unknown_templates(tmp_path):
    assert wrapgen("init", "9lives", cwd=tmp_path).returncode == 2
    bad = wrapgen("init", "ok_name", "--template", "rnn", cwd=tmp_path)
    assert bad.returncode == 2 and "expected one of logistic, cnn, keras" in bad.stderr
    assert list(tmp_path.iterdir()) == []


# -- editor schema ----------------------------------------------------------------

SCHEMA_CANNOT_SEE = {
    # Cross-field rules, which only the validator knows.
    "input_and_variable_same_name",
    "label_not_an_input",
    "layer_names_undeclared_variable",
    "loss_from_logits_after_sigmoid",
    "loss_from_logits_after_softmax",
    "loss_label_dtype_mismatch",
    "metric_mean_without_num_examples",
    "metric_needs_other_label",
    "shape_mismatch_in_layer_stack",
    "variable_unused",
    # YAML-level problems that a parsed document no longer shows.
    "load_duplicate_nested_key",
    "load_duplicate_top_level_key",
    "load_merge_key",
    # JSON Schema counts 4.0 as an integer and cannot reject NaN.
    "shape_float_dimension",
    "optimizer_learning_rate_nan",
    # Where a number ends up (its dtype, a shape's product) is the validator's.
    "number_float_overflows_its_dtype",
    "number_rounds_to_zero_in_float32",
    "variable_l2_overflows_float16",
    "shape_too_many_elements",
    # Generated names, and which modules are not the user's own.
    "metric_accumulators_collide",
    "keras_builder_main_module",
    "keras_builder_runtime_numpy",
    "keras_builder_stdlib_code_interact",
    "keras_builder_stdlib_os_abort",
    "keras_builder_stdlib_pdb_set_trace",
}


def test_committed_schema_is_what_wrapgen_schema_prints():
    result = wrapgen("schema")
    assert result.returncode == 0
    committed = (ROOT / "schema" / "wrapgen-spec.schema.json").read_text("utf-8")
    assert result.stdout == committed, (
        "regenerate: wrapgen schema > schema/wrapgen-spec.schema.json"
    )
    jsonschema.Draft202012Validator.check_schema(json.loads(committed))


def test_schema_accepts_every_example_and_starter_spec(tmp_path):
    validator = jsonschema.Draft202012Validator(spec_schema())
    for path in EXAMPLES.glob("*.yaml"):
        assert (
            list(validator.iter_errors(yaml.safe_load(path.read_text("utf-8")))) == []
        ), path
    for template in ("logistic", "cnn", "keras"):
        name = f"{template}_starter"  # keras.py would hide the keras package
        assert (
            wrapgen("init", name, "--template", template, cwd=tmp_path).returncode == 0
        )
        data = yaml.safe_load((tmp_path / f"{name}.yaml").read_text("utf-8"))
        assert list(validator.iter_errors(data)) == [], template


def test_schema_rejects_the_bad_specs_a_schema_can_see():
    validator = jsonschema.Draft202012Validator(spec_schema())
    rejected, accepted = set(), set()
    for path in bad_specs():
        try:
            data = yaml.safe_load(path.read_bytes())
        except (yaml.YAMLError, RecursionError):
            continue  # not YAML at all: nothing for a schema to check
        (rejected if list(validator.iter_errors(data)) else accepted).add(path.stem)
    assert accepted == SCHEMA_CANNOT_SEE
    assert len(rejected) >= 35


def test_many_specs_are_generated_in_parallel_exactly_as_one_by_one(tmp_path):
    from codegen.regenerate import PARALLEL_MIN_TARGETS

    models = tmp_path / "models"
    models.mkdir()
    count = PARALLEL_MIN_TARGETS + 4
    source = (EXAMPLES / "linear_regression.yaml").read_text("utf-8")
    for index in range(count):
        text = source.replace(
            "name: LinearRegression", f"name: LinearRegression{index}"
        )
        (models / f"model_{index:02d}.yaml").write_text(text, "utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.wrapgen]\nspecs = ["models/*.yaml"]\n'
    )
    result = wrapgen("generate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"wrote: models/model_{index:02d}.py" for index in range(count)
    ]
    for index in range(count):
        spec = models / f"model_{index:02d}.yaml"
        assert spec.with_suffix(".py").read_text("utf-8") == generate(spec).text
    module = models / "model_07.py"
    module.write_text(module.read_text("utf-8").replace("0.05", "0.5"), "utf-8")
    checked = wrapgen("check", "--format", "json", cwd=tmp_path)
    assert checked.returncode == 1
    statuses = [item["status"] for item in json.loads(checked.stdout)]
    assert statuses == ["stale" if i == 7 else "fresh" for i in range(count)]


def _readme_block(marker: str) -> str:
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split(f"<!-- {marker}: begin -->\n", 1)[1]
    block = block.split(f"<!-- {marker}: end -->", 1)[0]
    return block.split("\n", 1)[1].rsplit("```", 1)[0]


def test_readme_formatter_excludes_keep_ruff_off_generated_modules(project):
    """The README's ruff settings, in a project whose own style differs from wrapgen's."""
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed")
    pyproject = project / "pyproject.toml"
    own_style = (
        '\n[tool.ruff]\nline-length = 60\n\n[tool.ruff.lint]\nselect = ["ALL"]\n'
    )
    pyproject.write_text(pyproject.read_text() + own_style)
    modules = sorted((project / "models").glob("*_model.py"))
    before = [m.read_bytes() for m in modules]

    def ruff_run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(ruff), *args, "--no-cache", "."],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert ruff_run("format", "--check").returncode == 1  # would rewrite the modules
    assert ruff_run("check").returncode == 1
    settings = _readme_block("formatter-excludes")
    ruff_settings = settings.split("[tool.black]", 1)[0].replace("[tool.ruff]\n", "", 1)
    pyproject.write_text(
        pyproject.read_text().replace("[tool.ruff]\n", "[tool.ruff]\n" + ruff_settings)
    )
    formatted = ruff_run("format")
    assert formatted.returncode == 0, formatted.stderr
    checked = ruff_run("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert [m.read_bytes() for m in modules] == before
    assert wrapgen("check", cwd=project).returncode == 0
