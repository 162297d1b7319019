"""The training example of docs/examples runs, the FbetaAccumulator reproduces the
full-batch run from micro-batches, and training reduces the loss.

scikit-learn (for its bundled digits data) is in the ``test`` extra; without it this
module is skipped, and says so in the ``-ra`` summary.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the training example needs scikit-learn (pip install -e '.[test]')")

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "train_fbeta.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("train_fbeta", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def results(example):
    return example.run(epochs=15, seed=1)  # ~1 s; the documented run has 60 epochs


def test_the_task_is_the_imbalanced_digits_task(example):
    x_tr, t_tr, x_te, t_te = example.load_task(seed=1)
    assert x_tr.shape[1] == 64 and len(t_tr) + len(t_te) == 1797
    assert 0.09 < np.mean(np.r_[t_tr, t_te]) < 0.11
    assert abs(np.mean(t_tr) - np.mean(t_te)) < 0.01  # stratified


def test_micro_batch_accumulation_reproduces_the_full_batch_run(results):
    names = [k for k in results if not k.startswith("_")]
    full, acc, naive = (results[n] for n in names[1:])
    np.testing.assert_allclose(acc["params"], full["params"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(acc["history"], full["history"], rtol=1e-12)
    assert acc["test"] == full["test"]
    # per-micro-batch losses do not: that is the point of the accumulator
    assert np.max(np.abs(naive["params"] - full["params"])) > 1e-3


def test_training_reduces_the_loss_and_learns_the_task(results):
    for name, r in results.items():
        if name.startswith("_"):
            continue
        assert r["history"][-1] < 0.75 * r["history"][0], name
        assert np.mean(r["history"][-3:]) < np.mean(r["history"][-8:-5]), name  # still improving late
        assert r["test"][2] > 0.45, name  # held-out hard F1 well above "all positive" (0.18)


def test_report_formats_every_run(example, results):
    text = example.report(results)
    assert text.count("\n| ") == 5  # header + 4 runs
    assert "FbetaAccumulator" in text and "binary cross-entropy" in text
    assert "held-out F1" in example.summary([results, results])
