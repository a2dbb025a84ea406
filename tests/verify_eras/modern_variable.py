"""A modern (TFF 0.49 and later) model, imported the way TFF's own code does.

`variable.VariableModel` with unfinalized metrics, finalizers and
`reset_metrics`; a `BatchOutput` with `num_examples`.
"""

import collections

import tensorflow as tf
from tensorflow_federated.python.learning.models import variable


class Counter(variable.VariableModel):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([3, 1]), name="w")
        self._loss_sum = tf.Variable(0.0, name="loss_sum", trainable=False)
        self._count = tf.Variable(0, name="count", trainable=False)

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return [self._loss_sum, self._count]

    @property
    def input_spec(self):
        return collections.OrderedDict(
            x=tf.TensorSpec([None, 3], tf.float32),
            y=tf.TensorSpec([None, 1], tf.float32),
        )

    @tf.function
    def predict_on_batch(self, x, training=True):
        del training
        return tf.matmul(x, self._w)

    @tf.function
    def forward_pass(self, batch_input, training=True):
        predictions = self.predict_on_batch(batch_input["x"], training)
        loss = tf.reduce_mean(tf.square(predictions - batch_input["y"]))
        count = tf.shape(predictions)[0]
        self._loss_sum.assign_add(loss * tf.cast(count, tf.float32))
        self._count.assign_add(count)
        return variable.BatchOutput(
            loss=loss, predictions=predictions, num_examples=count
        )

    @tf.function
    def report_local_unfinalized_metrics(self):
        return collections.OrderedDict(
            loss=[self._loss_sum, tf.cast(self._count, tf.float32)],
            num_examples=self._count,
        )

    def metric_finalizers(self):
        return collections.OrderedDict(
            loss=tf.function(func=lambda x: x[0] / x[1]),
            num_examples=tf.function(func=lambda x: x),
        )

    @tf.function
    def reset_metrics(self):
        for v in self.local_variables:
            v.assign(tf.zeros_like(v))
