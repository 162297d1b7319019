"""The Numba configuration: flags keep inf/nan, serial and parallel twins agree, the
serial/parallel choice, and the cache fallback."""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numba
import numpy as np
import pytest

import fastsmooth as fs
from fastsmooth import _config


def test_flag_sets_never_assume_finite_values():
    for flags in (_config.FASTMATH, _config.REDUCTION_FASTMATH):
        assert not {"nnan", "ninf", "fast"} & set(flags)
    assert "reassoc" not in _config.FASTMATH
    assert _config.REDUCTION_FASTMATH - _config.FASTMATH == {"reassoc"}
    assert _config.FASTMATH - _config.REDUCTION_FASTMATH == {"nsz"}


def test_no_flag_set_holds_reassoc_with_nsz():
    """``reassoc`` with ``nsz`` lets LLVM regroup a helper's additions again when it
    optimizes the helper's copy inside a caller, so the process that compiles a kernel
    (which calls the helper's own library) would round differently from the processes
    that load it from the cache (which run the kernel's copy)."""
    for flags in (_config.FASTMATH, _config.REDUCTION_FASTMATH):
        assert not {"reassoc", "nsz"} <= set(flags)
    with pytest.raises(ValueError, match="reassoc"):
        _config.jit(lambda x: x, fastmath={"reassoc", "nsz"})


@_config.kernel
def _probe(x, out):
    """A kernel exercising the operations the flags could break."""
    for i in numba.prange(x.shape[0]):
        v = x[i]
        out[i, 0] = v != v  # nan test survives without nnan
        out[i, 1] = v == np.inf
        out[i, 2] = v - v  # inf - inf = nan, nan - nan = nan, finite 0
        out[i, 3] = max(v, 0.0) if v == v else np.nan
        out[i, 4] = 1.0 / v  # 1/inf = 0, 1/0 = inf


def test_inf_and_nan_survive_the_flags():
    x = np.array([np.nan, np.inf, -np.inf, 0.5, 0.0])
    for parallel in (False, True):
        out = np.zeros((5, 5))
        _probe(x, out, parallel=parallel)
        np.testing.assert_array_equal(out[:, 0], [1, 0, 0, 0, 0])
        np.testing.assert_array_equal(out[:, 1], [0, 1, 0, 0, 0])
        np.testing.assert_array_equal(out[:, 2], [np.nan, np.nan, np.nan, 0.0, 0.0])
        np.testing.assert_array_equal(out[:, 3], [np.nan, np.inf, 0.0, 0.5, 0.0])
        np.testing.assert_array_equal(out[:, 4], [np.nan, 0.0, -0.0, 2.0, np.inf])


def test_twins_have_distinct_cache_names():
    k = _probe
    assert k.serial.py_func.__qualname__ == k.parallel_kernel.py_func.__qualname__ + "_serial"


def test_use_parallel_threshold_and_threads():
    assert not _config.use_parallel(_config.PARALLEL_MIN_ELEMENTS - 1)
    expected = numba.get_num_threads() > 1
    assert _config.use_parallel(_config.PARALLEL_MIN_ELEMENTS) == expected


def test_use_parallel_from_other_threads_follows_the_layer(monkeypatch):
    results = {}

    def probe():
        results["answer"] = _config.use_parallel(10**8)

    for safe in (True, False):
        monkeypatch.setattr(_config, "_layer_is_thread_safe", lambda safe=safe: safe)
        t = threading.Thread(target=probe)
        t.start()
        t.join()
        assert results["answer"] == (safe and numba.get_num_threads() > 1)


def test_threading_layer_is_the_one_numba_uses():
    layer = _config.threading_layer()
    assert layer in ("tbb", "omp", "workqueue")
    assert layer == numba.threading_layer()  # asking launched the layer: no "not initialized"


def test_cache_fallback_when_no_locator(monkeypatch):
    """A read-only install: numba cannot cache -> we warn and compile without cache."""
    real_njit = numba.njit

    def njit(*args, cache=False, **kwargs):
        if cache:
            def deco(fn):
                raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
            return deco
        return real_njit(*args, **kwargs)

    monkeypatch.setattr(_config.numba, "njit", njit)

    def f(x):
        return x + 1

    with pytest.warns(RuntimeWarning, match="will not be cached"):
        jitted = _config.jit(f)
    assert jitted(1) == 2


