"""An MkDocs hook: links between notebooks lead to their pages in the site.

A notebook links another as `02_text_generation.ipynb`, which works in
Jupyter and on GitHub. In the site each notebook is a page of its own
(`notebooks/02_text_generation/`), so the link becomes `../02_text_generation/`.
"""

import re

_NOTEBOOK_LINK = re.compile(r'href="(?:\./)?(\d\d_\w+)\.ipynb(#[^"]*)?"')


def on_page_content(html, page, **kwargs):
    """Rewrites `href="NN_name.ipynb"` in notebook pages."""
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    return _NOTEBOOK_LINK.sub(lambda m: f'href="../{m[1]}/{m[2] or ""}"', html)
