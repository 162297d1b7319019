"""The one table of fastsmooth's public operations.

Every public function is named here once, in its family (the module that holds it,
``fastsmooth._<family>``), with an example call. Derived from this table:
``fastsmooth``'s namespace and ``__all__`` (``__init__.py`` imports each op from its
family's module), :func:`fastsmooth.warmup` (it runs the examples on inputs of several
sizes), the cross-cutting tests of ``tests/test_api.py`` (they run the examples on a
small input unless the test gives an op arguments of its own; ``abs``, ``max`` and
``min`` included), the thread stress test, and the API reference (the
``fastsmooth-ops`` directive of ``docs/conf.py`` lists each page's ops from
:data:`PAGES` and :data:`SECTIONS`). Checked against it by ``tests/test_registry.py``:
the NumPy twins of :mod:`._reference` (same names, same signatures less ``out``), the
stubs, the benchmark table.

Adding an op: its entry here; its function in its module; its twin; its tests; its
benchmark row (docs/developing.md, "Adding a row op").
"""

from __future__ import annotations

import numpy as np

__all__ = ["FAMILIES", "OPS", "PAGES", "SECTIONS", "SHADOWING", "CLASSES", "HELPERS", "public_all", "twin_name",
           "attribute", "names_in", "example", "api_ops"]


def _pair(x):
    return (x, x[::-1].copy())


def _labels(x):
    return np.arange(x.shape[0]) % x.shape[1]


def _hmm(fs, x):
    s = min(x.shape[1], 16)
    start = fs.log_softmax(x[0, :s])
    trans = fs.log_softmax(x[:s, :s] if x.shape[0] >= s else np.zeros((s, s), x.dtype))
    return (start, trans, fs.log_softmax(x[:, :s])), {}


def _series(x, batch=False):
    a, b = x[:256, :8], x[::-1][:256, :8].copy()
    return (a[None], b[None]) if batch else (a, b)


#: family -> {op: example}, each forward followed by its backward. An example is
#: ``example(fs, x) -> (args, kwargs)``, a typical call built from the float array ``x``
#: of rows ``(R, n)`` (planes ``(C, H, W)`` for the 2-D ops), of any float dtype and size
#: (``fs`` is the package, for ops whose arguments come from another op).
FAMILIES = {
    "reductions": {
        "logsumexp": lambda fs, x: ((x,), {}),
        "logsumexp_backward": lambda fs, x: ((np.ones(x.shape[0], x.dtype), x, fs.logsumexp(x)), {}),
        "softmax": lambda fs, x: ((x,), {}),
        "softmax_backward": lambda fs, x: ((x, fs.softmax(x)), {}),
        "log_softmax": lambda fs, x: ((x,), {}),
        "log_softmax_backward": lambda fs, x: ((x, fs.log_softmax(x)), {}),
        "soft_argmax": lambda fs, x: ((x,), {}),
        "soft_argmax_backward": lambda fs, x: ((np.ones(x.shape[0], x.dtype), x), {}),
        "soft_argmax2d": lambda fs, x: ((x,), {}),
        "soft_argmax2d_backward": lambda fs, x: ((np.ones(x.shape[:-2] + (2,), x.dtype), x), {}),
        "hardmax": lambda fs, x: ((x,), {}),
        "straight_through_hardmax": lambda fs, x: ((x,), {}),
        "max": lambda fs, x: ((x,), {}),
        "max_backward": lambda fs, x: ((np.ones(x.shape[0], x.dtype), x), {}),
        "min": lambda fs, x: ((x,), {}),
        "min_backward": lambda fs, x: ((np.ones(x.shape[0], x.dtype), x), {}),
    },
    "sparsemax": {
        "sparsemax": lambda fs, x: ((x,), {}),
        "sparsemax_backward": lambda fs, x: ((x, fs.sparsemax(x)), {}),
    },
    "losses": {
        "soft_confusion": lambda fs, x: ((x, x > 0), {}),
        "soft_accuracy_loss": lambda fs, x: ((x, x > 0), {}),
        "soft_accuracy_loss_backward": lambda fs, x: ((1.0, x, x > 0), {}),
        "soft_precision_loss": lambda fs, x: ((x, x > 0), {}),
        "soft_precision_loss_backward": lambda fs, x: ((1.0, x, x > 0), {}),
        "soft_recall_loss": lambda fs, x: ((x, x > 0), {}),
        "soft_recall_loss_backward": lambda fs, x: ((1.0, x, x > 0), {}),
        "soft_fbeta_loss": lambda fs, x: ((x, x > 0), {}),
        "soft_fbeta_loss_backward": lambda fs, x: ((1.0, x, x > 0), {}),
        "softmax_accuracy_loss": lambda fs, x: ((x, _labels(x)), {}),
        "softmax_accuracy_loss_backward": lambda fs, x: ((1.0, x, _labels(x)), {}),
        "softmax_fbeta_loss": lambda fs, x: ((x, _labels(x)), {}),
        "softmax_fbeta_loss_backward": lambda fs, x: ((1.0, x, _labels(x)), {}),
        "l1_loss": lambda fs, x: (_pair(x), {}),
        "l1_loss_backward": lambda fs, x: ((1.0, *_pair(x)), {}),
    },
    "pooling": {
        "maxpool1d": lambda fs, x: ((x, 3), {"stride": 2, "padding": 1}),
        "maxpool1d_backward": lambda fs, x: (
            (lambda y, i: (y, i, x.shape))(*fs.maxpool1d(x, 3, 2, 1)), {}),
        "maxpool2d": lambda fs, x: ((x, 3), {"stride": 2, "padding": 1}),
        "maxpool2d_backward": lambda fs, x: (
            (lambda y, i: (y, i, x.shape))(*fs.maxpool2d(x, 3, 2, 1)), {}),
        "maxunpool2d": lambda fs, x: ((lambda y, i: (y, i, x.shape))(*fs.maxpool2d(x, 2)), {}),
        "global_maxpool2d": lambda fs, x: ((x,), {}),
        "global_maxpool2d_backward": lambda fs, x: (
            (lambda y, i: (y, i, x.shape))(*fs.global_maxpool2d(x)), {}),
    },
    "semiring": {
        "logmatmulexp": lambda fs, x: ((x[:256, :256], x[:256, :256].T.copy()), {}),
        "logmatmulexp_backward": lambda fs, x: (
            (lambda a, b: (np.ones((a.shape[0], b.shape[1]), x.dtype), a, b, fs.logmatmulexp(a, b)))(
                x[:256, :256], x[:256, :256].T.copy()), {}),
        "maxplus_matmul": lambda fs, x: ((x[:256, :256], x[:256, :256].T.copy()), {}),
        "maxplus_matmul_backward": lambda fs, x: (
            (np.ones((min(len(x), 256),) * 2, x.dtype), fs.maxplus_matmul(x[:256, :256], x[:256, :256].T.copy())[1],
             x[:256, :256].shape, x[:256, :256].T.shape), {}),
    },
    "hmm": {
        "hmm_forward_backward": lambda fs, x: _hmm(fs, x),
        "viterbi": lambda fs, x: _hmm(fs, x),
    },
    "elementwise": {
        "relu": lambda fs, x: ((x,), {}),
        "relu_backward": lambda fs, x: ((x, x), {}),
        "abs": lambda fs, x: ((x,), {}),
        "abs_backward": lambda fs, x: ((x, x), {}),
        "maximum": lambda fs, x: (_pair(x), {}),
        "maximum_backward": lambda fs, x: ((x, *_pair(x)), {}),
        "minimum": lambda fs, x: (_pair(x), {}),
        "minimum_backward": lambda fs, x: ((x, *_pair(x)), {}),
        "sigmoid": lambda fs, x: ((x,), {}),
        "sigmoid_backward": lambda fs, x: ((x, x), {}),
        "softplus": lambda fs, x: ((x,), {}),
        "softplus_backward": lambda fs, x: ((x, x), {}),
        "smooth_abs": lambda fs, x: ((x,), {}),
        "smooth_abs_backward": lambda fs, x: ((x, x), {}),
        "smooth_maximum": lambda fs, x: (_pair(x), {}),
        "smooth_maximum_backward": lambda fs, x: ((x, *_pair(x)), {}),
        "smooth_minimum": lambda fs, x: (_pair(x), {}),
        "smooth_minimum_backward": lambda fs, x: ((x, *_pair(x)), {}),
    },
    "dtw": {
        "soft_dtw": lambda fs, x: (_series(x), {}),
        "soft_dtw_backward": lambda fs, x: ((np.ones((1,), x.dtype), *_series(x, batch=True)), {}),
        "soft_dtw_alignment": lambda fs, x: (_series(x), {}),
        "soft_dtw_cost": lambda fs, x: ((np.abs(x[:64, :64]),), {}),
        "soft_dtw_cost_backward": lambda fs, x: ((np.ones((), x.dtype), np.abs(x[:64, :64])), {}),
        "soft_dtw_divergence": lambda fs, x: (_series(x), {}),
        "soft_dtw_divergence_backward": lambda fs, x: ((np.ones((1,), x.dtype), *_series(x, batch=True)), {}),
    },
}