def test_results_do_not_depend_on_thread_count():
    x = np.random.default_rng(0).standard_normal((64, 4096))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = fs.logsumexp(x), fs.softmax(x)
        numba.set_num_threads(before)
        many = fs.logsumexp(x), fs.softmax(x)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])


# ------------------------------------------------------------------- threads: the cap


@_config.kernel
def _thread_ids(out):
    for i in numba.prange(out.shape[0]):
        out[i] = numba.get_thread_id()


def test_max_threads_caps_a_parallel_call_and_gives_the_thread_its_count_back(monkeypatch):
    monkeypatch.setattr(_config, "_max_threads", None)
    monkeypatch.setattr(_config, "LATE_POOL_FALLBACK", False)  # (a busy machine: no fallback here)
    before = numba.get_num_threads()
    ids = np.full(4096, -1)
    _thread_ids(ids, parallel=True)
    assert len(set(ids)) == before  # the iterations are split over every thread
    assert _config.set_max_threads(1) is None
    _thread_ids(ids, parallel=True)
    assert set(ids) == {0}
    assert numba.get_num_threads() == before
    assert _config.num_threads() == 1
    assert not _config.use_parallel(10**8)
    assert _config.set_max_threads(None) == 1
    assert _config.num_threads() == before


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_max_threads_validation(bad):
    with pytest.raises(ValueError, match="set_max_threads: `n` must be an int >= 1"):
        _config.set_max_threads(bad)


def test_no_loadable_threading_layer_runs_serial_kernels_with_one_warning(monkeypatch):
    def no_layer():
        raise ValueError("No threading layer could be loaded.")

    monkeypatch.setattr(_config, "_layer", None)
    monkeypatch.setattr(_config.numba, "get_num_threads", no_layer)
    with pytest.warns(RuntimeWarning, match="could not load a threading layer"):
        assert _config.threading_layer() is None
    assert not _config.use_parallel(10**8)  # no second warning (warnings are errors here)
    x = np.random.default_rng(1).standard_normal((64, 4096))
    np.testing.assert_allclose(fs.logsumexp(x), np.log(np.exp(x).sum(axis=1)), rtol=1e-12)


# ----------------------------------------------------------- a read-only installation

# Runs in a fresh interpreter from a read-only copy of the package, with HOME and
# NUMBA_CACHE_DIR unusable. Root ignores file modes, so a copy that is still writable
# means we run as root with CAP_DAC_OVERRIDE; then Numba's cache locators are made to
# find the directories unwritable instead (the same failure, one level lower).
_READ_ONLY_SCRIPT = r"""
import json, os, sys, warnings
package = os.path.join(sys.argv[1], "fastsmooth")
try:
    open(os.path.join(package, "probe"), "w").close()
    os.remove(os.path.join(package, "probe"))
    mode = "patched"
    import numba.core.caching as caching

    def unwritable(self):
        raise PermissionError(13, "Permission denied (simulated)", self.get_cache_path())

    caching._CacheLocator.ensure_cache_path = unwritable
except OSError:
    mode = "read-only"
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import numpy as np
    import fastsmooth as fs
    import fastsmooth._reference as ref
    x = np.array([[1.0, 2.0, 3.0], [1000.0, 1.0, -np.inf]])
    ok = bool(np.allclose(fs.logsumexp(x), ref.logsumexp(x), rtol=1e-14)
              and np.allclose(fs.softmax(x, axis=0), ref.softmax(x, axis=0), rtol=1e-14))
print(json.dumps({"mode": mode, "file": fs.__file__, "ok": ok,
                  "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]}))
"""

# drop the capabilities that let root ignore file modes, then run the command
_DROP_ROOT_POWERS = (
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER\n"
    "    libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP; fails harmlessly if not allowed\n"
    "os.execv(sys.executable, [sys.executable] + sys.argv[1:])\n"
)


