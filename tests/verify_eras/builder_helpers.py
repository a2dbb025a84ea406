"""A 2022 `tff.learning.Model` in the style of TFF's own test models (TFF 0.20-0.48).

Variables are created by a `_build()` helper that only `__init__` calls
(through another helper); the trainable variables depend on a constructor
flag (`if flag: return [a, b, c]` then `return [a, b]`: exclusive branches);
the finalizers `OrderedDict` is built key by key in a helper method, the
unfinalized metrics in a module-level function.
"""

import collections

import tensorflow as tf
import tensorflow_federated as tff


def unfinalized_metrics(num_examples, loss_sum):
    return collections.OrderedDict(
        num_examples=[num_examples], loss=[loss_sum, num_examples]
    )


class LinearRegression(tff.learning.Model):
    def __init__(self, feature_dim=2, has_unconnected=False):
        self._feature_dim = feature_dim
        self.has_unconnected = has_unconnected
        self._build()

    def _build(self):
        self._a = tf.Variable(tf.zeros([self._feature_dim, 1]), trainable=True)
        self._b = tf.Variable(0.0, trainable=True)
        self._c = tf.Variable(0.0, trainable=False)
        if self.has_unconnected:
            self._unconnected = tf.Variable(0.0, trainable=True)
        self._build_metrics()

    def _build_metrics(self):
        self._num_examples = tf.Variable(0, trainable=False)
        self._loss_sum = tf.Variable(0.0, trainable=False)

    @property
    def trainable_variables(self):
        if self.has_unconnected:
            return [self._a, self._b, self._unconnected]
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
        loss = tf.reduce_mean(tf.square(predictions - batch_input["y"]))
        num_examples = tf.shape(predictions)[0]
        self._num_examples.assign_add(num_examples)
        self._loss_sum.assign_add(loss * tf.cast(num_examples, tf.float32))
        return tff.learning.BatchOutput(
            loss=loss, predictions=predictions, num_examples=num_examples
        )

    @tf.function
    def report_local_unfinalized_metrics(self):
        return unfinalized_metrics(self._num_examples, self._loss_sum)

    def metric_finalizers(self):
        return self._finalizers()

    def _finalizers(self):
        finalizers = collections.OrderedDict()
        finalizers["num_examples"] = tf.function(func=lambda x: x[0])
        finalizers["loss"] = tf.function(
            func=lambda x: x[0] / tf.cast(x[1], x[0].dtype)
        )
        return finalizers

    @tf.function
    def reset_metrics(self):
        for variable in self.local_variables:
            variable.assign(tf.zeros_like(variable))
