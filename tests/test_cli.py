"""The command line: ``python -m fastsmooth demo`` prints the worked examples."""

import subprocess
import sys

import pytest

from fastsmooth import _cli


def test_demo_prints_the_worked_examples(capsys):
    assert _cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "4.0000045403" in out  # logsumexp([1,2,3,4,2], temperature=0.1)
    assert "2.6134800" in out  # soft_argmax([1,2,3,4,2])
    assert "4.248354255291589e-18" in out
    assert "[0.  0.5 0.5]" in out


def test_info(capsys):
    assert _cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "numba" in out and "threading layer" in out and "SVML" in out


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


def test_bench_runs_and_writes_json(tmp_path, monkeypatch, capsys, restore_threads):
    import json

    from fastsmooth import _bench

    monkeypatch.setattr(_bench, "QUICK_SHAPES", [(16, 50), (3, 7)])
    monkeypatch.setattr(_bench, "copy_bandwidth", lambda nbytes, repeat=5: 10.0)
    out = tmp_path / "r.json"
    assert _cli.main(["bench", "--quick", "--ops", "logsumexp,softmax", "--dtype", "float64",
                      "--threads", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "logsumexp" in text and "softmax" in text and "x vs numpy" in text and "GB/s" in text
    data = json.loads(out.read_text())
    assert {r["op"] for r in data["results"]} == {"logsumexp", "softmax"}
    assert all(r["times"]["fastsmooth"] > 0 and "numpy" in r["times"] for r in data["results"])
    assert data["meta"]["threads"] == 1


def test_help_everywhere(capsys):
    for argv in (["--help"], ["demo", "--help"], ["bench", "--help"], ["info", "--help"]):
        with pytest.raises(SystemExit) as exc:
            _cli.main(argv)
        assert exc.value.code == 0
    assert "--quick" in capsys.readouterr().out
