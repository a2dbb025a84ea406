"""`wrapgen run`: generate or load a module, train it with FedAvg on real or synthetic data, report.

TensorFlow is imported only once the spec or module has been checked, and
every TFF worker process is stopped before this returns: on success, on an
error and on Ctrl-C.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from codegen.errors import FindingsError, UsageError, WrapgenError
from codegen.header import spec_ref_of
from codegen.load import load_spec
from codegen.pipeline import Generated, generate
from codegen.spec import Spec
from codegen.validate import validate
from codegen.verify import verify_file

DATA_KINDS = ("digits", "synthetic")
INTERRUPTED = 130


@dataclass(frozen=True)
class RunOptions:
    data: str = "digits"
    rounds: int = 20
    clients: int = 10
    data_clients: int = 20
    skew: float = 0.5
    examples: int = 256
    seed: int = 0
    workers: int = 1
    worker_addresses: tuple[str, ...] = ()
    eval_every: int = 1
    plot: Path | None = None
    json: bool = False


def run(target: Path, options: RunOptions, err: Console) -> int:
    """Run everything; return the exit code. Prints progress to `err`, JSON to stdout."""
    started = time.perf_counter()
    if options.data not in DATA_KINDS:
        raise UsageError(
            f"--data: expected one of {', '.join(DATA_KINDS)}, found {options.data!r}"
        )
    if options.workers < 1:
        raise UsageError(f"--workers: expected at least 1, found {options.workers}")
    if options.worker_addresses and options.workers != 1:
        raise UsageError("--workers and --worker-address exclude each other")
    for address in options.worker_addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise UsageError(f"--worker-address: expected host:port, found {address!r}")
    spec, generated, module_path = _prepare(target)
    generated_s = time.perf_counter() - started
    from codegen import train  # imports TensorFlow and TFF: only past this point

    try:
        with tempfile.TemporaryDirectory(prefix="wrapgen-run-") as folder:
            module = (
                train.import_module_file(module_path)
                if module_path is not None
                else train.import_generated(generated, Path(folder))
            )
            data = _data(train, spec, module, options)
            train.use_workers(options.workers, options.worker_addresses)
            err.print(
                f"[bold]{spec.name}[/bold]: FedAvg, {options.rounds} rounds x "
                f"{min(options.clients, len(data.train))} clients on "
                f"{len(options.worker_addresses) or options.workers} worker(s); "
                f"{data.description}"
            )
            result = _train(train, module, data, options, err)
        result.timings["generate_s"] = generated_s
        result.timings["wall_s"] = time.perf_counter() - started
        _report(spec, target, data.description, options, result, err)
        return 0
    except KeyboardInterrupt:
        err.print("interrupted: stopping the TFF workers")
        return INTERRUPTED
    except WrapgenError:
        raise
    except Exception as exc:  # noqa: BLE001 - the model or data failed in TFF: say so, no traceback
        err.print(
            f"{target}: training failed: {type(exc).__name__}: {_first_line(exc)}"
        )
        return 1
    finally:
        train.shutdown()


def _prepare(target: Path) -> tuple[Spec, Generated | None, Path | None]:
    """The spec, and the verified generation (from a spec) or module path (a generated module)."""
    if target.suffix == ".py":
        try:
            text = target.read_text("utf-8")
        except OSError as exc:
            raise UsageError(f"{target}: cannot read: {exc.strerror}") from None
        spec_ref = spec_ref_of(text)
        if spec_ref is None:
            raise UsageError(
                f"{target}: expected a spec or a wrapgen-generated module, found a Python "
                "file without wrapgen's header"
            )
        findings = verify_file(target)
        if findings:
            raise FindingsError("\n".join(str(f) for f in findings))
        spec = validate(load_spec(target.parent / spec_ref))
        return spec, None, target
    generated = generate(target)
    return generated.spec, generated, None


def _data(train, spec: Spec, module, options: RunOptions):
    from codegen import datasets

    if options.data == "digits":
        data = datasets.digits(spec, options.data_clients, options.skew, options.seed)
        width = train.output_width(module)
        if width < datasets.DIGIT_CLASSES:
            raise UsageError(
                f"--data digits: the model outputs {width} class scores, expected at least "
                f"{datasets.DIGIT_CLASSES}"
            )
        return data
    return datasets.synthetic(
        spec,
        options.data_clients,
        options.examples,
        options.seed,
        train.output_width(module),
    )


def _train(train, module, data, options: RunOptions, err: Console):
    if not err.is_terminal:

        def plain(number, metrics, evaluated):
            line = f"round {number}/{options.rounds}: train {_format(metrics)}"
            if evaluated is not None:
                line += f"; eval {_format(evaluated)}"
            err.print(line, highlight=False, soft_wrap=True)

        return train.train_and_evaluate(
            module,
            data,
            options.rounds,
            options.clients,
            options.seed,
            options.eval_every,
            plain,
        )
    columns = (
        TextColumn("round"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[metrics]}"),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(
            "train", total=options.rounds, metrics="building FedAvg"
        )

        def update(number, metrics, evaluated):
            text = f"train {_format(metrics)}"
            if evaluated is not None:
                text += f" | eval {_format(evaluated)}"
            progress.update(task, completed=number, metrics=text)

        return train.train_and_evaluate(
            module,
            data,
            options.rounds,
            options.clients,
            options.seed,
            options.eval_every,
            update,
        )


def _report(
    spec: Spec, target: Path, description: str, options: RunOptions, result, err
) -> None:
    table = Table(title=f"{spec.name}: metrics per round")
    names = list(result.train[-1]) if result.train else []
    eval_by_round = {row["round"]: row for row in result.eval}
    table.add_column("round", justify="right")
    for name in names:
        table.add_column(f"train {name}", justify="right")
    eval_names = [n for n in (result.eval[-1] if result.eval else {}) if n != "round"]
    for name in eval_names:
        table.add_column(f"eval {name}", justify="right")
    for number, metrics in enumerate(result.train, start=1):
        evaluated = eval_by_round.get(number, {})
        table.add_row(
            str(number),
            *(f"{metrics[n]:.4g}" for n in names),
            *(f"{evaluated[n]:.4g}" if n in evaluated else "" for n in eval_names),
        )
    err.print(table)
    timings = result.timings
    err.print(
        f"build {timings['build_s']:.1f} s, median round {timings['median_round_s'] * 1000:.0f} ms, "
        f"wall {timings['wall_s']:.1f} s"
    )
    if options.plot is not None:
        _plot(spec, result, options.plot)
        err.print(f"wrote: {options.plot}")
    if options.json:
        final_eval = {k: v for k, v in result.eval[-1].items() if k != "round"}
        summary = {
            "spec": spec.name,
            "target": str(target),
            "data": description,
            "rounds": options.rounds,
            "clients_per_round": options.clients,
            "workers": len(options.worker_addresses) or options.workers,
            "worker_addresses": list(options.worker_addresses),
            "train": result.train[-1],
            "eval": final_eval,
            "history": {"train": result.train, "eval": result.eval},
            "timings": timings,
        }
        sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")


def _plot(spec: Spec, result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = list(range(1, len(result.train) + 1))
    accuracy = next((n for n in result.train[-1] if "accuracy" in n), None)
    figure, axes = plt.subplots(
        1, 2 if accuracy else 1, figsize=(10 if accuracy else 5, 4)
    )
    axes = list(axes) if accuracy else [axes]
    axes[0].plot(rounds, [m["loss"] for m in result.train], label="train loss")
    eval_rounds = [row["round"] for row in result.eval]
    if all("loss" in row for row in result.eval):
        axes[0].plot(
            eval_rounds, [row["loss"] for row in result.eval], label="eval loss"
        )
    axes[0].set_xlabel("round")
    axes[0].legend()
    if accuracy:
        axes[1].plot(
            rounds, [m[accuracy] for m in result.train], label=f"train {accuracy}"
        )
        axes[1].plot(
            eval_rounds,
            [row[accuracy] for row in result.eval],
            label=f"eval {accuracy}",
        )
        axes[1].set_xlabel("round")
        axes[1].set_ylim(0, 1)
        axes[1].legend()
    from matplotlib.ticker import MaxNLocator

    for axis in axes:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(f"{spec.name}: FedAvg")
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as exc:
        raise UsageError(
            f"--plot {path}: cannot write: {exc.strerror or exc}"
        ) from None
    finally:
        plt.close(figure)


def _format(metrics: dict) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in metrics.items())


def _first_line(exc: BaseException) -> str:
    """The first line of the error; for an error from a TFF worker, the worker's own message."""
    details = getattr(exc, "details", None)
    text = details() if callable(details) else str(exc)
    lines = str(text or "").strip().splitlines()
    return lines[0] if lines else ""
