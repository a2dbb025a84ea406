"""wrapgen: generate TensorFlow Federated model wrappers from YAML specs.

The pipeline is load -> validate -> plan -> render -> verify -> write, one
module each; `codegen.generate` runs the first five stages on one spec.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Generated", "__version__", "generate"]


def __getattr__(name: str):
    # The pipeline (Jinja, the catalogue, the planner) is imported on first use, so
    # `wrapgen verify` and `wrapgen check` of fresh modules load only what they need.
    if name in ("Generated", "generate"):
        from codegen import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'codegen' has no attribute {name!r}")
