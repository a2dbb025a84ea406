"""A 2022 (TFF 0.21-0.48) model, imported the way TFF's own code of that year did.

`tff.learning.Model` with unfinalized metrics and their finalizers, and no
`report_local_outputs`; `reset_metrics` is left out (TFF 0.20 did not have it).
"""

import collections

import tensorflow as tf
from tensorflow_federated.python.learning import model as model_lib


class LinearRegression(model_lib.Model):
    def __init__(self, feature_dim=2):
        self._a = tf.Variable(tf.zeros(shape=(feature_dim, 1)), name="a")
        self._b = tf.Variable(0.0, name="b")
        self._c = tf.Variable(0.0, name="c", trainable=False)
        self._num_examples = tf.Variable(0, name="num_examples", trainable=False)
        self._loss_sum = tf.Variable(0.0, name="loss_sum", trainable=False)
        self._feature_dim = feature_dim

    @property
    def trainable_variables(self):
        return [self._a, self._b]

    @property
    def non_trainable_variables(self):
        return [self._c]

    @property
    def local_variables(self):
        return [self._num_examples, self._loss_sum]

    @property
    def input_spec(self):
        return collections.OrderedDict(
            x=tf.TensorSpec([None, self._feature_dim], tf.float32),
            y=tf.TensorSpec([None, 1], tf.float32),
        )

    @tf.function
    def predict_on_batch(self, x, training=True):
        del training
        return tf.matmul(x, self._a) + self._b + self._c

    @tf.function
    def forward_pass(self, batch_input, training=True):
        predictions = self.predict_on_batch(batch_input["x"], training)
        loss = 0.5 * tf.reduce_mean(tf.square(predictions - batch_input["y"]))
        num_examples = tf.shape(predictions)[0]
        self._num_examples.assign_add(num_examples)
        self._loss_sum.assign_add(loss * tf.cast(num_examples, tf.float32))
        return model_lib.BatchOutput(
            loss=loss, predictions=predictions, num_examples=num_examples
        )

    @tf.function
    def report_local_unfinalized_metrics(self):
        return collections.OrderedDict(
            loss=[self._loss_sum, tf.cast(self._num_examples, tf.float32)],
            num_examples=self._num_examples,
        )

    def metric_finalizers(self):
        return collections.OrderedDict(
            loss=tf.function(func=lambda x: x[0] / x[1]),
            num_examples=tf.function(func=lambda x: x),
        )
