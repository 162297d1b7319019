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
