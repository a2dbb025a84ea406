"""Spec values that validate must generate: numbers TensorFlow holds, names that make
distinct attributes, builders from the user's own code, sizes the verifier takes (no TensorFlow).
"""

from __future__ import annotations

import ast
import itertools
import random
import re
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from codegen import catalogue, generate
from codegen.cli import app
from codegen.errors import SpecError
from codegen.load import MAX_NUMBER_LENGTH, LoadedSpec, parse_spec_bytes
from codegen.names import (
    CLASS_NAME,
    FIXED_ATTRIBUTES,
    RESERVED_MODULE_NAMES,
    SNAKE_NAME,
    builder_module_problem,
    metric_attributes,
    name_problem,
)
from codegen.plan import plan
from codegen.render import render
from codegen.spec import Spec, digest
from codegen.validate import validate

SPEC = """\
wrapgen: 1
model: {name: Tiny, description: A tiny softmax model.}
inputs:
  x: {dtype: float32, shape: [null, WIDTH]}
  y: {dtype: int32, shape: [null, 1]}
label: y
variables:
  kernel: {shape: [WIDTH, 3], initializer: {glorot_uniform: {seed: KERNEL_SEED}}}
  bias: {shape: [3], initializer: zeros}
forward:
  layers:
    - dense: {kernel: kernel, bias: bias}
    - dropout: {rate: 0.5, seed: DROPOUT_SEED}
    - softmax
loss: sparse_categorical_crossentropy
metrics:
  num_examples: num_examples
METRICS
training:
  optimizer: {sgd: {learning_rate: LEARNING_RATE}}
"""
DEFAULTS = {
    "WIDTH": "4",
    "KERNEL_SEED": "1",
    "DROPOUT_SEED": "7",
    "METRICS": "  loss: loss",
    "LEARNING_RATE": "0.1",
}


def spec_text(**values: str) -> str:
    """The tiny spec with some of its placeholders replaced."""
    text = SPEC
    for key, value in {**DEFAULTS, **values}.items():
        text = text.replace(key, value)
    return text


def problems(text: str) -> list[str]:
    """What validation reports for spec `text` (empty when it is valid)."""
    try:
        validated(text)
    except SpecError as error:
        return [str(problem) for problem in error.problems]
    return []


def validated(text: str) -> Spec:
    """Spec `text` loaded and validated as `spec.yaml`; raises `SpecError`."""
    raw = text.encode("utf-8")
    loaded = LoadedSpec(
        Path("spec.yaml"), "spec.yaml", raw, parse_spec_bytes(raw, "spec.yaml")
    )
    return validate(loaded)


def module_of(text: str) -> str:
    """The module rendered for a valid spec (not verified)."""
    spec = validated(text)
    return render(plan(spec, "spec.yaml", "spec.py", digest(spec)))


