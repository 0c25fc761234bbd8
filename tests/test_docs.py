"""The site leads everywhere, and what it shows holds no local detail.

Fast checks on the sources; tests/test_site.py opens the built site in a
browser (slow).
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HOW_TO = sorted((DOCS / "how-to").glob("*.md"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# How-tos that no notebook illustrates: they link their API page only.
WITHOUT_NOTEBOOK = {"lags.md"}


def nav_pages():
    """The pages that mkdocs.yml's nav lists, relative to docs/."""
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:") : text.index("\nplugins:")]
    return re.findall(r":\s+([\w/.-]+\.(?:md|ipynb))$", nav, re.MULTILINE)


def links(page):
    return set(re.findall(r"\]\(([^)#\s]+)", page.read_text()))


def test_the_nav_lists_every_page_notebook_and_how_to():
    listed = set(nav_pages())
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    on_disk |= {f"notebooks/{p.name}" for p in NOTEBOOKS}
    assert listed == on_disk


def test_the_home_page_links_every_page():
    missing = set(nav_pages()) - {"index.md"} - links(DOCS / "index.md")
    assert not missing, f"docs/index.md does not link: {sorted(missing)}"


@pytest.mark.parametrize("page", HOW_TO, ids=lambda p: p.name)
def test_each_how_to_links_its_notebook_and_api_page(page):
    targets = links(page)
    assert any(t.startswith("../api/") for t in targets), "no link to an API page"
    if page.name not in WITHOUT_NOTEBOOK:
        assert any(t.startswith("../notebooks/") for t in targets), "no notebook"


def test_the_readme_links_the_docs_and_every_notebook():
    targets = links(ROOT / "README.md")
    assert "docs/index.md" in targets
    assert {f"notebooks/{p.name}" for p in NOTEBOOKS} <= targets


# A path of this machine (a home, a virtual environment, a work tree) in a
# committed output tells the reader nothing and leaks the author's setup.
LOCAL_PATH = re.compile(r"(/home/|/Users/|/work/|/tmp/|/root/|\.venv/|C:\\\\)")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_outputs_hold_no_local_path(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    for number, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            text = json.dumps(output.get("text", "")) + json.dumps(
                output.get("data", {}).get("text/plain", "")
            )
            found = LOCAL_PATH.search(text)
            assert not found, (
                f"cell {number}: {text[found.start() - 60 : found.end() + 60]}"
            )


def test_the_docs_name_no_issue_and_no_file_outside_the_repository():
    pattern = re.compile(r"(issue|item) [0-9]+|ANCHORS\.md|DESIGN\.md", re.IGNORECASE)
    for page in [ROOT / "README.md", *DOCS.rglob("*.md")]:
        for number, line in enumerate(page.read_text().splitlines(), 1):
            assert not pattern.search(line), f"{page.name}:{number}: {line}"


def test_notebook_formulas_become_mathml_and_code_keeps_its_dollars():
    import importlib.util

    # The docs build's converter: in the test and docs extras, not in the
    # unit extra of the oldest supported versions' environment.
    pytest.importorskip("latex2mathml")

    spec = importlib.util.spec_from_file_location(
        "notebook_math", DOCS / "hooks" / "notebook_math.py"
    )
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    page = type("Page", (), {"file": type("File", (), {"src_uri": "n.ipynb"})})
    html = (
        '<!-- Load mathjax --><script src=""></script>'
        "<!-- End of mathjax configuration -->"
        '<div class="jp-Cell jp-MarkdownCell"><p>$$x_t = \\tfrac{h_t}{48}$$ and'
        " $y &lt; 1$, not <code>$HOME</code></p></div>"
        '<div class="jp-Cell jp-CodeCell"><pre>echo $a $b</pre></div>'
    )
    out = hook.on_page_content(html, page)
    assert 'src=""' not in out
    assert out.count("<math") == 2 and 'display="block"' in out
    assert "<mo>&#x0003C;</mo>" in out  # the escaped `<` read as TeX's
    assert "<code>$HOME</code>" in out and "<pre>echo $a $b</pre>" in out
    assert "$" not in out.replace("$HOME", "").replace("$a $b", "")
