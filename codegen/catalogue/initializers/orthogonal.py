"""orthogonal matrix (rows or columns) times gain, seeded (Keras' `Orthogonal`).

The variable is flattened to [prod(shape[:-1]), shape[-1]]; the Q of the QR
decomposition of a seeded normal matrix, sign-corrected by diag(R) and
transposed when there are fewer rows than columns, as Keras computes it.
"""

from codegen.catalogue.base import Param
from codegen.catalogue.initializers import FLOAT_VALID
from codegen.shapes import ShapeError

PARAMS = (("seed", Param("int")), ("gain", Param("positive", 1.0)))
RANDOM = True


def check(variable):
    if len(variable.shape) < 2:
        raise ShapeError(
            f"expected a variable of rank 2 or more, found shape {list(variable.shape)}"
        )


def helpers(params):
    return ("initializers/_orthogonal.py.jinja",)


def data(variable):
    return {"gain": repr(float(variable.initializer.params["gain"]))}


VALID = (FLOAT_VALID.format(init="{orthogonal: {seed: 1}}"),)
INVALID = ()
