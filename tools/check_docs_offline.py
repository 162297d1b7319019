"""Check that a built HTML documentation site works without network access.

Usage::

    python tools/check_docs_offline.py docs/_build/html

Checks every ``*.html`` page of the site:

* no script, stylesheet, image or other resource is loaded from ``http(s)://`` (in
  particular no MathJax from a CDN: offline, every formula would stay raw TeX);
* a page with math loads MathJax from a file that exists in the build;
* no TeX delimiter ``\\(``, ``\\[`` or ``$$`` appears in the text outside an element
  of class ``math`` (the elements MathJax typesets) or a code block -- raw TeX that
  would reach the reader as such;
* when Node.js is installed (``node`` on the PATH; otherwise this check is skipped with
  a note), every formula of the site is typeset by the MathJax *of the build* (its
  ``node-main.js``, no network), and a TeX error (an unknown macro, unbalanced braces)
  is a problem: the formulas do render offline, not just load.

Exits with status 1 and one line per problem when a check fails. Standard library only
(plus Node.js for the typesetting check).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

#: Attributes that make the browser fetch something (``<a href>`` is a link, not a fetch).
_FETCHING = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
             ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}
_RAW_TEX = re.compile(r"\\\(|\\\[|\$\$")
#: Elements whose text is shown verbatim (code) or is not shown at all.
_VERBATIM = {"pre", "code", "script", "style", "textarea", "kbd", "samp"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, is_math, is_verbatim)
        self.remote = []  # (tag, url)
        self.scripts = []
        self.raw_tex = []  # text snippets
        self.math_elements = 0
        self.formulas = []  # the TeX of every math element
        self._formula = None

    def _inside(self, i):
        return any(entry[i] for entry in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if (tag, name) in _FETCHING and value and urlsplit(value).scheme in ("http", "https"):
                if not (tag == "link" and attrs.get("rel") in ("canonical", "alternate")):
                    self.remote.append((tag, value))
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        is_math = "math" in (attrs.get("class") or "").split()
        self.math_elements += is_math
        if is_math and not self._inside(1) and tag not in _VOID:
            self._formula = []
        if tag not in _VOID:
            self.stack.append((tag, is_math, tag in _VERBATIM))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):  # tolerate unclosed inner elements
            if self.stack[i][0] == tag:
                del self.stack[i:]
                if self._formula is not None and not self._inside(1):
                    self.formulas.append("".join(self._formula))
                    self._formula = None
                return

    def handle_data(self, data):
        if self._formula is not None:
            self._formula.append(data)
        if self._inside(1) or self._inside(2):
            return
        for m in _RAW_TEX.finditer(data):
            self.raw_tex.append(data[max(0, m.start() - 30): m.end() + 30].strip())


def _parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def _tex(formula):
    """The TeX inside a math element's text, without its delimiters."""
    f = formula.strip()
    for left, right in (("\\(", "\\)"), ("\\[", "\\]"), ("$$", "$$")):
        if f.startswith(left) and f.endswith(right):
            return f[len(left): -len(right)], left != "\\("
    return f, True


_TYPESET_JS = r"""
const [mathjax, file] = process.argv.slice(2);
const formulas = JSON.parse(require('fs').readFileSync(file, 'utf8'));
require(mathjax + '/node-main.js').init({loader: {load: ['input/tex-full', 'output/svg']}}).then((MathJax) => {
  const bad = [];
  for (const [tex, display] of formulas) {
    const node = MathJax.tex2svg(tex, {display: display});
    const html = MathJax.startup.adaptor.outerHTML(node);
    if (html.includes('merror') || html.includes('data-mjx-error')) {
      const m = html.match(/data-mjx-error="([^"]*)"/);
      bad.push([tex, m ? m[1] : 'TeX error']);
    } else if (html.includes('fill="red"')) {  // the noundefined extension: an unknown macro
      bad.push([tex, 'undefined control sequence']);
    }
  }
  console.log(JSON.stringify(bad));
}).catch((err) => { console.error(err.message); process.exit(3); });
"""


def typeset_formulas(formulas, mathjax_dir, workdir):
    """``None`` when Node.js is missing, else the ``(tex, error)`` pairs of the formulas
    that the MathJax in ``mathjax_dir`` cannot typeset."""
    node = shutil.which("node")
    if node is None:
        return None
    workdir = Path(workdir)
    script = workdir / "typeset.js"
    data = workdir / "formulas.json"
    script.write_text(_TYPESET_JS)
    data.write_text(json.dumps(formulas))
    run = subprocess.run([node, str(script), str(Path(mathjax_dir).resolve()), str(data)],
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        return [("(all)", f"node failed: {run.stderr.strip()[:500]}")]
    return [tuple(p) for p in json.loads(run.stdout.strip().splitlines()[-1])]


def check_page(path, root, page=None):
    """The problems of one page, as strings."""
    page = page or _parse(path)
    rel = path.relative_to(root)
    problems = [f"{rel}: loads <{tag}> from the network: {url}" for tag, url in page.remote]
    problems += [f"{rel}: raw TeX outside a math element: {snippet!r}" for snippet in page.raw_tex]
    if page.math_elements:
        local = [s for s in page.scripts if "mathjax" in s.lower() and not urlsplit(s).scheme]
        if not local:
            problems.append(f"{rel}: has {page.math_elements} math elements but loads no local MathJax")
        for src in local:
            target = (path.parent / urlsplit(src).path).resolve()
            if not target.is_file():
                problems.append(f"{rel}: MathJax script {src} is not in the build ({target})")
    return problems


def check_site(root, *, typeset=True, notes=None):
    """All problems of the site at ``root`` (a directory of built HTML). ``notes``, a
    list, receives what was skipped."""
    root = Path(root)
    pages = sorted(root.rglob("*.html"))
    if not pages:
        return [f"{root}: no HTML pages (build the site first)"]
    problems = []
    formulas = {}
    for path in pages:
        page = _parse(path)
        problems += check_page(path, root, page)
        for f in page.formulas:
            formulas.setdefault(_tex(f), path.relative_to(root))
    mathjax = root / "_static" / "mathjax"
    if typeset and formulas and (mathjax / "node-main.js").is_file():
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            bad = typeset_formulas([list(k) for k in formulas], mathjax, tmp)
        if bad is None:
            if notes is not None:
                notes.append("node not found: formulas not typeset")
        else:
            where = {k[0]: v for k, v in formulas.items()}
            problems += [f"{where.get(tex, '?')}: MathJax cannot typeset {tex!r}: {err}" for tex, err in bad]
    elif typeset and formulas and notes is not None:
        notes.append(f"{mathjax}/node-main.js missing: formulas not typeset")
    if notes is not None:
        notes.append(f"{len(formulas)} distinct formulas")
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[0], "\nusage: check_docs_offline.py BUILD_DIR", file=sys.stderr)
        return 2
    notes = []
    problems = check_site(argv[0], notes=notes)
    for p in problems:
        print(p)
    n = len(list(Path(argv[0]).rglob("*.html")))
    print(f"check_docs_offline: {n} pages, {'; '.join(notes)}, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
