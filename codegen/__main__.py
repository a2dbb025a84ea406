"""`python -m codegen` runs the wrapgen command line."""

from codegen.cli import run

run()
