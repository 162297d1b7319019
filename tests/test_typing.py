"""Types: the stubs ``fastsmooth/__init__.pyi`` are what ``tools/make_stubs.py`` writes
from the runtime signatures (so they cannot drift from the code), the package ships
``py.typed``, and a small typed usage file passes ``mypy --strict``."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _make_stubs():
    spec = importlib.util.spec_from_file_location("make_stubs", ROOT / "tools" / "make_stubs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stubs_match_the_runtime_signatures():
    stubs = _make_stubs()
    assert stubs.PATH.read_text() == stubs.render(), "run python tools/make_stubs.py"
    assert stubs.SCIPY_PATH.read_text() == stubs.SCIPY
    import inspect

    import fastsmooth.scipy as fss

    got = {n: str(inspect.signature(getattr(fss, n))) for n in fss.__all__}
    assert got == {"logsumexp": "(a, axis=None, b=None, keepdims=False, return_sign=False)",
                   "softmax": "(x, axis=None)", "log_softmax": "(x, axis=None)"}
    assert (ROOT / "fastsmooth" / "py.typed").exists()


def test_mypy_strict_on_a_typed_usage_file():
    pytest.importorskip("mypy", reason="mypy is in the test extra")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", "/dev/null",
         str(ROOT / "tests" / "typing" / "usage.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
