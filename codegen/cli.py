"""The `wrapgen` command line: a thin layer that calls the pipeline and maps errors to exit codes.

Exit codes: 0 written or up to date; 1 verification findings or stale
modules; 2 bad input or usage, or a standard output that cannot be written;
3 internal error (a bug in wrapgen) or a worker process that died; 130 Ctrl-C.
Every message that holds a path or a line of a file is printed through
`errors.printable`, so none can drive the terminal or span two lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import List, NoReturn, Optional

import typer
from typer.core import TyperGroup

from codegen import __version__
from codegen.console import is_tty
from codegen.errors import UsageError, WrapgenError, printable

EXIT_CODES_HELP = (
    "Exit codes: 0 written or up to date, 1 verification findings or stale modules, "
    "2 bad input or usage, 3 internal error or a worker process that died, "
    "130 interrupted."
)


class _DefaultToGenerate(TyperGroup):
    """`wrapgen SPEC ...` means `wrapgen generate SPEC ...`; usage errors are one line off a
    terminal; Ctrl-C in any command is one line and exit 130 (not click's `Aborted!`, exit 1)."""

    def main(self, *args, **kwargs):
        # Typer frames a usage error in a rich panel that hard-wraps it at 80 columns
        # when stderr is not a terminal (CI logs, pre-commit); click's own plain
        # `Error: ...` line is kept whole there. This also makes `wrapgen --help`
        # plain there; the commands' own help is unchanged.
        if not is_tty(sys.stderr):
            self.rich_markup_mode = None
        return super().main(*args, **kwargs)

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if (
            args
            and args[0] not in self.commands
            and args[0] not in ("--help", "--version")
        ):
            args = ["generate", *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # Files are whole either way: only this process writes, and it holds
            # SIGINT while a temporary file exists (write.py, regenerate.py). A
            # further Ctrl-C must not turn the exit into a traceback.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _err("wrapgen: interrupted")
            raise typer.Exit(130) from None


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


class StdoutFailed(Exception):
    """Standard output could not be written (a full device, a closed pipe)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))


def _out(text: str, *, nl: bool = True, color: bool | None = None) -> None:
    """Print `text` on standard output; a failed write raises StdoutFailed."""
    try:
        typer.echo(text, nl=nl, color=color)
    except OSError as error:
        raise StdoutFailed(error) from None


def _err(text: str) -> None:
    """Print a message on stderr, each line escaped (`printable`): no terminal control."""
    for line in text.split("\n"):
        typer.echo(printable(line), err=True)


def _echo(text: str, err: bool = False) -> None:
    """`typer.echo` for reports: escaped lines, and a failed stdout raises StdoutFailed."""
    if err:
        _err(text)
    else:
        _out("\n".join(printable(line) for line in text.split("\n")))


@contextlib.contextmanager
def _errors_exit(spec: Path | None) -> Iterator[None]:
    """A WrapgenError ends the command with its message and exit code; any other
    exception is a bug in wrapgen: one line naming `spec`, exit 3."""
    try:
        yield
    except WrapgenError as error:
        raise typer.Exit(_fail(error)) from None
    except (typer.Exit, StdoutFailed):
        raise
    except Exception as error:  # noqa: BLE001 - reported as a wrapgen bug, exit 3
        raise typer.Exit(_internal(spec or Path("wrapgen"), error)) from None


def _fail(error: WrapgenError) -> int:
    _err(str(error))
    return error.exit_code


def _internal(spec: Path, error: Exception) -> int:
    _err(
        f"{printable(spec)}: internal error in wrapgen: {printable(repr(error))}; "
        "please report it with the spec"
    )
    return 3


_PATHS_HELP = (
    "Spec files (YAML) or generated modules (checked against the spec their header "
    "names). Without PATH: the specs listed in [tool.wrapgen] of the nearest pyproject.toml."
)
_SKIP_HELP = (
    "Ignore paths that are neither specs (YAML with a top-level `wrapgen:` key) nor "
    "wrapgen-generated modules; for hooks that pass every changed file."
)


@app.command(
    "generate",
    help="Generate the module of each spec (the default command): `wrapgen PATH ...`.\n\n"
    "Reports each module as written or already fresh; exit 0 when all were generated.\n\n"
    + EXIT_CODES_HELP,
)
def generate_command(
    paths: List[Path] = typer.Argument(None, help=_PATHS_HELP, show_default=False),
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
    skip_other_files: bool = typer.Option(False, "--skip-other-files", help=_SKIP_HELP),
) -> None:
    from codegen import regenerate
    from codegen.pipeline import generate
    from codegen.targets import named_target, resolve_targets

    paths = paths or []
    if output is not None and len(paths) != 1:
        _err("-o/--output takes exactly one spec")
        raise typer.Exit(2)
    with _errors_exit(paths[0] if paths else None):
        if output == "-":
            target = named_target(paths[0], None)
            _out(generate(target.spec, to_stdout=True, root=target.root).text, nl=False)
            raise typer.Exit(0)
        targets = (
            [named_target(paths[0], Path(output))]
            if output is not None
            else resolve_targets(paths, skip_other_files=skip_other_files)
        )
        outcomes = regenerate.regenerate(targets, force=force)
    _report_generated(outcomes)
    raise typer.Exit(regenerate.exit_code(outcomes))


def _report_generated(outcomes: list) -> None:
    """`wrote:` / `up to date:` on stdout, problems and a summary on stderr."""
    for outcome in outcomes:
        if outcome.status in ("written", "fresh"):
            verb = "wrote" if outcome.status == "written" else "up to date"
            _out(f"{verb}: {printable(outcome.output)}")
        else:
            _err(outcome.message)
    written = sum(o.status == "written" for o in outcomes)
    fresh = sum(o.status == "fresh" for o in outcomes)
    if len(outcomes) > 1:
        failed = len(outcomes) - written - fresh
        summary = f"{written} written, {fresh} already fresh"
        _err(summary + (f", {failed} failed" if failed else ""))


@app.command(
    "check",
    help="Never writes: exit 1 with a unified diff for each module that differs from a "
    "fresh generation of its spec, 0 when all are fresh. Each such module gets one line "
    "saying why (its spec changed, it was edited by hand, another wrapgen made it, or it "
    "is missing) and the command that regenerates it.\n\n" + EXIT_CODES_HELP,
)
def check_command(
    paths: List[Path] = typer.Argument(None, help=_PATHS_HELP, show_default=False),
    output_format: str = typer.Option(
        "text", "--format", help="Output format: text or json."
    ),
    color: str = typer.Option(
        "auto",
        "--color",
        help="Colour the diff: auto (on a terminal), always or never.",
    ),
    skip_other_files: bool = typer.Option(False, "--skip-other-files", help=_SKIP_HELP),
) -> None:
    from codegen import regenerate
    from codegen.targets import resolve_targets

    if output_format not in ("text", "json") or color not in (
        "auto",
        "always",
        "never",
    ):
        _err("--format takes text or json; --color takes auto, always or never")
        raise typer.Exit(2)
    with _errors_exit(None):
        targets = resolve_targets(paths or [], skip_other_files=skip_other_files)
        outcomes = regenerate.check(targets)
    if output_format == "json":
        _out(json.dumps([o.as_json() for o in outcomes], indent=2))
        raise typer.Exit(regenerate.exit_code(outcomes))
    colour = color == "always" or (
        color == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    )
    for outcome in outcomes:
        if outcome.status in ("stale", "missing"):
            _err(
                f"{outcome.status}: {printable(outcome.output)} "
                f"(spec {printable(outcome.spec)}): {printable(outcome.explanation())}"
            )
            for line in outcome.diff.splitlines():
                shown = printable(line)
                _out(_coloured(shown) if colour else shown, color=colour)
        elif outcome.status != "fresh":
            _err(outcome.message)
    raise typer.Exit(regenerate.exit_code(outcomes))


def _coloured(line: str) -> str:
    if line.startswith(("+++", "---")):
        return typer.style(line, bold=True)
    if line.startswith("+"):
        return typer.style(line, fg=typer.colors.GREEN)
    if line.startswith("-"):
        return typer.style(line, fg=typer.colors.RED)
    if line.startswith("@@"):
        return typer.style(line, fg=typer.colors.CYAN)
    return line


@app.command(
    "init",
    help="Write a commented starter spec NAME.yaml (never overwrites a file).\n\n"
    "--from-keras module:function builds that Keras model (this imports TensorFlow) and "
    "writes a spec wrapping it, with TODOs for the label, loss and metrics it guessed; "
    "with --layers the spec writes that model as checked catalogue layers instead, its "
    "variables in the order of the Keras model's weights (refused, naming the layer, "
    "when the catalogue cannot express it).",
)
def init_command(
    name: str = typer.Argument(
        ..., help="Spec name or path, e.g. my_model or models/cnn.yaml."
    ),
    template: str = typer.Option(
        "logistic", "--template", help="Starter: logistic, cnn or keras."
    ),
    from_keras: Optional[str] = typer.Option(
        None, "--from-keras", metavar="MODULE:FUNCTION", help="Wrap this Keras builder."
    ),
    layers: bool = typer.Option(
        False,
        "--layers",
        help="With --from-keras: write the model as catalogue layers (forward: layers).",
    ),
) -> None:
    from codegen import scaffold

    path = scaffold.spec_path_for(name)
    try:
        if path.exists():
            raise UsageError(
                f"{path}: already exists; wrapgen init never overwrites a file"
            )
        if layers and not from_keras:
            raise UsageError("--layers: expected --from-keras MODULE:FUNCTION with it")
        text = (
            scaffold.render_from_keras(from_keras, path, layers)
            if from_keras
            else scaffold.render_template(template, path)
        )
        scaffold.write_new_spec(path, text)
    except WrapgenError as error:
        raise typer.Exit(_fail(error)) from None
    typer.echo(f"wrote: {path}")
    typer.echo(f"next: edit it, then run `wrapgen {path}`")


@app.command(
    "schema",
    help="Print the JSON Schema of the spec format, for editor completion and hover docs.",
)
def schema_command() -> None:
    from codegen.schema import spec_schema

    _out(json.dumps(spec_schema(), indent=2, sort_keys=True))


@app.command(
    "verify",
    help="Check TFF model modules (generated or hand-written) with wrapgen's libcst passes; "
    "never writes.\n\n"
    "Findings print as `path:line:col: CODE message`, sorted. Silence a rule on one line "
    "of a hand-written module with `# wrapgen: ignore[CODE]`.\n\n"
    "Exit codes: 0 no findings, 1 findings, 2 unreadable, unparsable or over-limit input "
    "(one located line per file; the other files are still verified), 3 internal error.",
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
    with _errors_exit(None):  # a worker process that died: one line, exit 3
        code = report.verify_paths(paths, output_format, codes, _echo)
    raise typer.Exit(code)


@app.command(
    "run",
    help="Train a spec's module (generated into a temporary folder and verified), or a "
    "generated module, with FedAvg, then evaluate it with fed_eval on held-out clients.\n\n"
    "Data: --data digits (scikit-learn's 8x8 digits, split non-IID by label skew), "
    "--data synthetic (learnable data shaped by the spec), or your own clients: "
    "--data PATH.npz (an array per spec input plus client_id, one row per example), "
    "--data PATH.csv (a header; a column per input value, NAME or NAME_0 ... NAME_k, "
    "plus client_id) or --data MODULE:FUNCTION (imported from the current directory; "
    "returns a tff.simulation.datasets.ClientData or a mapping of client id to "
    "tf.data.Dataset). Bad data is one line per problem, exit 2, before training. "
    "--workers N spreads each round's "
    "clients over N local TFF C++ worker processes, --worker-address over running ones. "
    "No worker wrapgen starts outlives the command.\n\n"
    "Exit codes: 0 trained, 1 verification findings or training failed, 2 bad input or "
    "usage, 3 internal error, 130 interrupted.",
)
def run_command(
    target: Path = typer.Argument(
        ...,
        metavar="SPEC_OR_MODULE",
        help="Spec (YAML) or generated module.",
        show_default=False,
    ),
    data: str = typer.Option(
        "digits",
        metavar="SOURCE",
        help="digits, synthetic, PATH.npz, PATH.csv or MODULE:FUNCTION (see above).",
    ),
    eval_data: Optional[str] = typer.Option(
        None,
        metavar="SOURCE",
        help="Evaluation clients: PATH.npz, PATH.csv or MODULE:FUNCTION "
        "(default: hold out --eval-fraction of the --data clients).",
        show_default=False,
    ),
    eval_fraction: Optional[float] = typer.Option(
        None,
        help="Share of your --data clients held out for evaluation, chosen with --seed "
        "(default 0.2).",
        show_default=False,
    ),
    batch_size: int = typer.Option(32, min=1, help="Examples per local batch."),
    local_epochs: int = typer.Option(
        1, min=1, help="Passes over its data each sampled client makes per round."
    ),
    shuffle_buffer: int = typer.Option(
        1000, min=0, help="Shuffle buffer of each client's examples (0: data order)."
    ),
    server_optimizer: str = typer.Option(
        "sgd",
        metavar="sgd|sgdm|adam|adagrad|yogi",
        help="TFF optimizer of the server update (sgdm: momentum 0.9).",
    ),
    server_learning_rate: Optional[float] = typer.Option(
        None,
        help="Server learning rate (default: sgd 1, sgdm 1, adam 0.01, adagrad 0.1, "
        "yogi 0.01).",
        show_default=False,
    ),
    client_learning_rate: Optional[float] = typer.Option(
        None,
        help="Replaces the learning rate of the spec's optimizer (default: the spec's).",
        show_default=False,
    ),
    rounds: int = typer.Option(20, min=1, help="FedAvg rounds."),
    clients: int = typer.Option(10, min=1, help="Clients sampled per round."),
    data_clients: int = typer.Option(
        20, min=1, help="Clients digits or synthetic data is split into."
    ),
    skew: float = typer.Option(0.5, help="Label skew of digits in [0, 1]: 0 is IID."),
    examples: int = typer.Option(256, min=1, help="Examples per synthetic client."),
    seed: int = typer.Option(0, help="Seed of the data split and client sampling."),
    workers: int = typer.Option(1, min=1, help="Local TFF C++ worker processes."),
    worker_address: Optional[List[str]] = typer.Option(
        None,
        "--worker-address",
        metavar="HOST:PORT",
        help="A running TFF C++ worker (repeat for several); wrapgen neither starts nor stops it.",
    ),
    eval_every: int = typer.Option(
        1, min=1, help="Evaluate every N rounds (and at the end)."
    ),
    plot: Optional[Path] = typer.Option(
        None, help="Write a PNG of train loss/accuracy and eval accuracy per round."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print a JSON summary as the last line of stdout."
    ),
) -> None:
    from codegen.console import message_console
    from codegen.runner import INTERRUPTED, RunOptions
    from codegen.runner import run as run_training

    options = RunOptions(
        data=data,
        eval_data=eval_data,
        eval_fraction=eval_fraction,
        batch_size=batch_size,
        local_epochs=local_epochs,
        shuffle_buffer=shuffle_buffer,
        server_optimizer=server_optimizer,
        server_learning_rate=server_learning_rate,
        client_learning_rate=client_learning_rate,
        rounds=rounds,
        clients=clients,
        data_clients=data_clients,
        skew=skew,
        examples=examples,
        seed=seed,
        workers=workers,
        worker_addresses=tuple(worker_address or ()),
        eval_every=eval_every,
        plot=plot,
        json=as_json,
    )
    try:
        code = run_training(target, options, message_console(stderr=True))
    except WrapgenError as error:
        code = _fail(error)
    except Exception as error:  # noqa: BLE001 - reported as a wrapgen bug, exit 3
        code = _internal(target, error)
    if code == INTERRUPTED:
        # TFF's executor threads may still be waiting on the stopped workers (or start
        # new ones); leave at once, after a last stop, instead of waiting for them.
        from codegen.workers import stop_tff_workers

        stop_tff_workers()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise typer.Exit(code)


def run() -> None:
    """Console-script entry point: a standard output that cannot be written (a full
    device, a closed pipe) is one line on stderr and exit 2, never a traceback."""
    try:
        app()
    except StdoutFailed as failure:
        _stdout_failed(failure)
    except SystemExit as done:
        if done.code == 130:
            _exit_interrupted()
        raise


def _exit_interrupted() -> NoReturn:
    """Leave with status 130 after a handled Ctrl-C.

    A Ctrl-C that lands inside `exec` of source text (dataclasses build their
    methods that way while modules import) leaves CPython's "unhandled
    KeyboardInterrupt" flag set even though `invoke` handled it, and the
    interpreter would then kill itself with SIGINT as it exits (status -2
    instead of 130). Files are whole by now; leave at once, after stopping a
    verifier process the command started (`codegen.prefork`).
    """
    from codegen import prefork

    prefork.stop()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(130)


def _stdout_failed(failure: StdoutFailed) -> NoReturn:
    # What stdout still buffers would fail again when Python exits: let it go nowhere.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    _err(f"wrapgen: cannot write to standard output: {failure}")
    sys.exit(2)
