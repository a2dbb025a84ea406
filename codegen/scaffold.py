"""`wrapgen init`: write a commented starter spec, from a template or from a Keras builder.

A starter spec is validated before it is written, and an existing file is
never replaced. Its name must make an importable module: the generated
module is the spec's name with .py.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from codegen.errors import UsageError, WrapgenError
from codegen.files import signals_deferred
from codegen.load import LoadedSpec, parse_spec_bytes
from codegen.names import (
    CLASS_NAME,
    module_name_problem,
    module_name_suggestion,
    name_problem,
)
from codegen.render import environment
from codegen.validate import validate

TEMPLATES = ("logistic", "cnn", "keras")


def spec_path_for(name: str) -> Path:
    """`NAME` -> `NAME.yaml`; a name already ending in .yaml/.yml is used as given."""
    path = Path(name)
    return path if path.suffix in (".yaml", ".yml") else path.with_suffix(".yaml")


def class_name_for(stem: str) -> str:
    """`my_model` -> `MyModel`; raises UsageError when no valid class name results."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", stem) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words)
    problem = (
        name_problem(name, CLASS_NAME, "a CamelCase class name") if name else "empty"
    )
    if problem or not name[:1].isalpha():
        raise UsageError(
            f"{stem!r}: cannot make a class name from it ({problem or 'starts with a digit'}); "
            "choose a NAME like my_model"
        )
    return name


def check_module_name(spec_path: Path) -> None:
    """Raise UsageError, with a snake_case suggestion, unless the spec's module `STEM.py`
    can be imported as `STEM` without hiding another module."""
    stem = spec_path.stem
    problem = module_name_problem(stem)
    if problem is None:
        return
    suggestion = module_name_suggestion(stem)
    advice = (
        f"use NAME {spec_path.with_name(suggestion).as_posix()}"
        if suggestion
        else "choose a NAME like my_model"
    )
    raise UsageError(
        f"{spec_path}: the generated module would be {stem}.py: {problem}; {advice}"
    )


def render_template(template: str, spec_path: Path) -> str:
    """The starter spec `template` for `spec_path`."""
    check_module_name(spec_path)
    if template not in TEMPLATES:
        raise UsageError(
            f"--template: expected one of {', '.join(TEMPLATES)}, found {template!r}"
        )
    stem = spec_path.stem
    return (
        environment()
        .get_template(f"init/{template}.yaml.jinja")
        .render(
            name=class_name_for(stem),
            spec_file=spec_path.name,
            builder_module=f"{stem}_keras",
        )
    )


def render_from_keras(builder: str, spec_path: Path, layers: bool = False) -> str:
    """A spec for `spec_path` wrapping the Keras model `builder` (module:function)
    returns, or, with `layers`, writing it as catalogue layers."""
    check_module_name(spec_path)  # before the slow import of TensorFlow
    from codegen import keras_spec  # imports TensorFlow

    if layers:
        values = keras_spec.describe_layers(builder)
        template = "init/from_keras_layers.yaml.jinja"
    else:
        values = keras_spec.describe_builder(builder)
        template = "init/from_keras.yaml.jinja"
    return (
        environment()
        .get_template(template)
        .render(name=class_name_for(spec_path.stem), spec_file=spec_path.name, **values)
    )


def write_new_spec(spec_path: Path, text: str) -> None:
    """Validate `text` as a spec, then create `spec_path`; never replaces a file."""
    raw = text.encode("utf-8")
    try:
        validate(
            LoadedSpec(
                spec_path, str(spec_path), raw, parse_spec_bytes(raw, str(spec_path))
            )
        )
    except WrapgenError as error:  # a starter wrapgen writes must always be valid
        raise UsageError(
            f"{spec_path}: the starter spec is not valid:\n{error}"
        ) from None
    if spec_path.exists():
        raise UsageError(
            f"{spec_path}: already exists; wrapgen init never overwrites a file"
        )
    folder = spec_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with signals_deferred():  # Ctrl-C waits: the temporary file is always removed
            descriptor, temporary = tempfile.mkstemp(
                prefix=f".{spec_path.name}.", dir=folder
            )
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(raw)
                os.link(temporary, spec_path)  # fails if the file appeared meanwhile
            finally:
                Path(temporary).unlink(missing_ok=True)
    except FileExistsError:
        raise UsageError(
            f"{spec_path}: already exists; wrapgen init never overwrites a file"
        ) from None
    except OSError as exc:
        raise UsageError(f"{spec_path}: cannot write: {exc.strerror or exc}") from None
