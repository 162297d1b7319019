"""Sphinx configuration of the fastsmooth documentation.

Build (offline; every warning is an error), then check that the site needs no network:

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python tools/check_docs_offline.py docs/_build/html

MathJax comes with the build (the ``sphinx-mathjax-offline`` extension copies MathJax 3
into ``_static/mathjax``), so formulas render without internet access.

The pages are Markdown (MyST) except the API reference, which is reStructuredText so
that autodoc and numpydoc render the docstrings. Its lists of functions come from the
registry of ops (``fastsmooth._registry``: the ``fastsmooth-ops`` directive below), and
three pieces are generated at build time from the code, so they cannot drift from it:
the special-value table
(``fastsmooth._reference.SPECIAL_VALUES``, the table the tests use), the output of
``fastsmooth demo`` and the ``fastsmooth bench --help`` text. The gallery figures are made by
``docs/gallery/make_figures.py`` and committed; the build only uses them.
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # the repository's fastsmooth, installed or not

import fastsmooth  # noqa: E402

project = "fastsmooth"
author = "fastsmooth developers"
copyright = "fastsmooth developers, BSD-3-Clause"
version = release = fastsmooth.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 shipped with the build (_static/mathjax), not from a CDN: formulas
    # render offline (tools/check_docs_offline.py checks the built site)
    "sphinx-mathjax-offline",
    "numpydoc",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated"]

myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_default_options = {"member-order": "bysource"}
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

html_theme = "furo"
html_title = f"fastsmooth {release}"
html_static_path = ["_static"]
html_css_files = ["fastsmooth.css"]  # wide tables scroll inside their box
html_theme_options = {"navigation_with_keys": True}
pygments_style = "sphinx"
pygments_dark_style = "monokai"


# ---------------------------------------------------------------------------------------
# Pieces generated from the code


def _fmt(v):
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(e) for e in v) + "]"
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


def special_values_table():
    from fastsmooth._reference import SPECIAL_VALUES

    head = ["input x", "logsumexp", "softmax", "log_softmax", "soft_argmax", "hardmax", "SciPy agrees"]
    rows = ["| case | " + " | ".join(head) + " |", "|" + "---|" * (len(head) + 1)]
    for case, x, lse, sm, lsm, sam, hm, scipy in SPECIAL_VALUES:
        cells = [case] + [f"`{_fmt(v)}`" for v in (x, lse, sm, lsm, sam, hm)] + ["yes" if scipy else "**no** (nan)"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def demo_output():
    from fastsmooth import _cli

    buf = io.StringIO()
    _cli.demo(out=buf)
    return buf.getvalue()


def bench_help():
    from fastsmooth import _cli

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            _cli.main(["bench", "--help"])
        except SystemExit:
            pass
    return buf.getvalue()


def _write_if_changed(path, text):
    path.parent.mkdir(exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(_app=None):
    out = DOCS / "_generated"
    _write_if_changed(out / "special_values.md", special_values_table())
    _write_if_changed(out / "demo.txt", demo_output())
    _write_if_changed(out / "bench_help.txt", bench_help())


def op_lines(page, section=None):
    """The reStructuredText of ``.. fastsmooth-ops:: [section]`` on ``docs/api/<page>.rst``:
    an autosummary of the page's ops (:func:`fastsmooth._registry.api_ops`), then each
    one's docstring."""
    from fastsmooth import _registry

    ops = _registry.api_ops(page, section)
    if not ops:
        raise ValueError(f"docs/api/{page}.rst: no ops in section {section!r} (fastsmooth._registry.PAGES)")
    return [".. autosummary::", ""] + [f"   {op}" for op in ops] + [""] + [f".. autofunction:: {op}" for op in ops]


def _ops_directive():
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class OpsDirective(SphinxDirective):
        """``.. fastsmooth-ops:: [section]``: the functions of the registry that this page
        documents (in ``section``, or the page's first list)."""

        optional_arguments = 1

        def run(self):
            page = self.env.docname.rpartition("/")[2]
            try:
                lines = op_lines(page, self.arguments[0] if self.arguments else None)
            except (KeyError, ValueError) as e:
                raise self.error(str(e)) from None
            holder = nodes.Element()
            self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), self.content_offset, holder)
            return holder.children

    return OpsDirective


def setup(app):
    app.connect("builder-inited", generate)
    app.add_directive("fastsmooth-ops", _ops_directive())
