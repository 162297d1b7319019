"""fastsmooth: fast CPU kernels for smooth, differentiable stand-ins of
non-differentiable operations (max, argmax, hardmax, ...) and their backward passes."""

from ._reductions import (
    hardmax,
    log_softmax,
    log_softmax_backward,
    logsumexp,
    logsumexp_backward,
    soft_argmax,
    soft_argmax2d,
    soft_argmax2d_backward,
    soft_argmax_backward,
    softmax,
    softmax_backward,
    straight_through_hardmax,
)

__version__ = "0.1.0"

__all__ = [
    "logsumexp",
    "logsumexp_backward",
    "softmax",
    "softmax_backward",
    "log_softmax",
    "log_softmax_backward",
    "soft_argmax",
    "soft_argmax_backward",
    "soft_argmax2d",
    "soft_argmax2d_backward",
    "hardmax",
    "straight_through_hardmax",
]
