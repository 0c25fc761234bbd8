"""An MkDocs hook: the notebooks' formulas as MathML, drawn by the browser.

nbconvert's template loads MathJax 2 from `custom_mathjax_url`, which
mkdocs-jupyter leaves empty: the pages held `<script src="">` and showed the
TeX of every formula as it was typed. Here the formulas of the notebooks'
Markdown cells (`$...$` and `$$...$$`) become MathML at build time, which
Chromium, Firefox and Safari draw themselves, offline and without a script;
the template's MathJax block goes.
"""

import html
import re

import latex2mathml.converter

_MATHJAX_BLOCK = re.compile(
    r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.DOTALL
)
_CELL_START = re.compile(r'<div class="jp-Cell ')
# Code and preformatted text keep their dollars.
_VERBATIM = re.compile(r"(<(pre|code|script|style)\b.*?</\2>)", re.DOTALL)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)")


def to_mathml(tex, display):
    """Returns the MathML of one formula, from its HTML-escaped TeX."""
    mathml = latex2mathml.converter.convert(
        html.unescape(tex).strip(), display="block" if display else "inline"
    )
    return mathml


def _convert_text(text):
    text = _DISPLAY.sub(lambda m: to_mathml(m[1], display=True), text)
    return _INLINE.sub(lambda m: to_mathml(m[1], display=False), text)


def convert_markdown_cell(cell_html):
    """Converts the formulas of one rendered Markdown cell, outside code."""
    parts = _VERBATIM.split(cell_html)
    # split() with two groups yields: text, whole match, tag name, text, ...
    out = []
    for index, part in enumerate(parts):
        kind = index % 3
        if kind == 0:
            out.append(_convert_text(part))
        elif kind == 1:
            out.append(part)
    return "".join(out)


def on_page_content(html_text, page, **kwargs):
    """Removes MathJax and converts the formulas of a notebook page."""
    if not page.file.src_uri.endswith(".ipynb"):
        return html_text
    html_text = _MATHJAX_BLOCK.sub("", html_text)
    starts = [m.start() for m in _CELL_START.finditer(html_text)]
    if not starts:
        return html_text
    pieces = [html_text[: starts[0]]]
    for start, end in zip(starts, starts[1:] + [len(html_text)], strict=True):
        cell = html_text[start:end]
        if cell.startswith('<div class="jp-Cell jp-MarkdownCell'):
            cell = convert_markdown_cell(cell)
        pieces.append(cell)
    return "".join(pieces)
