"""Root conftest: the doctest namespace (``np``) for the docstring examples."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["np"] = np
    np.set_printoptions(legacy=False)