def test_read_only_install_imports_and_computes_with_one_warning(tmp_path):
    src = Path(fs.__file__).parent
    top = tmp_path / "ro"
    shutil.copytree(src, top / "site" / "fastsmooth", ignore=shutil.ignore_patterns("__pycache__"))
    (top / "home").mkdir()
    before = sorted(p.name for p in (top / "site" / "fastsmooth").iterdir())
    for path in [top, *top.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_CACHE", "PYTHON"))}
    env.update(HOME=str(top / "home"), XDG_CACHE_HOME=str(top / "home" / ".cache"),
               NUMBA_CACHE_DIR=str(top / "home" / "numba"), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-c", _READ_ONLY_SCRIPT, str(top / "site")]
    if sys.platform.startswith("linux"):
        cmd = [sys.executable, "-c", _DROP_ROOT_POWERS, *cmd[1:]]
    try:
        proc = subprocess.run(cmd, cwd=top / "site", env=env, capture_output=True, text=True,
                              timeout=300)
    finally:
        for path in [top, *top.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["file"] == str(top / "site" / "fastsmooth" / "__init__.py")
    assert report["ok"]
    # (besides the first-compile notice: with no cache every kernel compiles)
    warned = [w for w in report["warnings"] if not w.startswith("CompileNotice: ")]
    assert len(warned) == 1, report
    assert warned[0].startswith("RuntimeWarning: fastsmooth: compiled kernels will not be cached")
    assert sorted(p.name for p in (top / "site" / "fastsmooth").iterdir()) == before
    if os.geteuid() != 0:
        assert report["mode"] == "read-only"


# ------------------------------------------------------ busy cores: the late-pool rule


@_config.kernel
def _scale(x, out):
    for i in numba.prange(x.shape[0]):
        out[i] = 2.0 * x[i] + 1.0


def test_a_late_parallel_call_sends_the_next_calls_to_the_serial_twin(monkeypatch):
    """The first two calls of a size class run the serial twin (timed); then a parallel
    call much slower than the serial twin (a thread the OS did not schedule, simulated
    by a sleep) marks the pool late: the next calls run the serial twin, with the same
    bits, until the back-off ends; then parallel calls resume."""
    x = np.random.default_rng(3).standard_normal(1 << 17)
    want = np.empty_like(x)
    _scale(x, want, parallel=False)
    monkeypatch.setattr(_config, "_late_until", 0.0)
    monkeypatch.setattr(_config, "_backoff", _config._BACKOFF_MIN_S)
    monkeypatch.setattr(_config, "LATE_POOL_FALLBACK", True)
    monkeypatch.setattr(_config, "LATE_MARGIN_S", 1e9)  # (this machine may be busy: never late)
    _scale._rates.clear()
    launched = []
    real = _config.Kernel._launch
    slow = [False]

    def launch(self, args):
        launched.append(self.__name__)
        if slow[0]:
            import time
            time.sleep(0.02)
        return real(self, args)

    monkeypatch.setattr(_config.Kernel, "_launch", launch)
    out = np.empty_like(x)
    for _ in range(4):  # two timed serial calls, then parallel ones
        out[:] = 0
        _scale(x, out, parallel=True)
        np.testing.assert_array_equal(out, want)
    assert len(launched) == 2 and not _config.pool_is_late()
    (rate, calls, parallel_calls), = _scale._rates.values()
    assert calls == 2 and rate > 0 and parallel_calls == 2
    slow[0] = True
    monkeypatch.setattr(_config, "LATE_MARGIN_S", 0.005)  # the 20 ms sleep is late
    _scale(x, out, parallel=True)  # late
    np.testing.assert_array_equal(out, want)
    assert _config.pool_is_late() and len(launched) == 3
    out[:] = 0
    _scale(x, out, parallel=True)  # runs the serial twin: no launch
    assert len(launched) == 3
    np.testing.assert_array_equal(out, want)
    assert _config._backoff == 2 * _config._BACKOFF_MIN_S
    slow[0] = False
    monkeypatch.setattr(_config, "_late_until", 0.0)  # the back-off is over
    monkeypatch.setattr(_config, "LATE_MARGIN_S", 1e9)
    _scale(x, out, parallel=True)
    assert len(launched) == 4 and _config._backoff == _config._BACKOFF_MIN_S
    np.testing.assert_array_equal(out, want)


def test_the_first_parallel_call_of_a_size_class_is_not_judged(monkeypatch):
    """It may include loading the parallel twin and starting the thread pool: a slow
    first parallel call must not mark an idle pool late (it did, and every kernel then
    ran its serial twin for the back-off); the second one is judged."""
    x = np.random.default_rng(4).standard_normal(1 << 17)
    monkeypatch.setattr(_config, "_late_until", 0.0)
    monkeypatch.setattr(_config, "_backoff", _config._BACKOFF_MIN_S)
    monkeypatch.setattr(_config, "LATE_POOL_FALLBACK", True)
    monkeypatch.setattr(_config, "LATE_MARGIN_S", 0.005)
    _scale._rates.clear()
    real = _config.Kernel._launch

    def slow_launch(self, args):
        import time
        time.sleep(0.02)
        return real(self, args)

    monkeypatch.setattr(_config.Kernel, "_launch", slow_launch)
    out = np.empty_like(x)
    for _ in range(3):  # two timed serial calls, then the first parallel one
        _scale(x, out, parallel=True)
    assert not _config.pool_is_late()
    _scale(x, out, parallel=True)  # the second parallel call is judged: late
    assert _config.pool_is_late()


def test_the_late_pool_rule_can_be_switched_off(monkeypatch):
    monkeypatch.setattr(_config, "LATE_POOL_FALLBACK", False)
    monkeypatch.setattr(_config, "_late_until", float("inf"))
    ids = np.full(4096, -1)
    _thread_ids(ids, parallel=True)
    assert len(set(ids)) == numba.get_num_threads()


# ------------------------------------------------------ the vector width (AVX-512 hosts)

_WIDTH_SCRIPT = r"""
import json, sys
import numba
if sys.argv[1] == "numba-first":
    numba.njit(lambda v: v)  # Numba's code generator exists before fastsmooth's import
import numpy as np
import fastsmooth as fs
from fastsmooth import _config, _rowops
asm = ""
if sys.argv[2] == "asm":  # an empty NUMBA_CACHE_DIR: the helper compiles here
    x = np.linspace(-3.0, 3.0, 4096, dtype=np.float32)
    _rowops._exp_sum(x, 0, x.size, np.float32(3.0), np.float32(1.0))
    asm = "".join(_rowops._exp_sum.inspect_asm().values())
print(json.dumps({"features": numba.config.CPU_FEATURES, "width": _config.VECTOR_WIDTH,
                  "zmm": "%zmm" in asm}))
"""


def _host_has_avx512():
    from numba.core.codegen import get_host_cpu_features  # the reading _config decides on

    return "+avx512f" in get_host_cpu_features().split(",")


def _width_report(tmp_path, order="fastsmooth-first", asm=False, **env_vars):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "FASTSMOOTH_VECTOR_WIDTH")}
    env.update(env_vars)
    if asm:
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
    proc = subprocess.run([sys.executable, "-c", _WIDTH_SCRIPT, order, "asm" if asm else "-"],
                          env=env, capture_output=True, text=True, timeout=300)
    return proc


def test_an_avx512_host_gets_512_bit_vectors(tmp_path):
    proc = _width_report(tmp_path, asm=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if not _host_has_avx512():
        assert report["features"] is None and "no AVX-512" in report["width"]
        pytest.skip("no AVX-512 on this host: LLVM's choice stands (checked)")
    assert report["features"].endswith(",-prefer-256-bit")
    assert report["width"].startswith("512-bit")
    assert report["zmm"], "the exp-sum loop of an AVX-512 host should use zmm registers"


@pytest.mark.parametrize("how", ["opt-out", "user-features", "user-cpu", "numba-first"])
def test_the_vector_width_is_left_to_llvm_when_the_user_chose(tmp_path, how):
    env, order = {}, "fastsmooth-first"
    if how == "opt-out":
        env["FASTSMOOTH_VECTOR_WIDTH"] = "llvm"
    elif how == "user-features":
        env["NUMBA_CPU_FEATURES"] = "+sse2,+avx,+avx2,+fma"
    elif how == "user-cpu":
        env["NUMBA_CPU_NAME"] = "haswell"
    else:
        order = "numba-first"
    proc = _width_report(tmp_path, order, **env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["features"] == env.get("NUMBA_CPU_FEATURES")  # untouched (None: unset)
    assert report["width"].startswith("LLVM's choice")


def test_a_bad_vector_width_setting_fails_the_import_with_a_clear_error(tmp_path):
    proc = _width_report(tmp_path, FASTSMOOTH_VECTOR_WIDTH="1024")
    assert proc.returncode != 0
    assert "ValueError: FASTSMOOTH_VECTOR_WIDTH must be 'auto' or 'llvm', not '1024'" in proc.stderr
