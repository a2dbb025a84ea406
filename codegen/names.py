"""Rules for names that a spec puts into the generated module."""

from __future__ import annotations

import builtins
import keyword
import re
import sys

SNAKE_NAME = re.compile(r"^[a-z][a-z0-9_]*\Z")
CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*\Z")
DOTTED_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")

MAX_NAME_LENGTH = 40
MAX_METRIC_NAME_LENGTH = 64
"""Metric names may be longer (TFF's tasks name metrics such as
`accuracy_without_out_of_vocab_or_end_of_sentence`)."""

RESERVED_MEMBERS = frozenset(
    {
        "trainable_variables",
        "non_trainable_variables",
        "local_variables",
        "input_spec",
        "forward_pass",
        "predict_on_batch",
        "train_on_batch",
        "report_local_outputs",
        "report_local_unfinalized_metrics",
        "metric_finalizers",
        "reset_metrics",
        "federated_output_computation",
        "weights",
    }
)
"""Members of the generated class; a variable with one of these names would shadow it."""

RESERVED_MODULE_NAMES = frozenset(
    {
        # imports
        "tf",
        "tff",
        "collections",
        "Mapping",
        "_build_keras_model",
        # public functions
        "model_fn",
        "client_optimizer",
        "metrics_aggregator",
        "metrics_aggregation_process",
        # constants; the optimizer's are CamelCase-shaped (EPSILON, MOMENTUM)
        "INPUT_SPEC",
        "BATCH_KEYS",
        "FEATURE_SPECS",
        "METRIC_NAMES",
        "METRIC_AGGREGATIONS",
        "LOCAL_OUTPUTS_TYPE",
        "UNFINALIZED_METRICS_TYPE",
        "LEARNING_RATE",
        "MOMENTUM",
        "BETA_1",
        "BETA_2",
        "EPSILON",
        # helpers
        "_finalize_mean",
        "_finalize_count",
        "_check_variables",
        "_check_batch",
        "_batch_leaves",
        "_carried_inputs",
        "_check_keras_inputs",
        "_dropout_seed",
    }
)
"""Every module-level name of a generated module besides its class (the class
must not rebind one; tests check this list against the rendered modules)."""

RESERVED_TFF_ATTRIBUTES = frozenset({"comp", "type_signature"})
"""Attributes of a placed TFF value; a metric with such a name could not be read from one."""


FIXED_ATTRIBUTES = RESERVED_MEMBERS | {
    "_keras_model",
    "_optimizer_step",
    "_optimizer_m",
    "_optimizer_v",
    "_optimizer_velocity",
}
"""Attributes of the generated class that no spec name produces."""


def metric_attributes(name: str, counter: bool) -> tuple[str, ...]:
    """The attributes of the generated class that accumulate metric `name`.

    A counter (num_examples, num_batches) has one; an example-weighted mean
    has a total and an example count. `validate` refuses a spec in which two
    names produce the same attribute (`loss` and a counter `loss_count`).
    """
    if counter:
        return (f"_metric_{name}",)
    return (f"_metric_{name}_total", f"_metric_{name}_count")


def name_problem(
    name: str, pattern: re.Pattern[str], what: str, longest: int = MAX_NAME_LENGTH
) -> str | None:
    """Why `name` cannot be used in generated code, or None when it can."""
    if not pattern.match(name):
        return f"expected {what}, found {name!r}"
    if len(name) > longest:
        return f"expected a name of at most {longest} characters, found {len(name)}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"expected a name that is not a Python keyword, found {name!r}"
    if hasattr(builtins, name):
        return f"expected a name that is not a Python builtin, found {name!r}"
    if name in RESERVED_MEMBERS | RESERVED_MODULE_NAMES | RESERVED_TFF_ATTRIBUTES:
        return f"expected a name not used by the generated module, found {name!r}"
    return None


RUNTIME_PACKAGES = (
    "tensorflow",
    "tensorflow_federated",
    "keras",
    "tf_keras",
    "numpy",
    "codegen",
    "wrapgen",
)
"""Packages a generated module runs on (and wrapgen itself): never the user's own code."""


def _standard_library() -> frozenset[str]:
    """Top-level module names of Python's standard library (listed by Python from 3.10)."""
    names = getattr(sys, "stdlib_module_names", None)
    if names is not None:
        return frozenset(names)
    import pkgutil  # Python 3.9: the modules beside `os`, and the built-in ones
    import sysconfig

    folder = sysconfig.get_paths()["stdlib"]
    found = {module.name for module in pkgutil.iter_modules([folder])}
    return frozenset(found | set(sys.builtin_module_names))


STANDARD_LIBRARY = _standard_library()

SHADOWED_MODULES = frozenset(
    {
        *STANDARD_LIBRARY,
        *("tensorflow", "tensorflow_federated", "keras", "numpy", "codegen"),
    }
)
"""Modules that a generated module of the same name would hide from its folder's scripts."""


def builder_module_problem(module: str) -> str | None:
    """Why `module` cannot hold a Keras builder, or None.

    A builder is the user's own code. Python's standard library and built-in
    modules (`os:abort`, `pdb:set_trace`, `code:interact`), the running
    program (`__main__`) and the packages the generated module runs on hold
    functions that a zero-argument call would run as a side effect; none of
    them returns the user's model.
    """
    top = module.split(".")[0]
    if top in sys.builtin_module_names or top in STANDARD_LIBRARY:
        return f"{top} is part of Python's standard library"
    if top == "__main__":
        return "__main__ is the running program"
    if top in RUNTIME_PACKAGES:
        return f"{top} is a package the generated module runs on"
    return None


def module_name_problem(name: str) -> str | None:
    """Why a generated `name.py` could not be imported as module `name`, or None."""
    if not name.isidentifier():
        return (
            "expected a Python module name (letters, digits and underscores, "
            f"not starting with a digit), found {name!r}"
        )
    if keyword.iskeyword(name):
        return f"expected a module name that is not a Python keyword, found {name!r}"
    if name in SHADOWED_MODULES:
        return (
            "expected a module name that does not hide a module of Python, TensorFlow "
            f"or wrapgen, found {name!r}"
        )
    return None


def snake_case(name: str) -> str:
    """`My-Model` -> `my_model`, `DigitsCNN` -> `digits_cnn`: lower-case words joined by `_`."""
    split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return "_".join(word for word in re.split(r"[^A-Za-z0-9]+", split) if word).lower()


def module_name_suggestion(name: str) -> str | None:
    """An importable snake_case module name close to `name`, or None."""
    for candidate in (snake_case(name), f"{snake_case(name)}_model"):
        if SNAKE_NAME.match(candidate) and module_name_problem(candidate) is None:
            return candidate
    return None