def run(tmp_path: Path, text: str) -> tuple[int, list[str]]:
    """`wrapgen spec.yaml -o out/model.py`: its exit code and stderr lines."""
    path = tmp_path / "spec.yaml"
    path.write_text(text, "utf-8")
    result = CliRunner().invoke(
        app, [str(path), "-o", str(tmp_path / "out" / "model.py")]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.stderr.splitlines()


def assert_located(lines: list[str], field: str, expected: str) -> None:
    """One located `spec.yaml:LINE:COL: field: expected ..., found ...` line names `field`."""
    assert lines, "no error"
    assert all(
        re.match(r"^\S*spec\.yaml:\d+:\d+: \S+: expected .*, found ", line)
        for line in lines
    ), lines
    assert any(f": {field}: {expected}" in line for line in lines), lines


# -- numbers ------------------------------------------------------------------
# A 5,001-digit decimal integer is tested here, not in tests/bad_specs/: PyYAML's own
# safe_load, which the schema test runs on every corpus spec, cannot read it either.


@pytest.mark.parametrize(
    ("placeholder", "number", "field"),
    [
        (
            "KERNEL_SEED",
            "1" + "0" * 5000,
            "variables.kernel.initializer.glorot_uniform.seed",
        ),
        ("WIDTH", "9" * 5001, "inputs.x.shape[1]"),
        ("LEARNING_RATE", "0x" + "f" * 5001, "training.optimizer.sgd.learning_rate"),
        ("DROPOUT_SEED", "-" + "7" * 401, "forward.layers[1].dropout.seed"),
    ],
    ids=[
        "5001-digit seed",
        "5001-digit dimension",
        "5001-hex-digit rate",
        "401-digit seed",
    ],
)
def test_an_overlong_number_is_a_located_error_not_a_crash(
    tmp_path, placeholder, number, field
):
    code, lines = run(tmp_path, spec_text(**{placeholder: number}))
    assert code == 2, lines
    assert_located(
        lines, field, f"expected a number of at most {MAX_NUMBER_LENGTH} characters"
    )


def test_numbers_at_their_bounds_are_accepted_and_written_exactly():
    text = spec_text(
        KERNEL_SEED=str(2**63 - 1),
        DROPOUT_SEED=str(-(2**63)),
        LEARNING_RATE="3.4028234663852886e+38",  # the largest float32
    )
    assert problems(text) == []
    module = module_of(text)
    assert module == module_of(text)
    tree = ast.parse(module)
    (rate,) = (
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and ast.unparse(node.targets[0]) == "LEARNING_RATE"
    )
    assert rate == 3.4028234663852886e38
    assert f"[{2**63 - 1}, 0]" in module
    assert f"_dropout_seed({-(2**63)}, x)" in module


def test_a_dimension_and_a_shape_of_2_31_minus_1_elements_are_accepted():
    text = spec_text(WIDTH="1").replace("shape: [1, 3]", f"shape: [1, {2**31 - 1}]")
    text = text.replace("bias: {shape: [3]", f"bias: {{shape: [{2**31 - 1}]")
    assert problems(text) == []


OUT_OF_BOUNDS = {
    "dimension 2**31": (
        spec_text().replace("[null, 4]", f"[null, {2**31}]"),
        "inputs.x.shape[1]",
        "expected a dimension of at most 2147483647 (an int32), found 2147483648",
    ),
    "2**31 elements": (
        spec_text(WIDTH="2").replace("shape: [2, 3]", f"shape: [2, {2**30}]"),
        "variables.kernel.shape",
        "expected at most 2147483647 elements, found [2, 1073741824] with 2147483648",
    ),
    "2**31 elements per example": (
        spec_text().replace("[null, 4]", f"[null, 2, {2**30}]"),
        "inputs.x.shape",
        "expected at most 2147483647 elements per example",
    ),
    "seed 2**63": (
        spec_text(KERNEL_SEED=str(2**63)),
        "variables.kernel.initializer.glorot_uniform.seed",
        "expected an integer from -9223372036854775808 to 9223372036854775807 (an int64)",
    ),
    "dropout seed -2**63 - 1": (
        spec_text(DROPOUT_SEED=str(-(2**63) - 1)),
        "forward.layers[1].dropout.seed",
        "expected an integer from -9223372036854775808",
    ),
    "axis 2**31": (
        spec_text().replace(
            "    - softmax", f"    - softmax\n    - reduce_mean: {{axis: {2**31}}}"
        ),
        "forward.layers[3].reduce_mean.axis",
        "expected an integer at most 2147483647 (an int32), found 2147483648",
    ),
    "float32 overflow": (
        spec_text(LEARNING_RATE="3.5e+38"),
        "training.optimizer.sgd.learning_rate",
        "expected a finite number that float32 holds",
    ),
    "float32 underflow to 0": (
        spec_text(LEARNING_RATE="1.0e-46"),
        "training.optimizer.sgd.learning_rate",
        "expected a number above 0, found 1.0e-46, which float32 rounds to 0.0",
    ),
    "float16 overflow": (
        spec_text().replace(
            "bias: {shape: [3], initializer: zeros}",
            "bias: {shape: [3], dtype: float16, initializer: {constant: {value: 65520.0}}}",
        ),
        "variables.bias.initializer.constant.value",
        "expected a finite number that float16 holds (magnitude at most 65504.0), found 65520.0",
    ),
    "float16 dropout rate rounds to 1": (
        spec_text()
        .replace("dtype: float32, shape: [null, 4]", "dtype: float16, shape: [null, 4]")
        .replace("kernel: {shape: [4, 3]", "kernel: {shape: [4, 3], dtype: float16")
        .replace("bias: {shape: [3]", "bias: {shape: [3], dtype: float16")
        .replace("rate: 0.5", "rate: 0.9999"),
        "forward.layers[1].dropout.rate",
        "expected a number in [0, 1), found 0.9999, which float16 rounds to 1.0",
    ),
    "float16 learning rate rounds to 0": (
        spec_text(LEARNING_RATE="1.0e-8")
        .replace("dtype: float32, shape: [null, 4]", "dtype: float16, shape: [null, 4]")
        .replace("kernel: {shape: [4, 3]", "kernel: {shape: [4, 3], dtype: float16")
        .replace("bias: {shape: [3]", "bias: {shape: [3], dtype: float16"),
        "training.optimizer.sgd.learning_rate",
        "expected a number above 0, found 1.0e-8, which float16 rounds to 0.0",
    ),
    "int32 constant 2**31": (
        spec_text()
        .replace("    - dense:", "    - normalize: {mean: m, std: s}\n    - dense:")
        .replace(
            "variables:\n",
            "variables:\n  m: {shape: [4], dtype: int32, trainable: false, initializer: {constant: {value: 2147483648}}}\n  s: {shape: [4], trainable: false, initializer: ones}\n",
        ),
        "variables.m.initializer.constant.value",
        "expected a whole number from -2147483648 to 2147483647 (int32), found 2147483648",
    ),
    "int64 constant 0.5": (
        spec_text()
        .replace("    - dense:", "    - normalize: {mean: m, std: s}\n    - dense:")
        .replace(
            "variables:\n",
            "variables:\n  m: {shape: [4], dtype: int64, trainable: false, initializer: {constant: {value: 0.5}}}\n  s: {shape: [4], trainable: false, initializer: ones}\n",
        ),
        "variables.m.initializer.constant.value",
        "expected a whole number from -9223372036854775808 to 9223372036854775807 (int64), found 0.5",
    ),
    "bool constant 2": (
        spec_text()
        .replace("    - dense:", "    - normalize: {mean: m, std: s}\n    - dense:")
        .replace(
            "variables:\n",
            "variables:\n  m: {shape: [4], dtype: bool, trainable: false, initializer: {constant: {value: 2}}}\n  s: {shape: [4], trainable: false, initializer: ones}\n",
        ),
        "variables.m.initializer.constant.value",
        "expected 0 or 1 (bool), found 2",
    ),
}


@pytest.mark.parametrize("case", OUT_OF_BOUNDS, ids=list(OUT_OF_BOUNDS))
def test_a_number_outside_what_tensorflow_holds_where_it_ends_up_is_refused(case):
    text, field, expected = OUT_OF_BOUNDS[case]
    found = problems(text)
    assert len(found) == 1, found
    assert_located(found, field, expected)


def test_an_integer_constant_is_kept_exact_not_rounded_through_a_float():
    text = (
        spec_text()
        .replace("    - dense:", "    - normalize: {mean: m, std: s}\n    - dense:")
        .replace(
            "variables:\n",
            f"variables:\n  m: {{shape: [4], dtype: int64, trainable: false, initializer: {{constant: {{value: {2**62 + 1}}}}}}}\n  s: {{shape: [4], trainable: false, initializer: ones}}\n",
        )
    )
    spec = validated(text)
    assert spec.variables[0].initializer.params["value"] == 2**62 + 1
    assert f"tf.constant({2**62 + 1}, shape=[4], dtype=tf.int64)" in module_of(text)


# -- generated names ----------------------------------------------------------

TOKENS = ("a", "loss", "total", "count", "metric")
NAMES = [
    name
    for size in (1, 2, 3)
    for words in itertools.product(TOKENS, repeat=size)
    if name_problem(name := "_".join(words), SNAKE_NAME, "a name") is None
    and name != "num_examples"
]
"""Every snake_case name of one to three of `TOKENS`: rich in `_total` and `_count` endings."""

KINDS = {True: "num_batches", False: "loss"}
"""A counter metric and an example-weighted mean."""


def test_the_planner_names_accumulators_with_the_function_validation_checks():
    metrics = "\n".join(
        f"  {name}: {KINDS[index % 2 == 0]}"
        for index, name in enumerate(("loss", "a_b", "count", "c9"))
    )
    spec = validated(spec_text(METRICS=metrics))
    assigned = set(
        re.findall(r"self\.(\w+) = tf\.Variable", module_of(spec_text(METRICS=metrics)))
    )
    expected = {
        attr
        for m in spec.metrics
        for attr in metric_attributes(m.name, m.kind in catalogue.COUNTER_METRICS)
    }
    assert expected <= assigned
    assert assigned - expected == {"kernel", "bias"}


def test_no_two_names_that_validate_together_make_the_same_attribute():
    """Exhaustive over `NAMES` x counter/mean: a shared attribute is refused, at the second name."""
    colliding = 0
    accepted: list[tuple[str, bool, str, bool]] = []
    for (first, first_counter), (second, second_counter) in itertools.permutations(
        itertools.product(NAMES, (True, False)), 2
    ):
        if first == second:
            continue
        shared = set(metric_attributes(first, first_counter)) & set(
            metric_attributes(second, second_counter)
        )
        attributes = metric_attributes(first, first_counter) + metric_attributes(
            second, second_counter
        )
        assert not set(attributes) & FIXED_ATTRIBUTES
        assert all(
            attr.startswith("_") for attr in attributes
        )  # never a variable's `self.<name>`
        if not shared:
            accepted.append((first, first_counter, second, second_counter))
            continue
        colliding += 1
        metrics = (
            f"  {first}: {KINDS[first_counter]}\n  {second}: {KINDS[second_counter]}"
        )
        found = problems(spec_text(METRICS=metrics))
        assert len(found) == 1, found
        assert_located(
            found,
            f"metrics.{second}",
            "expected a name whose generated attributes no other name makes",
        )
    assert colliding > 50
    for first, first_counter, second, second_counter in random.Random(0).sample(
        accepted, 200
    ):
        metrics = (
            f"  {first}: {KINDS[first_counter]}\n  {second}: {KINDS[second_counter]}"
        )
        assert problems(spec_text(METRICS=metrics)) == []


near_names = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["a", "loss", "a_count", "total"]),
        st.sampled_from(["", "_total", "_count", "_count_total", "_metric"]),
    ),
)
"""Names that often differ by exactly an accumulator suffix."""

