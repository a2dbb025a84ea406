"""Synthetic federated data for `wrapgen run --data synthetic` (NumPy only, no TensorFlow)."""

from __future__ import annotations

import textwrap

import numpy as np

from codegen.load import load_spec
from codegen.synthetic import make_client_data
from codegen.validate import validate

PER_POSITION = """\
    wrapgen: 1
    model: {name: Tagger, description: One class per token.}
    inputs:
      tokens: {dtype: int32, shape: [null, 12]}
      tags: {dtype: int32, shape: [null, 12]}
    label: tags
    forward: {keras: tagger_builders:build}
    loss: sparse_categorical_crossentropy
    metrics:
      loss: loss
      num_examples: num_examples
    training:
      optimizer: {sgd: {learning_rate: 0.1}}
    """


def test_per_position_labels_hold_one_class_id_per_position(tmp_path):
    path = tmp_path / "tagger.yaml"
    path.write_text(textwrap.dedent(PER_POSITION))
    spec = validate(load_spec(path))
    clients = make_client_data(spec, 3, 40, seed=0, output_width=12 * 5)
    labels = np.concatenate([client["y"] for client in clients])
    assert labels.shape == (120, 12) and labels.dtype == np.int32
    assert set(np.unique(labels)) == set(range(5))
    assert clients[0]["x"].shape == (40, 12)
