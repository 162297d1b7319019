"""The documentation stays true to the code: every public function documents a runnable
example (and pytest runs it), the API reference lists every public name, the examples of
the user guide run, the gallery script draws every figure, and the README keeps its
two-command quick start, a gallery figure and the headline table.

The docs build itself (Sphinx, warnings as errors) runs in CI after the tests
(``.ci/run``); it needs the ``docs`` extra.
"""

from __future__ import annotations

import doctest
import importlib.util
import inspect
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

import fastsmooth as fs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HAVE_DASK = importlib.util.find_spec("dask") is not None


def _public():
    """(qualified name, object) of every public callable: fastsmooth.__all__, the three
    names kept out of it so as not to shadow builtins, fastsmooth.scipy.__all__ and
    fastsmooth.dask.__all__."""
    import fastsmooth.scipy as fss

    names = [(f"fastsmooth.{n}", getattr(fs, n)) for n in [*fs.__all__, "abs", "max", "min"]]
    names += [(f"fastsmooth.scipy.{n}", getattr(fss, n)) for n in fss.__all__]
    if HAVE_DASK:
        import fastsmooth.dask as fsd

        names += [(f"fastsmooth.dask.{n}", getattr(fsd, n)) for n in fsd.__all__]
    return names


PUBLIC = _public()


