"""An MkDocs hook: links between notebooks lead to their pages in the site.

A notebook links another as `02_text_generation.ipynb`, which works in
Jupyter and on GitHub. In the site each notebook is a page of its own
(`notebooks/02_text_generation/`), so the link becomes `../02_text_generation/`.
A link to a page of the docs, `../docs/benchmarks.md#section` (right in the
repository), becomes that page's address in the site,
`../../benchmarks/#section`.
"""

import re

_NOTEBOOK_LINK = re.compile(r'href="(?:\./)?(\d\d_\w+)\.ipynb(#[^"]*)?"')
_DOCS_LINK = re.compile(r'href="\.\./docs/([\w/-]+?)(?:/index)?\.md(#[^"]*)?"')


def on_page_content(html, page, **kwargs):
    """Rewrites links to notebooks and to docs pages in notebook pages."""
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    html = _NOTEBOOK_LINK.sub(lambda m: f'href="../{m[1]}/{m[2] or ""}"', html)
    return _DOCS_LINK.sub(lambda m: f'href="../../{m[1]}/{m[2] or ""}"', html)
