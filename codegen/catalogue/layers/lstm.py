"""long short-term memory over [batch, time, features], as Keras' LSTM

Keras 2.14 semantics: gates i, f, c, o in the column blocks of kernel
[features, 4*units], recurrent_kernel [units, 4*units] and bias [4*units];
sigmoid gates and tanh activation; state and output start at zeros. The
output is [batch, time, units] with `return_sequences`, else the last output
[batch, units]. Over a masked input (`embedding` with `mask_zero`) a masked
step carries state and output forward (zeros before the first valid step);
the mask passes on with `return_sequences` and is consumed otherwise. The
generated code steps through time with `tf.scan`, for any batch size.
"""

from dataclasses import replace

from codegen.catalogue.base import Param
from codegen.shapes import ShapeError, fmt, need_float, need_rank, var

PARAMS = (
    ("kernel", Param("variable")),
    ("recurrent_kernel", Param("variable")),
    ("bias", Param("variable", None)),
    ("return_sequences", Param("bool", False)),
)


def recurrent_output(flow, params, variables, gates, bias_shape, bias_layout):
    """The output flow of a recurrent layer with `gates` column blocks.

    `bias_shape(units)` is the bias shape, written `bias_layout` in messages.
    """
    need_rank(flow, 3, "a [batch, time, features]")
    need_float(flow)
    kernel = var(params, "kernel", variables)
    shape = kernel.shape
    if len(shape) != 2 or shape[0] != flow.shape[-1] or shape[1] % gates:
        raise ShapeError(
            f"expected kernel {kernel.name!r} of shape [{flow.shape[-1]}, {gates}*units] "
            f"for input {fmt(flow.shape)}, found {fmt(shape)}"
        )
    units = shape[1] // gates
    recurrent = var(params, "recurrent_kernel", variables)
    if recurrent.shape != (units, gates * units):
        raise ShapeError(
            f"expected recurrent_kernel {recurrent.name!r} of shape [{units}, {gates * units}] "
            f"(units {units} from kernel {kernel.name!r} {fmt(shape)}), found {fmt(recurrent.shape)}"
        )
    weights = [kernel, recurrent]
    if params.get("bias") is not None:
        bias = var(params, "bias", variables)
        want = bias_shape(units)
        if bias.shape != want:
            raise ShapeError(
                f"expected bias {bias.name!r} of shape {fmt(want)} ({bias_layout}), "
                f"found {fmt(bias.shape)}"
            )
        weights.append(bias)
    for role, variable in zip(("kernel", "recurrent_kernel", "bias"), weights):
        if variable.dtype != flow.dtype:
            raise ShapeError(
                f"expected {role} {variable.name!r} of the input's dtype {flow.dtype}, "
                f"found {variable.dtype}"
            )
    if params.get("return_sequences"):
        return flow.to((*flow.shape[:2], units))
    return replace(flow, shape=(flow.shape[0], units), masked=False)


MASK = "own"
"""Its rule decides what becomes of a padding mask."""


def output(flow, params, variables, field):
    return recurrent_output(
        flow, params, variables, 4, lambda units: (4 * units,), "4*units"
    )


def data(params, flow, ctx):
    return {"masked": flow.masked}


def helpers(params):
    """Module-level functions the generated code needs."""
    return ("layers/_lstm.py.jinja",)


KERAS = ("LSTM",)


def recurrent_from_keras(layer, reader, kind, bias_initializer, plain=True, why=""):
    """A Keras LSTM or GRU as `kind`: default activations (tanh, sigmoid), no
    dropout, no state in or out, time forwards (and what `plain` adds)."""
    cell = layer.cell
    plain = (
        plain
        and reader.activation_name(cell.activation) == "tanh"
        and reader.activation_name(cell.recurrent_activation) == "sigmoid"
        and not cell.dropout
        and not cell.recurrent_dropout
        and not layer.return_state
        and not layer.go_backwards
        and not layer.stateful
    )
    if not plain:
        raise reader.refuse(
            layer,
            f"only tanh/sigmoid activations, no dropout, state or reversed time{why}",
        )
    item = {
        "kernel": reader.variable(
            layer,
            cell.kernel,
            cell.kernel_initializer,
            cell.kernel_regularizer,
            "kernel",
        ),
        "recurrent_kernel": reader.variable(
            layer,
            cell.recurrent_kernel,
            cell.recurrent_initializer,
            cell.recurrent_regularizer,
            "recurrent_kernel",
        ),
    }
    if cell.use_bias:
        item["bias"] = reader.variable(
            layer, cell.bias, bias_initializer, cell.bias_regularizer, "bias"
        )
    item["return_sequences"] = bool(layer.return_sequences)
    return [{kind: item}]


