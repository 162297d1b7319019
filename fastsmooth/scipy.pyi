"""Type stubs of fastsmooth.scipy (written by tools/make_stubs.py: do not edit)."""

from typing import Any

from numpy.typing import ArrayLike

__all__: list[str]

def logsumexp(a: ArrayLike, axis: int | tuple[int, ...] | None = None, b: ArrayLike | None = None,
              keepdims: bool = False, return_sign: bool = False) -> Any: ...
def softmax(x: ArrayLike, axis: int | tuple[int, ...] | None = None) -> Any: ...
def log_softmax(x: ArrayLike, axis: int | tuple[int, ...] | None = None) -> Any: ...
