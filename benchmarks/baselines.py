"""The baseline models: generated modules against TFF's own builders through
`from_keras_model`, and cold generation of the largest baseline spec.

Each measurement runs in its own process and the two variants are
interleaved. Usage:

    .venv/bin/python benchmarks/baselines.py compare [RUNS]   # build time and median round
    .venv/bin/python benchmarks/baselines.py cold [RUNS]      # wrapgen on the largest spec

`compare`: the Shakespeare character RNN and the CIFAR-100 ResNet-18 (group
norm), each as the generated module of generated_examples/baselines/ and as
the TFF builder's Keras model with the task's loss through
`from_keras_model`: FedAvg built and run for 4 rounds over 4 clients of 16
synthetic examples in batches of 8.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINES = ROOT / "generated_examples" / "baselines"
MODELS = ("shakespeare_char_rnn", "cifar100_resnet18_gn")


def _keras_model(name: str):
    if name == "shakespeare_char_rnn":
        from tensorflow_federated.python.simulation.baselines.shakespeare import (
            char_prediction_models,
        )

        return char_prediction_models.create_recurrent_model(
            vocab_size=90, sequence_length=80
        )
    from tensorflow_federated.python.simulation.models import resnet_models

    return resnet_models.create_resnet18(input_shape=(24, 24, 3), num_classes=100)


def _child(kind: str, name: str) -> None:
    """One measurement, in this process; prints a JSON line."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import collections

    import numpy as np
    import tensorflow as tf
    import tensorflow_federated as tff

    from codegen import train

    module = train.import_module_file(BASELINES / f"{name}.py", f"bench_{name}")
    spec = module.INPUT_SPEC
    rng = np.random.default_rng(0)

    def column(tensor_spec, high):
        shape = (16, *tensor_spec.shape[1:])
        if tensor_spec.dtype.is_integer:
            return rng.integers(0, high, shape).astype(tensor_spec.dtype.as_numpy_dtype)
        return rng.normal(size=shape).astype(tensor_spec.dtype.as_numpy_dtype)

    high = 90 if name == "shakespeare_char_rnn" else 100
    data = [
        tf.data.Dataset.from_tensor_slices(
            collections.OrderedDict(
                x=column(spec["x"], high), y=column(spec["y"], high)
            )
        ).batch(8)
        for _ in range(4)
    ]
    started = time.perf_counter()
    if kind == "generated":
        process = train.build_fed_avg(module)
    else:

        def model_fn():
            loss = tf.keras.losses.SparseCategoricalCrossentropy(
                from_logits=name == "shakespeare_char_rnn"
            )
            return tff.learning.models.from_keras_model(
                _keras_model(name), input_spec=spec, loss=loss
            )

        process = tff.learning.algorithms.build_weighted_fed_avg(
            model_fn,
            client_optimizer_fn=module.client_optimizer(),
            server_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=1.0),
        )
    state = process.initialize()
    build = time.perf_counter() - started
    times = []
    for _ in range(4):
        tick = time.perf_counter()
        state = process.next(state, data).state
        times.append(time.perf_counter() - tick)
    train.shutdown()
    print(json.dumps({"build_s": build, "median_round_s": statistics.median(times)}))


def _measure(*args: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "child", *args],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def compare(runs: int) -> None:
    for name in MODELS:
        rows: dict[str, list[dict]] = {"generated": [], "keras": []}
        for _ in range(runs):
            for kind in rows:
                rows[kind].append(_measure(kind, name))
        build = {k: statistics.median(r["build_s"] for r in v) for k, v in rows.items()}
        round_ = {
            k: statistics.median(r["median_round_s"] for r in v)
            for k, v in rows.items()
        }
        print(
            f"{name}: build generated {build['generated']:.2f} s vs from_keras_model "
            f"{build['keras']:.2f} s ({build['generated'] / build['keras']:.2f}x); median "
            f"round {round_['generated'] * 1000:.0f} ms vs {round_['keras'] * 1000:.0f} ms "
            f"({round_['generated'] / round_['keras']:.2f}x); {runs} interleaved runs each"
        )


def cold(runs: int) -> None:
    specs = sorted(BASELINES.glob("*.yaml"), key=lambda p: p.stat().st_size)
    spec = specs[-1]
    out = Path(tempfile.mkdtemp()) / "model.py"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "codegen", str(spec), "-o", str(out)],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    lines = len(out.read_text().splitlines())
    print(
        f"cold wrapgen {spec.name} ({spec.stat().st_size} bytes, {lines}-line module): "
        f"median {statistics.median(times) * 1000:.0f} ms over {runs} runs"
    )


if __name__ == "__main__":
    if sys.argv[1] == "child":
        _child(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "compare":
        compare(int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    else:
        cold(int(sys.argv[2]) if len(sys.argv) > 2 else 15)