def from_keras(layer, reader):
    """A Keras `LSTM`; its `unit_forget_bias` is the `unit_forget_bias` initializer."""
    cell = layer.cell
    bias = "unit_forget_bias" if cell.unit_forget_bias else cell.bias_initializer
    return recurrent_from_keras(layer, reader, "lstm", bias)


VALID = (
    """
    inputs:
      x: {dtype: float32, shape: [null, 5, 4]}
      y: {dtype: float32, shape: [null, 4]}
    variables:
      k: {shape: [4, 16], initializer: {glorot_uniform: {seed: 1}}}
      r: {shape: [4, 16], initializer: {orthogonal: {seed: 2}}}
      b: {shape: [16], initializer: zeros}
    forward: {layers: [{lstm: {kernel: k, recurrent_kernel: r, bias: b}}]}
    """,
    """
    inputs:
      x: {dtype: int32, shape: [null, 5]}
      y: {dtype: float32, shape: [null, 5, 4]}
    variables:
      t: {shape: [10, 3], initializer: {random_uniform: {seed: 1}}}
      k: {shape: [3, 16], initializer: {glorot_uniform: {seed: 2}}}
      r: {shape: [4, 16], initializer: {orthogonal: {seed: 3}}}
    forward:
      layers:
        - embedding: {table: t, mask_zero: true}
        - lstm: {kernel: k, recurrent_kernel: r, return_sequences: true}
    """,
)
_LSTM = "forward: {layers: [{lstm: {kernel: k, recurrent_kernel: r, bias: b}}]}"
INVALID = (
    (
        """
        variables:
          k: {shape: [4, 16], initializer: zeros}
          r: {shape: [4, 16], initializer: zeros}
        forward: {layers: [{lstm: {kernel: k, recurrent_kernel: r}}]}
        """,
        "forward.layers[0].lstm: expected a [batch, time, features] input of rank 3, found shape [null, 4]",
    ),
    (
        """
        inputs:
          x: {dtype: int32, shape: [null, 5, 4]}
          y: {dtype: float32, shape: [null, 4]}
        variables:
          k: {shape: [4, 16], initializer: zeros}
          r: {shape: [4, 16], initializer: zeros}
        forward: {layers: [{lstm: {kernel: k, recurrent_kernel: r}}]}
        """,
        "forward.layers[0].lstm: expected a float input, found int32",
    ),
    (
        f"""
        inputs:
          x: {{dtype: float32, shape: [null, 5, 3]}}
          y: {{dtype: float32, shape: [null, 4]}}
        variables:
          k: {{shape: [4, 16], initializer: zeros}}
          r: {{shape: [4, 16], initializer: zeros}}
          b: {{shape: [16], initializer: zeros}}
        {_LSTM}
        """,
        "forward.layers[0].lstm: expected kernel 'k' of shape [3, 4*units] for input [null, 5, 3], found [4, 16]",
    ),
    (
        f"""
        inputs:
          x: {{dtype: float32, shape: [null, 5, 4]}}
          y: {{dtype: float32, shape: [null, 4]}}
        variables:
          k: {{shape: [4, 14], initializer: zeros}}
          r: {{shape: [4, 16], initializer: zeros}}
          b: {{shape: [16], initializer: zeros}}
        {_LSTM}
        """,
        "forward.layers[0].lstm: expected kernel 'k' of shape [4, 4*units] for input [null, 5, 4], found [4, 14]",
    ),
    (
        f"""
        inputs:
          x: {{dtype: float32, shape: [null, 5, 4]}}
          y: {{dtype: float32, shape: [null, 4]}}
        variables:
          k: {{shape: [4, 16], initializer: zeros}}
          r: {{shape: [16, 4], initializer: zeros}}
          b: {{shape: [16], initializer: zeros}}
        {_LSTM}
        """,
        "forward.layers[0].lstm: expected recurrent_kernel 'r' of shape [4, 16] (units 4 from kernel 'k' [4, 16]), found [16, 4]",
    ),
    (
        f"""
        inputs:
          x: {{dtype: float32, shape: [null, 5, 4]}}
          y: {{dtype: float32, shape: [null, 4]}}
        variables:
          k: {{shape: [4, 16], initializer: zeros}}
          r: {{shape: [4, 16], initializer: zeros}}
          b: {{shape: [4], initializer: zeros}}
        {_LSTM}
        """,
        "forward.layers[0].lstm: expected bias 'b' of shape [16] (4*units), found [4]",
    ),
    (
        f"""
        inputs:
          x: {{dtype: float32, shape: [null, 5, 4]}}
          y: {{dtype: float32, shape: [null, 4]}}
        variables:
          k: {{shape: [4, 16], initializer: zeros}}
          r: {{shape: [4, 16], initializer: zeros, dtype: float64}}
          b: {{shape: [16], initializer: zeros}}
        {_LSTM}
        """,
        "forward.layers[0].lstm: expected recurrent_kernel 'r' of the input's dtype float32, found float64",
    ),
)
