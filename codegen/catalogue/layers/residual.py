"""shortcut(x) + layers(x): a residual block of two sub-stacks joined by add.

`layers` is the block's main path; `shortcut` (optional) the path of the
input to the add: the identity when omitted, or a projection (a 1x1
`conv2d`, a norm) when the main path changes the shape. Both read the
block's input; their outputs must have the same shape. Sub-stacks are
written like `forward.layers` and may nest up to 4 deep.
"""

from dataclasses import replace

from codegen.catalogue.base import Param
from codegen.shapes import ShapeError, check_stack, fmt

PARAMS = (("layers", Param("layers")), ("shortcut", Param("layers", None)))


def _walk(flow, layers, variables, field):
    out, problems = check_stack(flow, layers, variables, field)
    if problems:
        problem = problems[0]
        raise ShapeError(problem.message, problem.field, problem.location)
    return out


MASK = "own"
"""Its rule decides what becomes of a padding mask."""


def output(flow, params, variables, field):
    main = _walk(flow, params["layers"], variables, f"{field}.layers")
    short = flow
    if params["shortcut"]:
        short = _walk(flow, params["shortcut"], variables, f"{field}.shortcut")
    if main.shape != short.shape or main.dtype != short.dtype:
        what = (
            "the shortcut's"
            if params["shortcut"]
            else "the block's input (the identity shortcut)"
        )
        raise ShapeError(
            f"expected the layers to output {what} shape and dtype "
            f"{short.dtype} {fmt(short.shape)}, found {main.dtype} {fmt(main.shape)}"
        )
    return replace(main, masked=main.masked and short.masked)


def data(params, flow, ctx):
    saved = ctx.name("shortcut")
    layers, _ = ctx.stack(params["layers"], ctx.x, flow, f"{ctx.field}.residual.layers")
    shortcut, _ = ctx.stack(
        params["shortcut"] or (), saved, flow, f"{ctx.field}.residual.shortcut"
    )
    return {"saved": saved, "layers": layers, "shortcut": shortcut}


VALID = (
    """
    variables:
      k: {shape: [4, 4], initializer: {glorot_uniform: {seed: 1}}}
    forward: {layers: [{residual: {layers: [{dense: {kernel: k}}, relu]}}]}
    """,
    """
    inputs:
      x: {dtype: float32, shape: [null, 4, 4, 2]}
      y: {dtype: float32, shape: [null, 4, 4, 3]}
    variables:
      f: {shape: [3, 3, 2, 3], initializer: {he_normal: {seed: 1}}, l2: 0.0001}
      p: {shape: [1, 1, 2, 3], initializer: {he_normal: {seed: 2}}, l2: 0.0001}
    forward:
      layers:
        - residual:
            layers: [relu, {conv2d: {filters: f}}]
            shortcut: [{conv2d: {filters: p, padding: VALID}}]
    """,
)
INVALID = (
    (
        """
        variables:
          k: {shape: [4, 3], initializer: zeros}
        forward: {layers: [{residual: {layers: [{dense: {kernel: k}}]}}]}
        """,
        "forward.layers[0].residual: expected the layers to output the block's input (the identity shortcut) shape and dtype float32 [null, 4], found float32 [null, 3]",
    ),
    (
        """
        variables:
          k: {shape: [3, 4], initializer: zeros}
        forward: {layers: [{residual: {layers: [{dense: {kernel: k}}]}}]}
        """,
        "forward.layers[0].residual.layers[0].dense: expected kernel 'k' of shape [4, units] for input [null, 4], found [3, 4]",
    ),
)