#: every public operation, in the order of :data:`FAMILIES`
OPS = tuple(name for ops in FAMILIES.values() for name in ops)

#: family -> the page of the API reference (``docs/api/<page>.rst``) that documents it
PAGES = {"reductions": "reductions", "sparsemax": "reductions", "losses": "losses", "pooling": "pooling",
         "semiring": "semiring", "hmm": "semiring", "elementwise": "elementwise", "dtw": "dtw"}

#: ops that their page shows in a section of its own (``.. fastsmooth-ops:: <section>``);
#: the rest of a page's ops are its first list (``.. fastsmooth-ops::``)
SECTIONS = {
    "hard": ("max", "max_backward", "min", "min_backward"),
    "l1": ("l1_loss", "l1_loss_backward"),
    "subgradients": ("relu", "relu_backward", "abs", "abs_backward", "maximum", "maximum_backward", "minimum",
                     "minimum_backward"),
}

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


#: the name of an op in its family's module (``abs_`` for ``abs``...)
attribute = twin_name


def names_in(family):
    """The names of ``family``'s ops in their module (``abs_`` for ``abs``...): the
    module's ``__all__``."""
    return [attribute(op) for op in FAMILIES[family]]


def family_of(op):
    """The family (module) of ``op``."""
    for family, ops in FAMILIES.items():
        if op in ops:
            return family
    raise KeyError(op)


def example(op):
    """``op``'s example: ``example(fs, x) -> (args, kwargs)``."""
    return FAMILIES[family_of(op)][op]


def api_ops(page, section=None):
    """The ops that ``docs/api/<page>.rst`` lists in ``section`` (None: its first list),
    in the order of :data:`FAMILIES`."""
    in_sections = {op for ops in SECTIONS.values() for op in ops}
    if section is not None:
        if section not in SECTIONS:
            raise KeyError(f"no section {section!r}; the sections: {', '.join(SECTIONS)}")
        return [op for op in OPS if op in SECTIONS[section] and PAGES[family_of(op)] == page]
    return [op for op in OPS if PAGES[family_of(op)] == page and op not in in_sections]
