"""Federated computations as TFF's classic library code and 2020 examples write them.

The classic aggregation reports a `num_examples_float` that only weights the
mean (the aggregation's keys need not equal `report_local_outputs`' keys),
logs and inspects types while TFF traces it, and maps a TensorFlow
computation its builder defines. A module-level process builder (imported
through TFF's internal modules) calls a `tff.tf_computation` it defines to
place the server state, and reduces a sequence with `tff.sequence_reduce`.
"""

import collections
import logging

import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_federated.python.core.impl.federated_context import (
    federated_computation,
    intrinsics,
)

METRIC_NAMES = ("loss", "num_examples")


class LinearRegression(tff.learning.Model):
    def __init__(self):
        self._a = tf.Variable(tf.zeros([2, 1]), trainable=True)
        self._num_examples = tf.Variable(0, trainable=False)
        self._loss_sum = tf.Variable(0.0, trainable=False)

    @property
    def trainable_variables(self):
        return [self._a]

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return [self._num_examples, self._loss_sum]

    @property
    def input_spec(self):
        return collections.OrderedDict(
            x=tf.TensorSpec([None, 2], tf.float32),
            y=tf.TensorSpec([None, 1], tf.float32),
        )

    @tf.function
    def forward_pass(self, batch, training=True):
        predictions = tf.matmul(batch["x"], self._a)
        loss = tf.reduce_mean(tf.square(predictions - batch["y"]))
        num_examples = tf.shape(predictions)[0]
        self._num_examples.assign_add(num_examples)
        self._loss_sum.assign_add(loss * tf.cast(num_examples, tf.float32))
        return tff.learning.BatchOutput(
            loss=loss, predictions=predictions, num_examples=num_examples
        )

    @tf.function
    def report_local_outputs(self):
        return collections.OrderedDict(
            num_examples=self._num_examples,
            num_examples_float=tf.cast(self._num_examples, tf.float32),
            loss=self._loss_sum
            / tf.maximum(tf.cast(self._num_examples, tf.float32), 1.0),
        )

    @property
    def federated_output_computation(self):
        @tff.tf_computation(tf.float32)
        def scale(loss):
            return loss * 2.0

        @tff.federated_computation
        def fed_output(local_outputs):
            logging.info("aggregating %d outputs", len(local_outputs))
            assert isinstance(local_outputs.type_signature, tff.FederatedType)
            names = [name for name in METRIC_NAMES if name != "loss"]
            assert len(names) + 1 == len(METRIC_NAMES)
            return collections.OrderedDict(
                num_examples=tff.federated_sum(local_outputs.num_examples),
                loss=tff.federated_mean(
                    tff.federated_map(scale, local_outputs.loss),
                    weight=local_outputs.num_examples_float,
                ),
            )

        return fed_output


def build_server_process(model_type, value_type):
    server_init_tf = tff.tf_computation(lambda: tf.zeros([2, 1]))

    @tff.tf_computation(tff.SequenceType(tf.float32))
    def sum_sequence(values):
        return values.reduce(0.0, lambda total, x: total + x)

    @federated_computation.federated_computation
    def initialize():
        return intrinsics.federated_value(server_init_tf(), tff.SERVER)

    @federated_computation.federated_computation(
        tff.FederatedType(model_type, tff.SERVER),
        tff.FederatedType(tff.SequenceType(value_type), tff.CLIENTS),
    )
    def next_fn(state, data):
        logging.info("tracing next_fn for %s", data.type_signature)
        totals = intrinsics.federated_map(sum_sequence, data)
        reduced = tff.federated_map(
            tff.tf_computation(lambda xs: tff.sequence_sum(xs)), data
        )
        del reduced
        return state, intrinsics.federated_sum(totals)

    return tff.templates.IterativeProcess(initialize, next_fn)
