"""fastsmooth: fast CPU kernels for smooth, differentiable stand-ins of
non-differentiable operations (max, argmax, hardmax, accuracy/precision/recall/F-beta, ...)
and their backward passes.

``fastsmooth.abs``, ``fastsmooth.max`` and ``fastsmooth.min`` are public but left out of
``__all__``, so that ``from fastsmooth import *`` does not shadow the builtins (NumPy
does the same for its ``min``, ``max`` and ``round``).
"""

import importlib as _importlib

from . import _registry
from ._config import CompileNotice
from ._losses import FbetaAccumulator, SoftConfusion
from ._warmup import warmup

# every op from its family's module, as the registry lists them (the static view of
# these names, for type checkers and editors, is __init__.pyi: tools/make_stubs.py)
for _family, _ops in _registry.FAMILIES.items():
    _module = _importlib.import_module(f"._{_family}", __name__)
    for _op in _ops:
        globals()[_op] = getattr(_module, _registry.attribute(_op))
del _family, _ops, _module, _op

__version__ = "0.1.0"

#: every public name but ``abs``, ``max`` and ``min`` (see :mod:`._registry`)
__all__ = _registry.public_all()

# ``fastsmooth.scipy``: the drop-in for scipy.special.logsumexp/softmax/log_softmax (SciPy's
# signatures and defaults; SciPy itself is not needed). A submodule, not in __all__: its
# names are those of the functions above with other defaults.
from . import scipy  # noqa: E402
