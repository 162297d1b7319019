"""Root conftest: the doctest namespace (``np``) for the docstring examples."""

import importlib.util

import numpy as np
import pytest

# fastsmooth.dask needs the optional extra; without it, skip its doctests (tests/test_dask.py
# skips itself)
collect_ignore = [] if importlib.util.find_spec("dask") else ["fastsmooth/dask.py"]


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["np"] = np
    np.set_printoptions(legacy=False)
