"""fastsmooth: fast CPU kernels for smooth, differentiable stand-ins of
non-differentiable operations (max, argmax, hardmax, accuracy/precision/recall/F-beta, ...)
and their backward passes."""

from ._losses import (
    FbetaAccumulator,
    SoftConfusion,
    soft_accuracy_loss,
    soft_accuracy_loss_backward,
    soft_confusion,
    soft_fbeta_loss,
    soft_fbeta_loss_backward,
    soft_precision_loss,
    soft_precision_loss_backward,
    soft_recall_loss,
    soft_recall_loss_backward,
    softmax_accuracy_loss,
    softmax_accuracy_loss_backward,
    softmax_fbeta_loss,
    softmax_fbeta_loss_backward,
)
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
    "soft_confusion",
    "SoftConfusion",
    "soft_accuracy_loss",
    "soft_accuracy_loss_backward",
    "soft_precision_loss",
    "soft_precision_loss_backward",
    "soft_recall_loss",
    "soft_recall_loss_backward",
    "soft_fbeta_loss",
    "soft_fbeta_loss_backward",
    "softmax_accuracy_loss",
    "softmax_accuracy_loss_backward",
    "softmax_fbeta_loss",
    "softmax_fbeta_loss_backward",
    "FbetaAccumulator",
]
