"""fastsmooth: fast CPU kernels for smooth, differentiable stand-ins of
non-differentiable operations (max, argmax, hardmax, accuracy/precision/recall/F-beta, ...)
and their backward passes.

``fastsmooth.abs``, ``fastsmooth.max`` and ``fastsmooth.min`` are public but left out of
``__all__``, so that ``from fastsmooth import *`` does not shadow the builtins (NumPy
does the same for its ``min``, ``max`` and ``round``).
"""

from ._config import CompileNotice
from ._dtw import (
    soft_dtw,
    soft_dtw_alignment,
    soft_dtw_backward,
    soft_dtw_cost,
    soft_dtw_cost_backward,
    soft_dtw_divergence,
    soft_dtw_divergence_backward,
)
from ._elementwise import (
    abs_backward,
    maximum,
    maximum_backward,
    minimum,
    minimum_backward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    smooth_abs,
    smooth_abs_backward,
    smooth_maximum,
    smooth_maximum_backward,
    smooth_minimum,
    smooth_minimum_backward,
    softplus,
    softplus_backward,
)
from ._elementwise import abs_ as abs  # noqa: A004 - deliberately fastsmooth.abs
from ._losses import (
    FbetaAccumulator,
    SoftConfusion,
    l1_loss,
    l1_loss_backward,
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
from ._hmm import hmm_forward_backward, viterbi
from ._pooling import (
    global_maxpool2d,
    global_maxpool2d_backward,
    maxpool1d,
    maxpool1d_backward,
    maxpool2d,
    maxpool2d_backward,
    maxunpool2d,
)
from ._reductions import (
    hardmax,
    log_softmax,
    log_softmax_backward,
    logsumexp,
    logsumexp_backward,
    max_backward,
    min_backward,
    soft_argmax,
    soft_argmax2d,
    soft_argmax2d_backward,
    soft_argmax_backward,
    softmax,
    softmax_backward,
    straight_through_hardmax,
)
from ._reductions import max_ as max  # noqa: A004 - deliberately fastsmooth.max
from ._reductions import min_ as min  # noqa: A004
from ._semiring import logmatmulexp, logmatmulexp_backward, maxplus_matmul, maxplus_matmul_backward
from ._sparsemax import sparsemax, sparsemax_backward
from ._warmup import warmup
from . import _registry  # noqa: I001 - the list of ops, last

__version__ = "0.1.0"

#: every public name but ``abs``, ``max`` and ``min`` (see :mod:`._registry`)
__all__ = _registry.public_all()

# ``fastsmooth.scipy``: the drop-in for scipy.special.logsumexp/softmax/log_softmax (SciPy's
# signatures and defaults; SciPy itself is not needed). A submodule, not in __all__: its
# names are those of the functions above with other defaults.
from . import scipy  # noqa: E402