metric_lists = st.lists(
    st.tuples(
        near_names,
        st.sampled_from(
            ["num_examples", "num_batches", "loss", "sparse_categorical_accuracy"]
        ),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda item: item[0],
)


@given(metrics=metric_lists)
def test_a_valid_spec_assigns_each_attribute_of_its_class_once(metrics):
    text = spec_text(METRICS="\n".join(f"  {name}: {kind}" for name, kind in metrics))
    found = problems(text)
    if found:
        assert all(
            "generated attributes no other name makes" in line for line in found
        ), found
        return
    targets = re.findall(
        r"^        self\.(\w+) = ", module_of(text), flags=re.MULTILINE
    )
    assert len(targets) == len(set(targets))


def _variants() -> list[Path]:
    """Every example spec: layer stacks and Keras, each optimizer, seeded dropout."""
    return sorted(EXAMPLES.glob("*.yaml"))


@pytest.mark.parametrize("spec", _variants(), ids=lambda p: p.stem)
def test_every_module_level_name_is_reserved_and_the_class_cannot_rebind_one(spec):
    tree = ast.parse(generate(spec).text)
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert defined - classes <= RESERVED_MODULE_NAMES


def test_no_reserved_module_name_is_accepted_as_a_class_name():
    for name in RESERVED_MODULE_NAMES:
        assert name_problem(name, CLASS_NAME, "a class name") is not None, name


# -- Keras builders ----------------------------------------------------------

KERAS_SPEC = (
    spec_text().split("variables:")[0]
    + "forward: {keras: BUILDER}\n"
    + spec_text().split("    - softmax\n")[1]
)


@pytest.mark.parametrize(
    "builder",
    [
        "os:abort",
        "pdb:set_trace",
        "code:interact",
        "sys:settrace",
        "_thread:interrupt_main",
        "os.path:join",
        "tensorflow.keras.models:clone_model",
        "tensorflow_federated:program",
        "keras:models",
        "numpy:show_config",
        "codegen.cli:main",
        "wrapgen:main",
        "__main__:main",
    ],
)
def test_a_builder_outside_the_users_own_code_is_refused_saying_what_is_allowed(
    builder,
):
    found = problems(KERAS_SPEC.replace("BUILDER", builder))
    assert len(found) == 1, found
    assert_located(
        found,
        "forward.keras",
        "expected module:function naming a zero-argument function in your own module",
    )
    assert f"found {builder!r} (" in found[0]


@pytest.mark.parametrize(
    "builder", ["keras_builders:build_mlp", "my_models.nets:build", "osmodels:abort"]
)
def test_a_builder_in_the_users_own_module_is_accepted(builder):
    assert problems(KERAS_SPEC.replace("BUILDER", builder)) == []


def test_every_standard_library_and_builtin_module_is_refused_as_a_builder():
    for module in (*sys.stdlib_module_names, *sys.builtin_module_names):
        assert builder_module_problem(module) is not None, module
        assert builder_module_problem(f"{module}.sub") is not None, module


# -- sizes ------------------------------------------------------------------


def _long(prefix: str, index: int) -> str:
    return f"{prefix}{index}".ljust(40, "x")


def spec_at_every_limit() -> str:
    """Every section at its limit, every name 40 characters long: the largest module."""
    dense = catalogue.MAX_VARIABLES // 2
    inputs = [
        f"  {_long('input_', i)}: {{dtype: float32, shape: [null, 4]}}"
        for i in range(catalogue.MAX_INPUTS - 1)
    ]
    variables, layers = [], []
    for i in range(dense):
        kernel, bias = _long("kernel_", i), _long("bias_", i)
        variables.append(
            f"  {kernel}: {{shape: [4, 4], initializer: {{truncated_normal: {{seed: {i}, stddev: 0.05}}}}}}"
        )
        variables.append(f"  {bias}: {{shape: [4], initializer: zeros}}")
        layers.append(f"    - dense: {{kernel: {kernel}, bias: {bias}}}")
    layers += ["    - dropout: {rate: 0.5, seed: 7}"] * (
        catalogue.MAX_LAYERS - dense - 1
    ) + ["    - softmax"]
    kinds = [
        "{loss: {aggregation: max}}",
        "{sparse_categorical_accuracy: {aggregation: min}}",
        "loss",
        "num_batches",
    ]
    metrics = [
        f"  {_long('metric_', i)}: {kinds[i % 4]}"
        for i in range(catalogue.MAX_METRICS - 1)
    ]
    return "\n".join(
        [
            "wrapgen: 1",
            f"model: {{name: {'M' * 40}, description: {'d' * 200}}}",
            "inputs:",
            *inputs,
            "  y: {dtype: int32, shape: [null, 1]}",
            "label: y",
            "variables:",
            *variables,
            "forward:",
            f"  input: {_long('input_', 0)}",
            "  layers:",
            *layers,
            "loss: sparse_categorical_crossentropy",
            "metrics:",
            "  num_examples: num_examples",
            *metrics,
            "training: {optimizer: {adam: {learning_rate: 0.001}}}",
            "",
        ]
    )


def test_a_spec_at_every_limit_generates_a_verified_module(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(spec_at_every_limit(), "utf-8")
    spec = validated(path.read_text("utf-8"))
    assert len(spec.metrics) == catalogue.MAX_METRICS
    assert len(spec.variables) == catalogue.MAX_VARIABLES
    assert len(spec.inputs) == catalogue.MAX_INPUTS
    assert len(spec.forward.layers) == catalogue.MAX_LAYERS  # type: ignore[union-attr]
    code, lines = run(tmp_path, path.read_text("utf-8"))
    assert code == 0, lines[-5:]


@pytest.mark.parametrize(
    ("section", "entry"),
    [
        ("metrics", "  m{i}: num_batches"),
        ("inputs", "  i{i}: {{dtype: float32, shape: [null, 4]}}"),
        ("variables", "  v{i}: {{shape: [1], initializer: zeros}}"),
    ],
)
def test_a_section_over_its_limit_is_refused_at_validation(tmp_path, section, entry):
    many = "\n".join(entry.format(i=i) for i in range(1000))
    text = spec_text().replace(f"{section}:\n", f"{section}:\n{many}\n", 1)
    code, lines = run(tmp_path, text)
    assert code == 2, lines[-3:]
    assert_located(lines, section, f"expected at most 100 {section}, found 1002")


def test_a_layer_stack_over_its_limit_is_refused_at_validation():
    text = spec_text().replace(
        "    - softmax", "    - softmax\n" + "    - relu\n" * catalogue.MAX_LAYERS
    )
    assert_located(
        problems(text), "forward.layers", "expected at most 100 layers, found 103"
    )
