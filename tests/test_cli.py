"""The command line: ``python -m fastsmooth demo`` prints the worked examples."""

import re
import subprocess
import sys

import numpy as np
import pytest

from fastsmooth import _cli


def test_demo_prints_the_worked_examples(capsys):
    assert _cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "4.0000045403" in out  # logsumexp([1,2,3,4,2], temperature=0.1)
    assert "2.6134800" in out  # soft_argmax([1,2,3,4,2])
    assert "4.248354255291589e-18" in out
    assert "[0.  0.5 0.5]" in out


def test_demo_max_pool_routing(capsys):
    """The source notes' example: x = [1, 2, 3, 4], kernel 2, stride 2 -> y = [2, 4]; the
    one-hot routing matrix W and the backward pass W^T g."""
    _cli.demo()
    out = capsys.readouterr().out
    section = out[out.index("7. max-pooling"):out.index("8. soft F1")]
    assert "y = [2. 4.], indices = [1 3]" in section
    assert "[0 1 0 0]\n       [0 0 0 1]" in section  # W
    assert "W @ x                             = [2. 4.]" in section
    # W^T g for g = [0.5, -1], from maxpool1d_backward and from the matrix
    assert section.count("[ 0.   0.5  0.  -1. ]") == 2
    # overlapping windows: the gradient of a position that wins twice adds up
    assert "y = [3. 3. 2.], indices = [1 1 2]; backward of ones = [0. 2. 1. 0.]" in section


def test_demo_soft_f1(capsys):
    _cli.demo()
    out = capsys.readouterr().out
    section = out[out.index("8. soft F1"):]
    s = np.array([2.0, -1.0, 0.5, -3.0, 1.5, -0.5])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    p = 1 / (1 + np.exp(-s))
    tp, fp, fn = (p * t).sum(), (p * (1 - t)).sum(), ((1 - p) * t).sum()
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f"tp = sum p*t = {tp:.6f}, fp = sum p*(1-t) = {fp:.6f}, fn = sum (1-p)*t = {fn:.6f}" in section
    assert f"soft precision = {tp / (tp + fp):.6f}, recall = {tp / (tp + fn):.6f}, F1 = {f1:.6f}" in section
    assert "F1 = 0.580506" in section and "tp = 2, fp = 1, fn = 1" in section
    assert f"soft_fbeta_loss(s, t)             = {1 - f1:.6f}" in section
    # the gradient of 1 - 2tp / (2tp + fp + fn), by hand
    d = 2 * tp + fp + fn
    dtp, dfp = -2 * (fp + fn) / d**2, 2 * tp / d**2
    grad = p * (1 - p) * (dfp + t * (dtp - 2 * dfp))  # dfn = dfp for F1
    printed = re.search(r"soft_fbeta_loss_backward\(1, s, t\) = \[([^\]]*)\]", section).group(1)
    np.testing.assert_allclose(np.array(printed.split(), float), grad, atol=1e-6)
    acc_diff = float(re.search(r"from the full batch = (\S+)", section).group(1))
    naive_diff = float(re.search(r"instead: max \|difference\| = (\S+),", section).group(1))
    assert acc_diff < 1e-15 and naive_diff > 1e-3
    assert f"accumulator loss = {1 - f1:.6f}" in section


def test_info(capsys):
    assert _cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "numba" in out and "threading layer" in out and "SVML" in out and "cache dir" in out
    layer = re.search(r"threading layer: (\w+)", out).group(1)
    from fastsmooth import _config
    assert layer == _config.threading_layer()
    assert f"threads: {_config.num_threads()} " in out
    assert f"vector width: {_config.VECTOR_WIDTH}; LLVM host CPU " in out


def test_info_with_a_thread_cap_and_no_layer(capsys, monkeypatch):
    """After the threading changes: a process-wide cap shows in the thread count, and a
    layer that cannot be loaded is reported, not raised."""
    from fastsmooth import _config

    previous = _config.set_max_threads(1)
    try:
        _cli.main(["info"])
    finally:
        _config.set_max_threads(previous)
    assert "threads: 1 " in capsys.readouterr().out
    monkeypatch.setattr(_config, "_layer", "")
    _cli.main(["info"])
    assert "threading layer: none could be loaded (serial kernels only)" in capsys.readouterr().out


