"""The one list of fastsmooth's public operations.

Every public function is named here once, with its family (the module it lives in).
``fastsmooth.__all__`` is derived from this list, and the cross-cutting machinery is
checked against it by ``tests/test_registry.py``: the NumPy twins of
:mod:`._reference` (same names, same signatures less ``out``), the argument builders of
``tests/test_api.py`` (every rule checked for every op, ``abs``, ``max`` and ``min``
included), :func:`fastsmooth.warmup`, the thread stress test and the API reference.
Adding an op means adding its name here; the tests then say what else it needs.
"""

from __future__ import annotations

__all__ = ["FAMILIES", "OPS", "SHADOWING", "CLASSES", "HELPERS", "public_all", "twin_name"]

#: family (the module that holds the kernels) -> its public functions, each forward
#: followed by its backward
FAMILIES = {
    "reductions": (
        "logsumexp", "logsumexp_backward", "softmax", "softmax_backward", "log_softmax",
        "log_softmax_backward", "soft_argmax", "soft_argmax_backward", "soft_argmax2d",
        "soft_argmax2d_backward", "hardmax", "straight_through_hardmax", "max", "max_backward", "min",
        "min_backward",
    ),
    "sparsemax": ("sparsemax", "sparsemax_backward"),
    "losses": (
        "soft_confusion", "soft_accuracy_loss", "soft_accuracy_loss_backward", "soft_precision_loss",
        "soft_precision_loss_backward", "soft_recall_loss", "soft_recall_loss_backward", "soft_fbeta_loss",
        "soft_fbeta_loss_backward", "softmax_accuracy_loss", "softmax_accuracy_loss_backward",
        "softmax_fbeta_loss", "softmax_fbeta_loss_backward", "l1_loss", "l1_loss_backward",
    ),
    "pooling": (
        "maxpool1d", "maxpool1d_backward", "maxpool2d", "maxpool2d_backward", "maxunpool2d",
        "global_maxpool2d", "global_maxpool2d_backward",
    ),
    "semiring": ("logmatmulexp", "logmatmulexp_backward", "maxplus_matmul", "maxplus_matmul_backward"),
    "hmm": ("hmm_forward_backward", "viterbi"),
    "elementwise": (
        "relu", "relu_backward", "abs", "abs_backward", "maximum",
        "maximum_backward", "minimum", "minimum_backward", "sigmoid", "sigmoid_backward", "softplus",
        "softplus_backward", "smooth_abs", "smooth_abs_backward", "smooth_maximum", "smooth_maximum_backward",
        "smooth_minimum", "smooth_minimum_backward",
    ),
    "dtw": (
        "soft_dtw", "soft_dtw_backward", "soft_dtw_alignment", "soft_dtw_cost", "soft_dtw_cost_backward",
        "soft_dtw_divergence", "soft_dtw_divergence_backward",
    ),
}

#: every public operation, in the order of :data:`FAMILIES`
OPS = tuple(name for names in FAMILIES.values() for name in names)

#: public, but left out of ``__all__`` so that ``from fastsmooth import *`` keeps the
#: builtins (NumPy does the same for its ``min``, ``max`` and ``round``)
SHADOWING = ("abs", "max", "min")

#: public classes and helpers that are not operations on arrays
CLASSES = ("SoftConfusion", "FbetaAccumulator", "CompileNotice")
HELPERS = ("warmup",)


def public_all():
    """``fastsmooth.__all__``: every op but :data:`SHADOWING`, then the classes and
    helpers."""
    return [n for n in OPS if n not in SHADOWING] + list(CLASSES) + list(HELPERS)


def twin_name(op):
    """The name of ``op``'s NumPy twin in :mod:`._reference` (``abs_`` for ``abs``...)."""
    return f"{op}_" if op in SHADOWING else op
