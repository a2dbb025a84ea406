"""Peak memory of `wrapgen run --data PATH.npz`: loading, checking and building client datasets.

    .venv/bin/python benchmarks/run_data.py [--gigabytes 1.0] [--clients 1000] [--folder DIR]

Writes a softmax-regression spec (x: float32 [null, 256], y: int32 [null]) and
an uncompressed npz of about `--gigabytes` GB whose rows belong to `--clients`
clients in random order (the harder case: no client's rows are contiguous).
A fresh child process then does what `wrapgen run` does before and during
training, and reports its peak resident memory (VmHWM) after each step:

1. `userdata.load_table`: read the npz members' headers, group rows by client,
   check every value (finite features, class ids in range), in chunks;
2. import TensorFlow and TFF;
3. build the TFF `ClientData` and, for every client, the batched local
   `tf.data.Dataset` a sampled client gets, and read its first batch.

The figure to compare with the file size is the peak after step 3.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEATURES = 256
CLASSES = 10

SPEC = f"""\
wrapgen: 1
model:
  name: BigSoftmax
  description: Softmax regression for the memory benchmark of wrapgen run.
inputs:
  x: {{dtype: float32, shape: [null, {FEATURES}]}}
  y: {{dtype: int32, shape: [null]}}
label: y
variables:
  kernel: {{shape: [{FEATURES}, {CLASSES}], initializer: zeros}}
  bias: {{shape: [{CLASSES}], initializer: zeros}}
forward:
  layers:
    - dense: {{kernel: kernel, bias: bias}}
    - softmax
loss: sparse_categorical_crossentropy
metrics:
  loss: loss
  accuracy: sparse_categorical_accuracy
  num_examples: num_examples
training:
  optimizer: {{sgd: {{learning_rate: 0.1}}}}
"""


def write_data(folder: Path, gigabytes: float, clients: int) -> Path:
    import numpy as np

    rows = int(gigabytes * 2**30 / (FEATURES * 4))
    rng = np.random.default_rng(0)
    path = folder / "big.npz"
    x = rng.standard_normal((rows, FEATURES), dtype=np.float32)
    np.savez(
        path,
        x=x,
        y=rng.integers(0, CLASSES, rows).astype(np.int32),
        client_id=rng.integers(0, clients, rows).astype(np.int32),
    )
    return path


def peak_mb() -> float:
    """This process's peak resident memory: VmHWM, the high-water mark of its own
    address space (`ru_maxrss` would carry over the parent's peak across fork+exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(spec_path: Path, data_path: Path) -> dict:
    """In this (fresh) process: the three steps, with the peak RSS after each."""
    sys.path.insert(0, str(ROOT))
    from codegen import userdata
    from codegen.load import load_spec
    from codegen.validate import validate

    spec = validate(load_spec(spec_path))
    figures = {"start_mb": peak_mb()}
    tick = time.perf_counter()
    table = userdata.load_table(
        userdata.Source("npz", str(data_path)), spec, userdata.spec_classes(spec)
    )
    figures["load_and_check_s"] = time.perf_counter() - tick
    figures["after_load_and_check_mb"] = peak_mb()
    from codegen import train
    from codegen.datasets import ArrayClients

    figures["after_tensorflow_import_mb"] = peak_mb()
    tick = time.perf_counter()
    clients = train.client_data(ArrayClients.from_table(table))
    local = train.Local(batch_size=32, epochs=1, shuffle_buffer=1000)
    examples = 0
    for client_id in clients.client_ids:
        dataset = train.local_dataset(
            clients.create_tf_dataset_for_client(client_id), local, seed=0
        )
        examples += int(next(iter(dataset))["y"].shape[0])
    figures["client_datasets_s"] = time.perf_counter() - tick
    figures["after_client_datasets_mb"] = peak_mb()
    figures["clients"] = len(clients.client_ids)
    figures["rows"] = table.rows
    train.shutdown()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--measure", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    with tempfile.TemporaryDirectory(dir=args.folder) as name:
        folder = Path(name)
        spec_path = folder / "big_softmax.yaml"
        spec_path.write_text(SPEC, "utf-8")
        data_path = write_data(folder, args.gigabytes, args.clients)
        size_mb = os.path.getsize(data_path) / 2**20
        child = subprocess.run(
            [sys.executable, __file__, "--measure", str(spec_path), str(data_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            sys.exit(child.stderr[-3000:])
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    peak = figures["after_client_datasets_mb"]
    print(
        f"npz file: {size_mb:,.0f} MB, {figures['rows']:,} rows, {figures['clients']} clients"
    )
    print(
        f"peak RSS: {figures['after_load_and_check_mb']:,.0f} MB after load+check "
        f"({figures['load_and_check_s']:.1f} s), "
        f"{figures['after_tensorflow_import_mb']:,.0f} MB after importing TF/TFF, "
        f"{peak:,.0f} MB after building and reading every client's dataset "
        f"({figures['client_datasets_s']:.1f} s)"
    )
    print(f"peak / file size: {peak / size_mb:.2f}")


if __name__ == "__main__":
    main()
