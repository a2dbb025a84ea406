"""A `tff.learning.Model` with neither classic nor 2022 metric members.

Its generation cannot be told, so no member is reported missing; only shapes
that every generation shares are checked.
"""

import tensorflow as tf
import tensorflow_federated as tff


class Base(tff.learning.Model):
    def __init__(self):
        self._w = tf.Variable(tf.zeros([2, 1]), name="w")

    @property
    def trainable_variables(self):
        return [self._w]

    @property
    def non_trainable_variables(self):
        return []

    @property
    def local_variables(self):
        return []
