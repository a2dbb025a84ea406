"""wrapgen: generate TensorFlow Federated model wrappers from YAML specs.

The pipeline is load -> validate -> plan -> render -> verify -> write, one
module each; `codegen.generate` runs the first five stages on one spec.
"""

__version__ = "0.1.0"

from codegen.pipeline import Generated, generate  # noqa: E402

__all__ = ["Generated", "__version__", "generate"]
