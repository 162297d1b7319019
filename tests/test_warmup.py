"""``fastsmooth.warmup`` and the first-compile notice."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastsmooth as fs
from fastsmooth import _config, _warmup


def test_warmup_knows_every_public_function():
    public = [n for n in fs.__all__ if callable(getattr(fs, n)) and not isinstance(getattr(fs, n), type)]
    missing = set(public + ["abs", "max", "min"]) - set(_warmup.WARMUP_OPS) - {"warmup"}
    assert not missing
    assert all(callable(getattr(fs, op)) for op in _warmup.WARMUP_OPS)


def test_blocking_warmup_returns_a_summary(capsys):
    summary = fs.warmup(["relu", "softmax"], dtypes=("float32",), progress=False)
    assert summary["ops"] == 2 and summary["dtypes"] == ("float32",)
    per_op = sum(1 if np.prod(s) < _config.PARALLEL_MIN_ELEMENTS else 2 for s in _warmup._SHAPES)
    assert summary["calls"] == 2 * per_op  # large inputs: the parallel and the serial twin
    assert summary["loaded"] >= 0 and summary["compiled"] >= 0 and summary["seconds"] > 0
    assert capsys.readouterr().err == ""  # no bar off a terminal
    again = fs.warmup("relu", dtypes="float32", progress=False)
    assert again["compiled"] == again["loaded"] == 0  # already in this process


def test_progress_bar(capsys):
    fs.warmup(["sigmoid"], dtypes=["float32", "float64"], progress=True)
    err = capsys.readouterr().err
    assert "fastsmooth warmup [" in err and "2/2 sigmoid float64" in err and err.endswith("\n")


def test_background_warmup_returns_a_started_thread():
    t = fs.warmup(["softplus"], dtypes=["float64"], background=True, progress=False)
    assert isinstance(t, threading.Thread) and t.daemon
    x = np.linspace(-3, 3, 50)
    y = fs.softplus(x)  # calls meanwhile are fine
    t.join(timeout=300)
    assert not t.is_alive()
    np.testing.assert_array_equal(fs.softplus(x), y)


@pytest.mark.parametrize("ops,dtypes,match", [
    (["softmaxx"], ("float32",), r"warmup: unknown op\(s\) 'softmaxx' in `ops`"),
    (None, ("float16",), r"warmup: `dtypes` must name float32 and/or float64, got 'float16'"),
    (None, ("nope",), r"warmup: `dtypes` must name float32"),
])
def test_bad_arguments(ops, dtypes, match):
    with pytest.raises(ValueError, match=match):
        fs.warmup(ops, dtypes)


def test_warmup_reaches_both_twins_whatever_the_pool_does(monkeypatch):
    """A late pool (serial twins) or a good one (parallel twins): warm-up compiles both,
    so a later process never compiles because the pool happened to be late."""
    monkeypatch.setattr(_config, "_late_until", float("inf"))  # the pool is late
    fs.warmup(["relu"], dtypes=["float64"], progress=False)
    k = fs._elementwise._unary
    if _config.use_parallel(1 << 20):  # (a layer that launches from this thread)
        assert k._parallel is not None and k._parallel.signatures
    assert k._serial is not None and k._serial.signatures


def test_forced_twin_validates():
    with pytest.raises(ValueError, match="forced_twin: `twin` must be"):
        _config.forced_twin("both")


def test_compile_notice_category():
    assert issubclass(fs.CompileNotice, UserWarning)
    assert fs.CompileNotice is _config.CompileNotice


_CHILD = """
import warnings, numpy as np, fastsmooth as fs
from fastsmooth import _config
_config.COMPILE_NOTICE_SECONDS = 0.0   # any compile counts: keep the test short
if {silence}:
    warnings.filterwarnings("ignore", category=fs.CompileNotice)
fs.relu(np.ones(3))                    # compiles _unary (float64) on an empty cache
fs.relu(np.ones(3, np.float32))        # a second compile: no second notice
print("ok")
"""


def _child(cache, silence=False):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-c", _CHILD.format(silence=silence)], env=env,
                          capture_output=True, text=True, timeout=600)


def test_first_compile_notice_once_on_stderr_in_a_fresh_process(tmp_path):
    """An empty cache: one notice line on stderr for two compiles; a second process
    loads the kernels from the cache and says nothing; the notice can be silenced."""
    r = _child(tmp_path / "cache")
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "CompileNotice: fastsmooth is compiling kernel _unary" in lines[0]
    assert "fastsmooth warmup" in lines[0]
    warm = _child(tmp_path / "cache")
    assert warm.returncode == 0 and warm.stderr.strip() == "", warm.stderr
    silent = _child(tmp_path / "other", silence=True)
    assert silent.returncode == 0 and silent.stderr.strip() == "", silent.stderr


def test_import_builds_no_kernel_dispatcher():
    """A fresh process: after ``import fastsmooth`` no kernel twin has a dispatcher; a
    call builds the ones it uses, and only those."""
    code = ("import numpy as np, fastsmooth as fs\n"
            "from fastsmooth import _config\n"
            "made = lambda: sum((k._serial is not None) + (k._parallel is not None) for k in _config.all_kernels())\n"
            "print(len(_config.all_kernels()), made())\n"
            "fs.relu(np.ones(3))\n"
            "print(made(), fs._elementwise._unary._serial is not None)\n")
    r = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    n_kernels, made = map(int, first.split())
    assert n_kernels > 30 and made == 0
    assert second == "1 True"