@pytest.mark.parametrize("name,obj", PUBLIC, ids=[n for n, _ in PUBLIC])
def test_every_public_name_has_a_runnable_examples_section(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert re.search(r"^Examples\n--------\n", doc, re.M), f"{name}: no numpydoc Examples section"
    examples = doc[doc.index("Examples\n--------"):]
    assert ">>> " in examples, f"{name}: its Examples section has no doctest"
    # pytest's doctest collector finds it in the defining module, and runs all of it
    tests = doctest.DocTestFinder().find(obj, name, globs={})
    found = [t for t in tests if t.examples]
    assert found, f"{name}: doctest finds no example"
    for t in found:
        for ex in t.examples:
            assert not ex.options.get(doctest.SKIP), f"{name}: a doctest example is skipped"


def test_doctests_are_collected_from_the_package():
    """pytest runs the docstring examples of every module of the package (only
    fastsmooth/dask.py is left out, and only when Dask is not installed)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in config["addopts"] and "fastsmooth" in config["testpaths"]
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    assert conftest.collect_ignore == ([] if HAVE_DASK else ["fastsmooth/dask.py"])
    source = "\n".join(p.read_text() for p in (ROOT / "fastsmooth").glob("*.py"))
    assert "doctest: +SKIP" not in source and "doctest:+SKIP" not in source


def _api_names():
    """Every name that docs/api/*.rst documents, the ``fastsmooth-ops`` directives (the
    registry's ops of the page) expanded as docs/conf.py expands them."""
    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    names = set()
    for rst in (DOCS / "api").glob("*.rst"):
        module = None
        for line in rst.read_text().splitlines():
            m = re.match(r"\.\. (?:currentmodule|module):: (\S+)", line)
            if m:
                module = m.group(1)
            m = re.match(r"\.\. fastsmooth-ops::(?: (\S+))?$", line)
            lines = conf.op_lines(rst.stem, m.group(1)) if m else [line]
            for line in lines:
                m = re.match(r"\.\. auto(?:function|class):: (\S+)", line)
                if m:
                    names.add(f"{module}.{m.group(1)}")
    return names


def test_the_api_reference_documents_every_public_name():
    documented = _api_names()
    missing = [n for n, _ in _public() if n not in documented]
    assert not missing, f"not in docs/api/*.rst: {missing}"
    if HAVE_DASK:
        assert not documented - {n for n, _ in _public()}, "docs/api documents names that are not public"


def _pycon_blocks(path):
    text = path.read_text()
    return re.findall(r"^```pycon\n(.*?)^```", text, re.M | re.S)


DOC_PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts and _pycon_blocks(p))


@pytest.mark.parametrize("page", DOC_PAGES, ids=[str(p.relative_to(DOCS)) for p in DOC_PAGES])
def test_documentation_examples_run(page):
    """Every ```pycon block of the docs runs as a doctest (the blocks of one page share
    a namespace, like one interpreter session), with the output it shows."""
    if "dask" in page.read_text() and "import dask" in page.read_text() and not HAVE_DASK:
        pytest.skip("needs dask")
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    globs = {}
    n = 0
    for i, block in enumerate(_pycon_blocks(page)):
        test = parser.get_doctest(block, globs, f"{page.name}[{i}]", str(page), 0)
        n += len(test.examples)
        runner.run(test, clear_globs=False)
        globs = test.globs  # (a DocTest copies its globals) the next block continues the session
    result = runner.summarize(verbose=False)
    assert n > 0 and result.failed == 0, f"{page}: {result.failed} of {n} examples failed (output above)"


def test_guide_pages_are_in_the_order_of_the_source_notes():
    toc = (DOCS / "guide" / "index.md").read_text()
    toctree = toc[toc.index("```{toctree}"):].split("\n")
    pages = [line.strip() for line in toctree if re.fullmatch(r"[a-z_]+", line.strip())]
    # the pages of the source notes' ideas keep their order; the later topics are there too
    notes = ["subgradients", "smooth_max", "softmax", "soft_argmax", "straight_through", "maxpool", "losses",
             "dask_and_threads"]
    assert [p for p in pages if p in notes] == notes
    assert {"reproducibility", "small_calls", "soft_dtw", "semiring"} <= set(pages)
    for p in pages:
        assert (DOCS / "guide" / f"{p}.md").exists()


# ---------------------------------------------------------------------------------------
# The gallery


def _gallery():
    spec = importlib.util.spec_from_file_location("make_figures", DOCS / "gallery" / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gallery():
    pytest.importorskip("matplotlib", reason="the gallery needs matplotlib (pip install -e '.[docs]')")
    return _gallery()


def test_gallery_script_draws_every_figure(gallery, tmp_path):
    """At a low resolution, to stay fast: every figure is drawn and written."""
    paths = gallery.make(out=tmp_path, dpi=25)
    assert [p.name for p in paths] == [f"{name}.png" for name in gallery.FIGURES]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000, p.name
    # deterministic: drawing one again gives the same bytes
    again = gallery.make(["maxpool_routing"], out=tmp_path / "again", dpi=25)[0]
    assert again.read_bytes() == (tmp_path / "maxpool_routing.png").read_bytes()


def test_gallery_figures_are_committed_small_and_shown(gallery):
    committed = {p.stem for p in (DOCS / "gallery").glob("*.png")}
    assert committed == set(gallery.FIGURES), "docs/gallery/*.png and make_figures.FIGURES differ"
    page = (DOCS / "gallery" / "index.md").read_text()
    for name in gallery.FIGURES:
        png = DOCS / "gallery" / f"{name}.png"
        assert png.stat().st_size <= 150_000, f"{png.name} is {png.stat().st_size} bytes"
        assert f"{name}.png" in page, f"{name}.png is not on the gallery page"


def test_gallery_figure_data_are_the_documented_examples(gallery):
    """The max-pool figure routes what the guide says it routes: the middle 6 wins two
    windows and collects both gradients."""
    x = np.array([[1, 3, 2, 0, 1], [4, 0, 1, 2, 7], [2, 1, 6, 1, 2], [0, 5, 1, 3, 1], [1, 2, 0, 8, 0]], float)
    y, idx = fs.maxpool2d(x[None], 3, stride=2)
    np.testing.assert_array_equal(y[0], [[6, 7], [6, 8]])
    np.testing.assert_array_equal(idx[0], [[12, 9], [12, 23]])
    src = (DOCS / "gallery" / "make_figures.py").read_text()
    assert "[2, 1, 6, 1, 2]" in src


# ---------------------------------------------------------------------------------------
# Pieces of the site generated from the code, and the README


def _conf():
    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_pages_come_from_the_code():
    from fastsmooth._reference import SPECIAL_VALUES

    conf = _conf()
    table = conf.special_values_table()
    assert table.count("\n") == len(SPECIAL_VALUES) + 2
    assert "| near max | `[0, -40]` | `4.24835e-18` |" in table
    assert "| two +inf | `[inf, 0, inf]` | `inf` | `[0.5, 0, 0.5]` |" in table
    assert "7. max-pooling" in conf.demo_output() and "8. soft F1" in conf.demo_output()
    assert "--quick" in conf.bench_help()


def test_readme_quick_start_figure_and_headline_table():
    readme = (ROOT / "README.md").read_text()
    quick = readme[readme.index("## Quick start"):readme.index("\n## ", readme.index("## Quick start") + 5)]
    commands = re.findall(r"```bash\n(.*?)\n```", quick, re.S)
    assert commands == ['git clone <repository URL> fastsmooth && cd fastsmooth',
                        'pip install -e . && python -m fastsmooth demo',
                        'pip install -e ".[test]" && python -m pytest']
    # what a new user trips over (issue 14): the first call compiles, and it is cached
    assert "first call of each kernel compiles" in quick and "cached on disk" in quick
    figures = re.findall(r"!\[[^\]]*\]\((docs/gallery/[^)]+\.png)\)", readme)
    assert figures and all((ROOT / f).exists() for f in figures)
    headline = readme[readme.index("<!-- headline:start -->"):readme.index("<!-- headline:end -->")]
    rows = [line for line in headline.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) >= 5, "the headline table is missing"  # header + key rows
    assert "vs SciPy" in rows[0] and "vs NumPy" in rows[0] and "vs torch" in rows[0]
    assert re.search(r"Measured 20\d\d-\d\d-\d\d", headline) and "Numba threads" in headline


def test_readme_lists_weights_return_sign_and_the_scipy_drop_in():
    readme = (ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `logsumexp("))
    assert "b=None" in row and "return_sign=False" in row
    assert "from fastsmooth.scipy import logsumexp, softmax, log_softmax" in readme
    assert "b=None" in next(line for line in readme.splitlines() if line.startswith("| `logsumexp_backward("))


# ---------------------------------------------------------------------------------------
# The site works offline: MathJax shipped with the build, formulas typeset, no CDN.


def _offline_checker():
    spec = importlib.util.spec_from_file_location("check_docs_offline", ROOT / "tools" / "check_docs_offline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page(tmp_path, name, body, head=""):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><head>{head}</head><body>{body}</body></html>")
    return path


def test_offline_checker_flags_a_cdn_raw_tex_and_a_missing_script(tmp_path):
    check = _offline_checker()
    mathjax = tmp_path / "_static" / "mathjax"
    mathjax.mkdir(parents=True)
    (mathjax / "tex-chtml.js").write_text("// MathJax")
    local = '<script defer src="_static/mathjax/tex-chtml.js"></script>'
    _page(tmp_path, "good.html", r'<p><span class="math">\(x^2\)</span> and <code>\(</code></p>', local)
    assert check.check_site(tmp_path, typeset=False) == []
    cdn = '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
    _page(tmp_path, "cdn.html", r'<span class="math">\(x\)</span>', cdn)
    _page(tmp_path, "raw.html", r"<p>a formula \(x^2\) left raw</p>", local)
    _page(tmp_path, "sub/missing.html", r'<div class="math">\[x\]</div>', local)  # wrong relative path
    problems = "\n".join(check.check_site(tmp_path, typeset=False))
    assert "cdn.html: loads <script> from the network: https://cdn.jsdelivr.net" in problems
    assert "cdn.html: has 1 math elements but loads no local MathJax" in problems
    assert "raw.html: raw TeX outside a math element" in problems
    assert "missing.html: MathJax script _static/mathjax/tex-chtml.js is not in the build" in problems
    assert "good.html" not in problems
    assert check.main([str(tmp_path)]) == 1


def _have(module):
    return importlib.util.find_spec(module) is not None


@pytest.mark.skipif(not (_have("sphinx") and _have("myst_parser") and _have("numpydoc") and _have("furo")
                         and _have("sphinx-mathjax-offline")),
                    reason="needs the docs extra (pip install -e '.[docs]'); .ci/run builds and checks the site")
def test_built_site_renders_math_offline(tmp_path):
    """Build the site (as .ci/run does) and run tools/check_docs_offline.py on it: no
    page loads anything from the network, every page with math loads the MathJax copied
    into the build, and (with Node.js) every formula typesets with it."""
    import subprocess
    import sys

    out = tmp_path / "html"
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS),
                          str(out), "-d", str(tmp_path / "doctrees")], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    check = _offline_checker()
    notes = []
    assert check.check_site(out, notes=notes) == []
    assert (out / "_static" / "mathjax" / "tex-chtml.js").is_file()
    reductions = (out / "api" / "reductions.html").read_text()
    assert "_static/mathjax/tex-chtml.js" in reductions and "cdn.jsdelivr" not in reductions
    assert "fastsmooth.css" in (out / "performance.html").read_text()  # wide tables scroll
