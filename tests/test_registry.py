"""The one registry of ops (``fastsmooth._registry``) and everything derived from or
checked against it: ``__all__``, the NumPy twins (same names and signatures), the
argument builders of the cross-cutting tests (``abs``, ``max`` and ``min`` included),
``fastsmooth.warmup`` and the benchmark table."""

from __future__ import annotations

import inspect
import types

import pytest

import fastsmooth as fs
from fastsmooth import _peers, _reference, _registry

from .test_api import CALLS


def test_all_is_derived_from_the_registry():
    assert fs.__all__ == _registry.public_all()
    assert len(set(_registry.OPS)) == len(_registry.OPS)
    for name in _registry.OPS + _registry.CLASSES + _registry.HELPERS:
        assert callable(getattr(fs, name)), name
    for name in _registry.SHADOWING:
        assert name in _registry.OPS and name not in fs.__all__


def test_every_public_callable_is_registered():
    public = {n for n in dir(fs) if not n.startswith("_") and callable(getattr(fs, n))
              and not isinstance(getattr(fs, n), types.ModuleType)}
    assert public == set(_registry.OPS + _registry.CLASSES + _registry.HELPERS)


def test_the_namespace_is_built_from_the_families_modules():
    import importlib

    for family, ops in _registry.FAMILIES.items():
        module = importlib.import_module(f"fastsmooth._{family}")
        for op in ops:
            assert getattr(fs, op) is getattr(module, _registry.attribute(op)), op
            assert callable(_registry.example(op)), op


def test_every_op_is_on_a_page_of_the_api_reference():
    from pathlib import Path

    api = Path(__file__).resolve().parents[1] / "docs" / "api"
    assert set(_registry.PAGES) == set(_registry.FAMILIES)
    listed = set()
    for page in set(_registry.PAGES.values()):
        text = (api / f"{page}.rst").read_text()
        sections = {None} | {s for s in _registry.SECTIONS if _registry.api_ops(page, s)}
        for section in sections:
            if _registry.api_ops(page, section):
                assert f".. fastsmooth-ops::{'' if section is None else ' ' + section}\n" in text, (page, section)
                listed.update(_registry.api_ops(page, section))
    assert listed == set(_registry.OPS)


def _params(f, drop=("out",)):
    return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values() if p.name not in drop]


@pytest.mark.parametrize("op", _registry.OPS)
def test_every_twin_has_the_public_signature(op):
    twin = getattr(_reference, _registry.twin_name(op), None)
    assert twin is not None, f"fastsmooth._reference has no twin of {op}"
    assert _params(twin) == _params(getattr(fs, op)), op


def test_the_benchmark_table_times_registered_ops():
    # a case names the ops it times (``ops``; by default the case is named after its op)
    for case in _peers.ALL_CASES:
        ops = _peers.ops_of(case)
        assert ops and all(op in _registry.OPS for op in ops), case
        assert case in ops or any(case.startswith(op) for op in ops) or case + "_loss" in ops, case


KEYWORD_TEMPERATURE = ["sigmoid", "sigmoid_backward", "softplus", "softplus_backward", "smooth_abs",
                       "smooth_abs_backward", "smooth_maximum", "smooth_maximum_backward", "smooth_minimum",
                       "smooth_minimum_backward"]


@pytest.mark.parametrize("op", [op for op in _registry.OPS
                                if "temperature" in inspect.signature(getattr(fs, op)).parameters])
def test_temperature_is_keyword_only_everywhere(op):
    assert inspect.signature(getattr(fs, op)).parameters["temperature"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("op", KEYWORD_TEMPERATURE)
def test_the_old_positional_temperature_is_a_clear_type_error(op):
    """Before issue 11 the element-wise functions took ``temperature`` positionally."""
    import numpy as np

    build, kwargs = CALLS[op]
    args = build(np.linspace(-1.0, 1.0, 15).reshape(3, 5))
    with pytest.raises(TypeError, match=rf"{op}: `temperature` is keyword-only.*temperature=0.5"):
        getattr(fs, op)(*args, 0.5)
    getattr(fs, op)(*args, temperature=0.5)