def test_bad_arguments_exit_with_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        _cli.main(["frobnicate"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        _cli.main([])
    assert exc.value.code == 2


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "fastsmooth", "demo"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "4.0000045403" in proc.stdout


@pytest.mark.parametrize("argv", [
    ["bench", "--ops", "nonsense"],
    ["bench", "--ops", ""],
    ["bench", "--threads", "0"],
    ["bench", "--threads", "two"],
    ["bench", "--dtype", "float16"],
    ["bench", "--frobnicate"],
])
def test_bench_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        _cli.main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.fixture
def restore_threads():
    import numba

    before = numba.get_num_threads()
    try:
        import torch
    except ImportError:
        torch = None
    torch_before = torch.get_num_threads() if torch else None
    yield
    numba.set_num_threads(before)
    if torch:
        torch.set_num_threads(torch_before)


@pytest.fixture
def tiny_shapes(monkeypatch):
    """Every family's quick and sweep shapes made tiny, and no 64 MB copy, so that a
    whole ``bench --quick`` runs in seconds."""
    import dataclasses

    from fastsmooth import _bench, _peers

    for name, fam in list(_peers.FAMILIES.items()):
        small = fam.test_shape
        bigger = tuple(2 * n for n in small[:1]) + tuple(small[1:])
        monkeypatch.setitem(_peers.FAMILIES, name, dataclasses.replace(
            fam, quick_shapes=(small,), quick_sweep=(small, bigger)))
    for case in _peers.ALL_CASES.values():  # per-op overrides (the losses)
        monkeypatch.setattr(case, "quick_shapes", None)
    monkeypatch.setattr(_bench, "copy_bandwidth", lambda nbytes, repeat=5: 10.0)


def test_bench_runs_and_writes_json(tmp_path, capsys, restore_threads, tiny_shapes):
    import json

    out = tmp_path / "r.json"
    assert _cli.main(["bench", "--quick", "--ops", "logsumexp,softmax", "--dtype", "float64",
                      "--threads", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "logsumexp" in text and "softmax" in text and "x vs numpy" in text and "GB/s" in text
    data = json.loads(out.read_text())
    assert {r["op"] for r in data["results"]} == {"logsumexp", "softmax"}
    assert all(r["times"]["fastsmooth"] > 0 and "numpy" in r["times"] for r in data["results"])
    assert data["meta"]["threads"] == 1


def test_bench_quick_runs_every_family_and_plots(tmp_path, capsys, tiny_shapes):
    import json

    from fastsmooth._peers import ALL_CASES, FAMILIES

    png, js = tmp_path / "speedup.png", tmp_path / "r.json"
    assert _cli.main(["bench", "--quick", "--plot", str(png), "--json", str(js)]) == 0
    text = capsys.readouterr().out
    runnable = [op for op, case in ALL_CASES.items() if case.runnable()]  # dask's case needs Dask
    for name, fam in FAMILIES.items():
        if any(op in runnable for op in fam.cases):
            assert f"{name} ({fam.quick_dtype})" in text  # one table per family, in its quick dtype
    for op in runnable:
        assert f"\n{op} " in "\n" + "\n".join(line.strip() for line in text.splitlines()), op
    assert f"plot written to {png}" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    results = json.loads(js.read_text())["results"]
    assert {r["op"] for r in results} == set(runnable)
    # the sweep: two sizes per op, in the family's quick dtype
    for op in runnable:
        swept = sorted(np.prod(r["shape"]) for r in results if r["op"] == op and r["sweep"])
        assert len(swept) == 2 and swept[0] < swept[1], op
    assert all(r["dtype"] == FAMILIES[r["family"]].quick_dtype for r in results)


def test_ops_accepts_families_and_lists_every_op(capsys):
    from fastsmooth._peers import ALL_CASES, FAMILIES

    assert _cli._op_list("pooling") == ["maxpool2d", "maxpool2d_backward", "maxpool2d_k2", "maxpool2d_backward_k2"]
    assert _cli._op_list("losses,logsumexp,soft_fbeta") == ["soft_fbeta", "softmax_fbeta", "l1_loss", "logsumexp"]
    assert set(_cli._op_list(",".join(FAMILIES))) == set(ALL_CASES)
    with pytest.raises(SystemExit) as exc:
        _cli.main(["bench", "--help"])
    assert exc.value.code == 0
    helptext = " ".join(capsys.readouterr().out.split())
    for op in ALL_CASES:
        assert op in helptext, op
    with pytest.raises(SystemExit) as exc:
        _cli.main(["bench", "--ops", "maxpool3d"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown op 'maxpool3d'" in err and "maxpool2d_backward" in err and "softmax_fbeta" in err


def test_family_selects_families(tmp_path, capsys, tiny_shapes):
    import json

    from fastsmooth._peers import FAMILIES

    js = tmp_path / "r.json"
    assert _cli.main(["bench", "--quick", "--family", "hmm,semiring", "--ops", "relu", "--json", str(js)]) == 0
    text = capsys.readouterr().out
    assert "hmm (float64)" in text and "semiring (float64)" in text and "elementwise (float32)" in text
    assert "reductions (" not in text and "% of floor" in text and "x vs numpy" in text
    ops = {r["op"] for r in json.loads(js.read_text())["results"]}
    assert ops == set(FAMILIES["hmm"].cases) | set(FAMILIES["semiring"].cases) | {"relu"}
    with pytest.raises(SystemExit) as exc:
        _cli.main(["bench", "--family", "pooling3d"])
    assert exc.value.code == 2
    assert "unknown family 'pooling3d'" in capsys.readouterr().err


def test_plan_dtypes_and_sweep():
    from fastsmooth import _bench
    from fastsmooth._peers import FAMILIES

    quick = _bench.plan(["logsumexp", "maxpool2d"], quick=True, libraries=["fastsmooth"])
    assert {(op, dt) for op, _, dt, *_ in quick} == {("logsumexp", "float64"), ("maxpool2d", "float32")}
    full = _bench.plan(["maxpool2d"], libraries=["fastsmooth"])
    assert [(shape, dt) for _, shape, dt, *_ in full] == [((32, 64, 112, 112), "float64"),
                                                         ((1, 16, 28, 28), "float64"),
                                                         ((32, 64, 112, 112), "float32"),
                                                         ((1, 16, 28, 28), "float32")]
    swept = _bench.plan(["softmax"], dtypes=["float32"], sweep=True, libraries=["fastsmooth", "numpy"])
    sweep_shapes = [shape for _, shape, dt, lib, _, in_sweep in swept if in_sweep and lib == "numpy"]
    assert sweep_shapes == list(FAMILIES["reductions"].sweep)
    assert {dt for _, _, dt, *_ in swept} == {"float32"}
    assert all(in_table for *_, in_table, in_sweep in swept if not in_sweep)


def test_busy_machine_gets_a_caution():
    from fastsmooth import _bench

    meta = dict(cpu="cpu", machine="x86_64", threads=2, threading_layer="omp", copy_bandwidth_GBps=10.0,
                fastsmooth="0", numpy="2", numba="0.6", date="today", cores=2)
    r = _bench.Result("logsumexp", (4, 5), "float64", 160, times={"fastsmooth": 1e-6, "numpy": 2e-6})
    assert "Caution" not in _bench.format_table([r], dict(meta, busy_cores=0.1))
    assert "Caution: other processes kept 1.3 of 2 cores busy" in _bench.format_table([r], dict(meta, busy_cores=1.3))
    assert _bench.busy_cores(0.01) is None or 0 <= _bench.busy_cores(0.01) <= 64


@pytest.mark.parametrize("flag", ["--plot", "--json"])
def test_output_file_in_missing_directory_is_a_usage_error(flag, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        _cli.main(["bench", "--quick", flag, str(tmp_path / "missing" / "out")])
    assert exc.value.code == 2
    assert "not a file in an existing directory" in capsys.readouterr().err


def test_help_everywhere(capsys):
    for argv in (["--help"], ["demo", "--help"], ["bench", "--help"], ["info", "--help"]):
        with pytest.raises(SystemExit) as exc:
            _cli.main(argv)
        assert exc.value.code == 0
    assert "--quick" in capsys.readouterr().out


def test_version(capsys):
    import fastsmooth

    with pytest.raises(SystemExit) as exc:
        _cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastsmooth {fastsmooth.__version__}"


@pytest.mark.parametrize("entry", ["module", "console_script"])
@pytest.mark.parametrize("command", ["demo", "info"])
def test_a_closed_pipe_stops_quietly(entry, command):
    """`fastsmooth demo | head`: the reader goes away before the output is written; the
    command stops with status 0 and no traceback, through `python -m` and through the
    console script's entry point alike."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]["fastsmooth"]
    module, func = script.split(":")
    if entry == "module":
        argv = [sys.executable, "-m", "fastsmooth", command]
    else:
        argv = [sys.executable, "-c", f"import sys; from {module} import {func}; sys.exit({func}([{command!r}]))"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


# ------------------------------------------------------------------------- warmup


def test_warmup_command(capsys):
    assert _cli.main(["warmup", "--ops", "relu,sigmoid", "--dtype", "float32"]) == 0
    captured = capsys.readouterr()
    assert re.fullmatch(
        r"fastsmooth warmup: 2 ops x float32 \(\d+ calls\) in [\d.]+ s: \d+ kernels compiled, "
        r"\d+ loaded from the cache\n", captured.out)
    assert captured.err == ""  # the progress bar is for terminals only


def test_warmup_command_rejects_unknown_ops(capsys):
    with pytest.raises(SystemExit):
        _cli.main(["warmup", "--ops", "relu,nope"])
    assert "unknown op(s) nope" in capsys.readouterr().err


def test_warmup_subcommand_from_the_console(tmp_path):
    r = subprocess.run([sys.executable, "-m", "fastsmooth", "warmup", "--ops", "relu", "--dtype", "float64"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.startswith("fastsmooth warmup: 1 ops x float64"), r.stderr


def test_warmup_draws_its_progress_bar_on_a_terminal():
    """stderr a terminal (a pty): the bar is drawn there; stdout keeps the summary."""
    pty = pytest.importorskip("pty")
    import os

    leader, follower = pty.openpty()
    try:
        r = subprocess.run([sys.executable, "-m", "fastsmooth", "warmup", "--ops", "relu", "--dtype", "float32"],
                           stdout=subprocess.PIPE, stderr=follower, text=True, timeout=600)
        os.close(follower)
        follower = None
        err = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        if follower is not None:
            os.close(follower)
        os.close(leader)
    assert r.returncode == 0 and r.stdout.startswith("fastsmooth warmup: 1 ops x float32")
    assert b"fastsmooth warmup [" in err and b"1/1 relu float32" in err
