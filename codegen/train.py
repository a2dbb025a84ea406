"""Training generated models with TensorFlow Federated (the `wrapgen run` runtime).

This is the only module of the package that imports TensorFlow; generation
never loads it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_federated as tff  # noqa: E402

from codegen.pipeline import Generated  # noqa: E402
from codegen.synthetic import make_client_data  # noqa: E402
from codegen.workers import stop_tff_workers  # noqa: E402


def import_module_file(path: Path, name: str | None = None) -> ModuleType:
    """Import the Python file at `path` as a fresh module; its folder joins sys.path."""
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = name or f"_wrapgen_{path.stem}_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def import_generated(generated: Generated, folder: Path) -> ModuleType:
    """Write a generated module into `folder` and import it (its spec's folder joins sys.path)."""
    spec_folder = str(generated.spec_path.resolve().parent)
    if spec_folder not in sys.path:
        sys.path.insert(0, spec_folder)
    path = folder / f"{generated.spec_path.stem}.py"
    path.write_text(generated.text, "utf-8")
    return import_module_file(path)


def output_width(module: ModuleType) -> int:
    """The width of the model's predictions, from one batch of zeros."""
    model = module.model_fn()
    features = tf.nest.map_structure(
        lambda spec: tf.zeros([1, *spec.shape[1:]], spec.dtype), module.INPUT_SPEC["x"]
    )
    predictions = model.predict_on_batch(features, training=False)
    return int(np.prod(predictions.shape[1:]))


def to_datasets(clients: list, batch_size: int = 32) -> list[tf.data.Dataset]:
    """One batched `tf.data.Dataset` per client."""
    return [
        tf.data.Dataset.from_tensor_slices(client).batch(batch_size)
        for client in clients
    ]


def build_fed_avg(module: ModuleType) -> tff.templates.IterativeProcess:
    """Weighted FedAvg with the module's client optimizer and metrics aggregator."""
    return tff.learning.algorithms.build_weighted_fed_avg(
        module.model_fn,
        client_optimizer_fn=module.client_optimizer(),
        server_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=1.0),
        metrics_aggregator=module.metrics_aggregator,
    )


def run(
    generated: Generated,
    rounds: int,
    clients: int,
    examples: int,
    seed: int,
    echo: Callable[[str], None] = print,
) -> dict:
    """Train the generated model for `rounds` FedAvg rounds on synthetic data, then evaluate."""
    with tempfile.TemporaryDirectory(prefix="wrapgen-run-") as folder:
        module = import_generated(generated, Path(folder))
        data = make_client_data(
            generated.spec, clients + 1, examples, seed, output_width(module)
        )
        train_data, eval_data = to_datasets(data[:clients]), to_datasets(data[clients:])
        started = time.perf_counter()
        process = build_fed_avg(module)
        state = process.initialize()
        echo(
            f"{generated.spec.name}: FedAvg over {clients} synthetic clients x {examples} examples"
        )
        history = []
        for round_number in range(1, rounds + 1):
            result = process.next(state, train_data)
            state = result.state
            metrics = dict(result.metrics["client_work"]["train"])
            history.append(metrics)
            echo(f"round {round_number}: " + _format(metrics))
        evaluation = tff.learning.algorithms.build_fed_eval(module.model_fn)
        eval_state = evaluation.set_model_weights(
            evaluation.initialize(), process.get_model_weights(state)
        )
        eval_metrics = evaluation.next(eval_state, eval_data).metrics["client_work"][
            "eval"
        ]
        final = dict(eval_metrics["current_round_metrics"])
        echo("eval on a held-out client: " + _format(final))
        echo(f"done in {time.perf_counter() - started:.1f} s")
        return {"train": history, "eval": final}


def _format(metrics: dict) -> str:
    return ", ".join(f"{name} {float(value):.4g}" for name, value in metrics.items())


def shutdown() -> None:
    """Stop the TFF workers this process started (see `codegen.workers`)."""
    stop_tff_workers()
