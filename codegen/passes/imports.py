"""WG601 imports: a generated module imports only what its templates and its spec allow.

A wrapgen module is meant to be read and trusted in review: it imports
TensorFlow, TensorFlow Federated, the standard-library modules the templates
use (`collections`, `collections.abc`) and, for a Keras-builder spec, the one
builder function the spec names (as `_build_keras_model`). Any other import,
and any dynamic import (`__import__`, `importlib`), in a file that carries the
wrapgen header means the file was edited by hand or something was smuggled in.
Hand-written modules (no header) are not checked by this pass.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from codegen.passes import match as m
from codegen.passes.analysis import GENERATED_MARKER, Finding, SourceModule

CODE = "WG601"
NAME = "imports"
MESSAGE = "a generated module imports something its templates and spec do not allow"

ALLOWED_MODULES = (
    "collections",
    "collections.abc",
    "tensorflow",
    "tensorflow_federated",
)
BUILDER_ALIAS = "_build_keras_model"
DYNAMIC_IMPORTS = ("__import__", "importlib.import_module", "importlib.__import__")

_HEADER = GENERATED_MARKER + "0.1.0 from model.yaml (sha256 0). DO NOT EDIT.\n"

VALID = (
    _HEADER
    + "import collections\n"
    + "from collections.abc import Mapping\n\n"
    + "import tensorflow as tf\n"
    + "import tensorflow_federated as tff\n",
    # Without the header the module is hand-written: anything goes.
    "import os\nimport numpy as np\nimport tensorflow as tf\n",
)

INVALID = (
    (3, 1, _HEADER + "import tensorflow as tf\nimport os\n"),
    (2, 1, _HEADER + "from keras_builders import build_mlp as _build_keras_model\n"),
    (3, 9, _HEADER + "import tensorflow as tf\ntf_io = __import__('os')\n"),
)


def check(module: SourceModule) -> Iterator[Finding]:
    if not module.generated:
        return
    builder = module.keras_builder
    for node in module.findall(module.tree, m.Import() | m.ImportFrom()):
        if isinstance(node, cst.Import):
            for alias in node.names:
                name = module.code_for(alias.name)
                if name not in ALLOWED_MODULES:
                    yield _disallowed(module, node, name)
            continue
        assert isinstance(node, cst.ImportFrom)
        name = "." * len(node.relative) + (
            module.code_for(node.module) if node.module else ""
        )
        if name in ALLOWED_MODULES:
            continue
        names = node.names
        imported = (
            [
                (module.code_for(a.name), a.asname and module.code_for(a.asname.name))
                for a in names
            ]
            if not isinstance(names, cst.ImportStar)
            else [("*", None)]
        )
        if len(imported) == 1 and imported[0][1] == BUILDER_ALIAS:
            spec_builder = f"{name}:{imported[0][0]}"
            if builder == spec_builder:
                continue
            if builder is None:
                reason = (
                    module.keras_builder_problem or "its spec names no Keras builder"
                )
                yield module.finding(
                    node,
                    CODE,
                    f"imports Keras builder `{spec_builder}`, which cannot be confirmed: {reason}",
                )
                continue
            yield module.finding(
                node,
                CODE,
                f"imports Keras builder `{spec_builder}`, but the spec names `{builder}`",
            )
            continue
        yield _disallowed(module, node, name)
    for call in module.findall(module.tree, m.Call()):
        if module.call_name(call) in DYNAMIC_IMPORTS:
            yield module.finding(
                call, CODE, "a generated module never imports dynamically"
            )


def _disallowed(module: SourceModule, node: cst.CSTNode, name: str) -> Finding:
    return module.finding(
        node,
        CODE,
        f"generated module imports `{name}`; only {', '.join(ALLOWED_MODULES)} and the "
        "spec's Keras builder are allowed (regenerate it from its spec)",
    )
