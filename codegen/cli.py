"""The `wrapgen` command line: a thin layer that calls the pipeline and maps errors to exit codes.

Exit codes: 0 written or up to date; 1 verification findings or stale
modules; 2 bad input or usage; 3 internal error (a bug in wrapgen).
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperGroup

from codegen import __version__
from codegen.errors import WrapgenError
from codegen.pipeline import generate
from codegen.write import write_module

EXIT_CODES_HELP = (
    "Exit codes: 0 written or up to date, 1 verification findings or stale modules, "
    "2 bad input or usage, 3 internal error."
)


class _DefaultToGenerate(TyperGroup):
    """`wrapgen SPEC ...` means `wrapgen generate SPEC ...`."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if (
            args
            and args[0] not in self.commands
            and args[0] not in ("--help", "--version")
        ):
            args = ["generate", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultToGenerate,
    help="Generate TensorFlow Federated model wrappers from YAML specs.\n\n"
    + EXIT_CODES_HELP,
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wrapgen {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Generate TensorFlow Federated model wrappers from YAML specs."""


def _fail(error: WrapgenError) -> int:
    typer.echo(str(error), err=True)
    return error.exit_code


def _internal(spec: Path, error: Exception) -> int:
    typer.echo(
        f"{spec}: internal error in wrapgen: {error!r}; please report it with the spec",
        err=True,
    )
    return 3


@app.command(
    "generate",
    help="Generate the module for each SPEC (the default command).\n\n"
    + EXIT_CODES_HELP,
)
def generate_command(
    specs: List[Path] = typer.Argument(
        ..., help="Spec files (YAML).", show_default=False
    ),
    output: Optional[str] = typer.Option(
        None,
        "-o",
        "--output",
        help="Output .py path for a single spec; '-' writes to stdout.",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Overwrite an existing file that wrapgen did not generate.",
    ),
) -> None:
    if output is not None and len(specs) != 1:
        typer.echo("-o/--output takes exactly one spec", err=True)
        raise typer.Exit(2)
    code = 0
    for spec in specs:
        try:
            if output == "-":
                sys.stdout.write(generate(spec, to_stdout=True).text)
                continue
            generated = generate(spec, Path(output) if output else None)
            assert generated.output is not None
            changed = write_module(generated.output, generated.text, force=force)
            typer.echo(f"{'wrote' if changed else 'up to date'}: {generated.output}")
        except WrapgenError as error:
            code = max(code, _fail(error))
        except Exception as error:  # noqa: BLE001 - reported as a wrapgen bug, exit 3
            code = max(code, _internal(spec, error))
    raise typer.Exit(code)


@app.command(
    "check",
    help="Exit 1 with a diff when a generated module differs from a fresh generation; never writes.\n\n"
    + EXIT_CODES_HELP,
)
def check_command(
    specs: List[Path] = typer.Argument(
        ..., help="Spec files (YAML).", show_default=False
    ),
) -> None:
    code = 0
    for spec in specs:
        try:
            generated = generate(spec)
            assert generated.output is not None
            current = (
                generated.output.read_text("utf-8") if generated.output.exists() else ""
            )
            if current == generated.text:
                continue
            code = max(code, 1)
            name = str(generated.output)
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                generated.text.splitlines(keepends=True),
                fromfile=f"{name} (on disk)",
                tofile=f"{name} (from {spec})",
            )
            typer.echo(f"stale: {name}", err=True)
            sys.stdout.writelines(diff)
        except WrapgenError as error:
            code = max(code, _fail(error))
        except Exception as error:  # noqa: BLE001 - reported as a wrapgen bug, exit 3
            code = max(code, _internal(spec, error))
    raise typer.Exit(code)


@app.command(
    "verify",
    help="Check TFF model modules (generated or hand-written) with wrapgen's libcst passes; "
    "never writes.\n\n"
    "Findings print as `path:line:col: CODE message`, sorted. Silence a rule on one line "
    "of a hand-written module with `# wrapgen: ignore[CODE]`.\n\n"
    "Exit codes: 0 no findings, 1 findings, 2 unreadable or unparsable input, 3 internal error.",
)
def verify_command(
    paths: List[Path] = typer.Argument(
        None,
        help="Python files, or directories to search for *.py.",
        show_default=False,
    ),
    output_format: str = typer.Option(
        "text", "--format", help="Output format: text or json.", show_default=True
    ),
    select: Optional[str] = typer.Option(
        None, "--select", help="Comma-separated rule codes to run (default: all)."
    ),
    list_rules: bool = typer.Option(
        False, "--list-rules", help="List the rules and exit."
    ),
    explain: Optional[str] = typer.Option(
        None, "--explain", metavar="CODE", help="Explain one rule and exit."
    ),
) -> None:
    from codegen import report  # only this command formats findings

    if list_rules or explain:
        text, code = report.describe_rules(explain)
        typer.echo(text, err=code != 0)
        raise typer.Exit(code)
    if output_format not in ("text", "json"):
        typer.echo(
            f"--format: expected text or json, found {output_format!r}", err=True
        )
        raise typer.Exit(2)
    if not paths:
        typer.echo("verify: give at least one file or directory", err=True)
        raise typer.Exit(2)
    codes = None
    if select is not None:
        codes = [c.strip() for c in select.split(",") if c.strip()]
        unknown = report.unknown_codes(codes)
        if unknown:
            typer.echo(f"--select: unknown rule code(s) {', '.join(unknown)}", err=True)
            raise typer.Exit(2)
    raise typer.Exit(report.verify_paths(paths, output_format, codes, typer.echo))


@app.command(
    "run",
    help="Generate SPEC into a temporary folder and train it with FedAvg on synthetic data.",
)
def run_command(
    spec: Path = typer.Argument(..., help="Spec file (YAML).", show_default=False),
    rounds: int = typer.Option(5, min=1, help="FedAvg rounds."),
    clients: int = typer.Option(4, min=1, help="Clients per round."),
    examples: int = typer.Option(256, min=1, help="Examples per client."),
    seed: int = typer.Option(0, help="Seed of the synthetic data."),
) -> None:
    try:
        generated = generate(spec)
    except WrapgenError as error:
        raise typer.Exit(_fail(error)) from None
    from codegen import train  # imports TensorFlow; only this command needs it

    try:
        train.run(
            generated,
            rounds=rounds,
            clients=clients,
            examples=examples,
            seed=seed,
            echo=typer.echo,
        )
    finally:
        train.shutdown()


def run() -> None:
    """Console-script entry point."""
    app()
