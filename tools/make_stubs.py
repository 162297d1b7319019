"""Write ``fastsmooth/__init__.pyi``, the type stubs of the public API, from the registry
of ops and the runtime signatures (names, kinds and defaults exactly as the functions
have them; types by parameter name and by op). ``tests/test_typing.py`` checks that the
file is what this script writes (so a new op or a changed signature without new stubs
fails) and runs ``mypy --strict`` on a small typed usage file.

    python tools/make_stubs.py
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fastsmooth as fs  # noqa: E402
from fastsmooth import _registry  # noqa: E402

PATH = ROOT / "fastsmooth" / "__init__.pyi"
SCIPY_PATH = ROOT / "fastsmooth" / "scipy.pyi"

SCIPY = '''"""Type stubs of fastsmooth.scipy (written by tools/make_stubs.py: do not edit)."""

from typing import Any

from numpy.typing import ArrayLike

__all__: list[str]

def logsumexp(a: ArrayLike, axis: int | tuple[int, ...] | None = None, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: bool = False) -> Any: ...
def softmax(x: ArrayLike, axis: int | tuple[int, ...] | None = None) -> Any: ...
def log_softmax(x: ArrayLike, axis: int | tuple[int, ...] | None = None) -> Any: ...
'''

#: parameter name -> annotation
PARAMS = {
    "x": "ArrayLike", "y": "ArrayLike", "a": "ArrayLike", "b": "ArrayLike", "D": "ArrayLike",
    "grad": "ArrayLike", "input": "ArrayLike", "target": "ArrayLike", "logits": "ArrayLike",
    "labels": "ArrayLike", "indices": "ArrayLike", "index": "ArrayLike",
    "log_startprob": "ArrayLike", "log_transmat": "ArrayLike", "log_emission": "ArrayLike",
    "counts": "ArrayLike | SoftConfusion | None",
    "axis": "_Axis", "keepdims": "bool", "return_sign": "bool", "ceil_mode": "bool",
    "temperature": "float", "beta": "float", "eps": "float", "gamma": "float", "tie": "float",
    "at_zero": "float", "ties": 'Literal["split", "first"]',
    "average": 'Literal["micro", "macro", "none"]', "reduction": 'Literal["mean", "sum", "none"]',
    "kernel_size": "_Size", "stride": "_Size | None", "padding": "_Size", "dilation": "_Size",
    "input_shape": "Sequence[int]", "output_size": "Sequence[int]", "a_shape": "Sequence[int]",
    "b_shape": "Sequence[int]",
    "out": "Any",
    "ops": "str | Iterable[str] | None", "dtypes": "str | Iterable[str]", "background": "bool",
    "progress": "bool | None",
}

#: ops that return two (three) arrays
PAIRS = {
    "straight_through_hardmax", "maxpool1d", "maxpool2d", "global_maxpool2d", "maximum_backward",
    "minimum_backward", "smooth_maximum_backward", "smooth_minimum_backward", "logmatmulexp_backward",
    "maxplus_matmul", "maxplus_matmul_backward", "viterbi", "soft_dtw_backward", "soft_dtw_alignment",
    "soft_dtw_divergence_backward",
}
RETURNS = {
    "soft_confusion": "SoftConfusion",
    "hmm_forward_backward": "tuple[_Result, _Array, _Array]",
    "warmup": "dict[str, Any] | threading.Thread",
    # logsumexp with return_sign=True gives (value, sign)
    "logsumexp": "Any",
}

HEADER = '''"""Type stubs of fastsmooth's public API (written by tools/make_stubs.py: do not edit)."""

import threading
from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import scipy as scipy

_Array = NDArray[Any]
#: an array, or a NumPy scalar where the result is 0-d
_Result = NDArray[Any] | np.generic
_Axis = int | tuple[int, ...] | None
_Size = int | tuple[int, ...]

__version__: str
__all__: list[str]

class SoftConfusion(NamedTuple):
    tp: Any
    fp: Any
    fn: Any
    tn: Any
    def __add__(self, other: tuple[Any, ...]) -> SoftConfusion: ...

class FbetaAccumulator:
    counts: SoftConfusion
    n_samples: int
    average: str
    temperature: float
    eps: float
    def __init__(self, beta: float = 1.0, average: Literal["micro", "macro", "none"] = "micro",
                 n_classes: int | None = None, *, temperature: float = 1.0, eps: float = 1e-07,
                 activation: Literal["sigmoid", "softmax"] = "sigmoid") -> None: ...
    @classmethod
    def from_counts(cls, counts: ArrayLike | SoftConfusion, n_samples: int, *, beta: float = 1.0,
                    average: Literal["micro", "macro", "none"] = "micro", n_classes: int | None = None,
                    temperature: float = 1.0, eps: float = 1e-07,
                    activation: Literal["sigmoid", "softmax"] = "sigmoid") -> FbetaAccumulator: ...
    def update(self, logits: ArrayLike, target: ArrayLike) -> FbetaAccumulator: ...
    def merge(self, other: FbetaAccumulator) -> FbetaAccumulator: ...
    def __add__(self, other: FbetaAccumulator) -> FbetaAccumulator: ...
    def __radd__(self, other: FbetaAccumulator | int) -> FbetaAccumulator: ...
    def copy(self) -> FbetaAccumulator: ...
    def loss(self) -> Any: ...
    def backward(self, logits: ArrayLike, target: ArrayLike, grad: ArrayLike | None = None) -> _Array: ...
    def reset(self) -> FbetaAccumulator: ...

class CompileNotice(UserWarning): ...
'''


def _default(value):
    return "..." if value is not inspect.Parameter.empty else ""


def _param(p):
    text = p.name
    if p.name not in PARAMS:
        raise KeyError(f"no annotation for parameter {p.name!r}: add it to PARAMS")
    ann = PARAMS[p.name]
    if p.default is None and "None" not in ann and ann != "Any":
        ann += " | None"
    text += f": {ann}"
    if p.default is not inspect.Parameter.empty:
        text += f" = {p.default!r}" if isinstance(p.default, (int, float, str, bool, type(None))) else " = ..."
    return text


def _signature(name):
    sig = inspect.signature(getattr(fs, name))
    parts = []
    kw_started = False
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not kw_started:
            parts.append("*")
            kw_started = True
        parts.append(_param(p))
    ret = RETURNS.get(name, "tuple[_Result, _Result]" if name in PAIRS else "_Result")
    return f"def {name}({', '.join(parts)}) -> {ret}: ..."


def render():
    lines = [HEADER]
    for name in _registry.OPS + _registry.HELPERS:
        lines.append(_signature(name))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    PATH.write_text(render())
    SCIPY_PATH.write_text(SCIPY)
    print(PATH, SCIPY_PATH)
