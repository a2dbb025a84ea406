"""Classes whose bases only look like TFF's: none of them is a TFF model class."""

from mylib.models import VariableModel


class FooVariableModel:
    def forward_pass(self):
        return None


class Local(FooVariableModel):
    def local_variables(self):
        return []


class Imported(VariableModel):
    def local_variables(self):
        return []


class TrainableModel:
    pass


class Trainer(TrainableModel):
    def train_on_batch(self):
        return None
