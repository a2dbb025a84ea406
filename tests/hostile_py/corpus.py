"""The hostile-input corpus of `wrapgen verify`: each input's bytes, built when the tests run.

The inputs are generated, not committed: some are large (one is 20 MB),
some are not UTF-8 or hold NUL bytes, and none should be picked up by
tools that lint or verify `*.py` files. Each `NAME` has the output of
`wrapgen verify NAME.py` (run in the input's folder) pinned in `NAME.out`
beside this file: exit code, stdout, stderr. After a deliberate change of
wording, rewrite them with `.venv/bin/python tests/hostile_py/corpus.py` and
review the diff.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
HANDWRITTEN = ROOT / "tests" / "handwritten" / "linear_regression.py"
TIMEOUT = 60
"""Seconds a single `wrapgen verify` may take before the test fails (a hang)."""


def _handwritten_with(line: str) -> bytes:
    """The hand-written model with `line` added to the body of `forward_pass`."""
    anchor = "        self._count(num_examples, loss)\n"
    source = HANDWRITTEN.read_text("utf-8")
    return source.replace(anchor, anchor + f"        {line}\n").encode("utf-8")


def _subclass_chain(length: int) -> bytes:
    classes = [f"class A{i}(A{i - 1}):\n    pass\n" for i in range(1, length)]
    return ("class A0:\n    pass\n" + "".join(classes)).encode()


_MODEL = """\
import tensorflow as tf
import tensorflow_federated as tff


class M(tff.learning.models.VariableModel):
    def __init__(self):
        self._b0()

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def local_variables(self):
        return [self._n]

    def forward_pass(self, batch_input, training=True):
        self.m0(self._n, self._w)
        return tff.learning.models.BatchOutput(loss=0.0, predictions=0.0, num_examples=1)

    def _b0(self):
        self._w = tf.Variable(0.0)
        self._n = tf.Variable(0.0)
"""


def _method_web(count: int) -> bytes:
    """`count` methods each calling three others (cycles everywhere), and a chain of
    `_build` helpers from `__init__` that one method also calls: each walk of the
    call graph once, not once per method (was minutes)."""
    methods = "".join(
        f"    def m{i}(self, a, b):\n"
        f"        self.m{(i + 1) % count}(b, a)\n"
        f"        self.m{i * 7 % count}(a=b, b=a)\n"
        f"        self._b{i * 3 % count}()\n"
        f"        a.assign(1.0)\n"
        f"    def _b{i}(self):\n"
        f"        self._b{(i + 1) % count}()\n"
        f"        self._b{i * 5 % count}()\n"
        for i in range(1, count)
    )
    return (_MODEL + methods).encode()


REMOVED_API = (
    "import tensorflow_federated as tff\n\n"
    "process = tff.learning.{name}(model_fn)  # {comment}\n"
)

HOSTILE: dict[str, Callable[[], bytes]] = {
    # The classes of issue 11: each crashed, hung or raised RecursionError.
    "nested_brackets": lambda: b"x = " + b"(" * 4000 + b"1" + b")" * 4000 + b"\n",
    "unary_minus": lambda: b"x = " + b"-" * 100_000 + b"1\n",
    "plus_chain": lambda: b"x = 1" + b" + 1" * 9000 + b"\n",
    "attribute_chain": lambda: b"x = a" + b".b" * 5000 + b"\n",
    "subclass_chain": lambda: _subclass_chain(1000),
    "huge_module": lambda: b"x = 1\n" * 3_500_000,
    "nul_byte": lambda: b"x = 1\ny = 2\x00\n",
    # Other ways to nest deeply or to hide nesting from a token scan.
    "string_concatenation": lambda: b"x = " + b"'a' " * 5000 + b"\n",
    "elif_chain": lambda: b"if a:\n    pass\n" + b"elif a:\n    pass\n" * 5000,
    "lambda_defaults": lambda: b"x = " + b"lambda a=" * 3000 + b"1" + b": 0" * 3000,
    "comprehension_targets": lambda: b"x = [a" + b" for a, b in c" * 3000 + b"]\n",
    "fstring_field": lambda: b'x = f"{' + b"-" * 100_000 + b'1}"\n',
    "fstring_quote_reuse": lambda: (
        b'x = f"{"" if 0 else ' + b"(" * 5000 + b"1" + b")" * 5000 + b'}"\n'
    ),
    "carriage_return": lambda: b"# comment\rx = " + b"-" * 100_000 + b"1\n",
    "too_many_lines": lambda: b"pass\n" * 25_000,
    "too_many_tokens": lambda: b"x = [" + b"1," * 160_000 + b"]\n",
    "bom_and_latin1_coding_line": lambda: (
        b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n"
    ),
}
"""Inputs over a limit: each must exit 2 with one located line on stderr."""

VERIFIED: dict[str, Callable[[], bytes]] = {
    "latin1_coding_line": lambda: (
        b"# -*- coding: latin-1 -*-\n"
        + REMOVED_API.format(
            name="build_federated_averaging_process", comment="caf\xe9"
        ).encode("latin-1")
    ),
    "fullwidth_assign": lambda: _handwritten_with("self._a.\uff41ssign(self._a * 0.5)"),
    "fullwidth_receiver": lambda: _handwritten_with("self._\uff41.assign_add(self._a)"),
    "ligature_before_write": lambda: _handwritten_with(
        "self.\ufb01eld = 0; self._a.\uff41ssign(self._a)"
    ),
    "fullwidth_removed_api": lambda: REMOVED_API.format(
        name="\uff42uild_federated_averaging_process", comment="fullwidth b"
    ).encode(),
    "fullwidth_import_alias": lambda: (
        "import tensorflow_federated as \uff54ff\n\n"
        "process = tff.learning.build_federated_averaging_process(model_fn)\n"
    ).encode(),
    "method_web": lambda: _method_web(1000),
    "diamond_inheritance": lambda: (
        "class A0:\n    pass\n"
        + "".join(f"class A{i}(A{i - 1}, A{i - 1}):\n    pass\n" for i in range(1, 40))
    ).encode(),
}
"""Inputs that must be verified as Python runs them (findings pinned, or none)."""

CORPUS = {**HOSTILE, **VERIFIED}


def run(name: str, folder: Path) -> subprocess.CompletedProcess:
    """Write input `name` to `folder/NAME.py` and run `wrapgen verify NAME.py` there."""
    (folder / f"{name}.py").write_bytes(CORPUS[name]())
    return verify(folder, f"{name}.py")


def verify(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`wrapgen verify ARGS` in its own process, run in `folder`, within `TIMEOUT`."""
    return subprocess.run(
        [sys.executable, "-m", "codegen", "verify", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def snapshot(result: subprocess.CompletedProcess) -> str:
    """The pinned form of one run: exit code, stdout, stderr."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"


def main() -> int:
    """Rewrite every `NAME.out`; report the names whose output changed."""
    import tempfile

    changed = 0
    for name in CORPUS:
        with tempfile.TemporaryDirectory() as folder:
            text = snapshot(run(name, Path(folder)))
        target = HERE / f"{name}.out"
        if not target.exists() or target.read_text("utf-8") != text:
            target.write_text(text, "utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
            changed += 1
    print(f"{changed} of {len(CORPUS)} snapshots changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
