"""The `wrapgen` executable (and `python -m codegen`).

Before anything else is imported, a one-spec generation starts its verifier
in a second process (`codegen.prefork`); then the command line runs.
"""

from __future__ import annotations

import sys

from codegen import prefork


def main() -> None:
    try:
        prefork.start_for(sys.argv[1:])
        from codegen.cli import run

        run()
    finally:
        prefork.stop()


__all__ = ["main"]
