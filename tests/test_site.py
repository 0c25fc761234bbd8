"""The built site, opened in headless Chromium as a reader would open it.

Builds the site with `mkdocs build --strict`, serves it over HTTP and opens
every page in a laptop's window (1366 px) and a phone's (390 px). A page
fails, at 1366 px, on a link to a page or anchor that does not exist, an
image that did not load, a table or a code block wider than the text column
(its end hidden until scrolled), TeX shown as typed instead of a formula, a
diagram left to a script from a CDN, a `<script>` with an empty `src`, a
figure whose smallest text is shown under 8 CSS px, or a mention of another
page ("the benchmarks page", "the first notebook") that is not a link; at
390 px, on a page that scrolls sideways (a table or a code block may scroll
inside its own box). Needs Debian's `chromium` and `chromium-driver`:
`make docs-check` and `make test-slow` install them.
"""

import base64
import functools
import http.server
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import threading
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
LAPTOP, PHONE = 1366, 390  # window widths, CSS px; the text column is narrower
WIDTHS = (LAPTOP, PHONE)
# The smallest text that the figures' sources ask for (matplotlib's
# `fontsize=`, in points); test_figure_sources_use_no_smaller_text holds
# them to it. Shown on the page, it must measure MIN_LABEL_PX CSS px.
MIN_FONT_PT = 8
MIN_LABEL_PX = 8

pytestmark = pytest.mark.slow

# TeX as typed: `$$`, or `$...$` around a command, a subscript or a
# superscript, or `\(`, `\[` and common commands on their own.
TEX = (
    r"\$\$|\$[^$\n]*(\\[A-Za-z]+|[_^]\{?\w)[^$\n]*\$"
    r"|\\[(\[]|\\(frac|tfrac|sum|hat|big|alpha|delta|dots)\b"
)
# A mention of another page in prose: "the benchmarks page", "the
# probabilistic how-to", "the first notebook", "notebook 05".
MENTION = (
    r"\b(the|see) (benchmarks|concepts|changelog|limits|api|how-to|[a-z-]+ how-to"
    r"|[a-z-]+ guide|first|second|third|fourth|fifth|sixth|next|previous|\d\d)"
    r" (page|how-to|guide|notebook)s?\b"
    r"|\b(benchmarks|concepts|limits) page\b|\bnotebooks? \d\d?\b"
)
# Runs in the page: what a reader would find broken on it. arguments[0] is
# true in the laptop's window, where every rule holds; in the phone's, only
# the page's own width is checked. arguments[1] and [2]: TEX and MENTION.
PAGE_PROBLEMS = r"""
const laptop = arguments[0];
const problems = [];
const root = document.documentElement;
if (root.scrollWidth > root.clientWidth + 1) {
  problems.push(`page scrolls sideways by ${root.scrollWidth - root.clientWidth} px`);
}
if (!laptop) return problems;
for (const img of document.querySelectorAll("article img")) {
  if (!img.complete || img.naturalWidth === 0) {
    problems.push("image not loaded: " + img.getAttribute("src").slice(0, 80));
  }
}
for (const script of document.querySelectorAll("script[src]")) {
  if (!script.getAttribute("src").trim()) problems.push("a <script> with an empty src");
}
const column = document.querySelector("article.md-content__inner");
const right = column.getBoundingClientRect().right + 1;
for (const table of document.querySelectorAll("article table")) {
  const hidden = table.scrollWidth - table.clientWidth;
  const edge = table.getBoundingClientRect().right;
  if (hidden > 1 || edge > right) {
    const header = table.querySelector("tr").innerText.slice(0, 60);
    problems.push(`table clipped by ${Math.max(hidden, edge - right)} px: ${header}`);
  }
}
// A code block, its lines included, fits the column: neither its box nor a
// line runs past it, nor hides behind a scroll bar.
for (const pre of document.querySelectorAll("article pre")) {
  let hidden = 0;
  for (const box of [pre, pre.querySelector(":scope > code"), pre.parentElement]) {
    if (box) hidden = Math.max(hidden, box.scrollWidth - box.clientWidth);
  }
  const edge = pre.getBoundingClientRect().right - right;
  if (hidden > 1 || edge > 0) {
    const lines = pre.innerText.split("\n");
    const line = lines.reduce((a, b) => (b.length > a.length ? b : a), "").trim();
    const by = Math.max(hidden, edge);
    problems.push(`code block wider than the column by ${by} px: ${line.slice(0, 70)}`);
  }
}
// Text as the reader sees it: TeX left as typed, and mentions of another
// page that are not links.
const TEX = new RegExp(arguments[1]);
const MENTION = new RegExp(arguments[2], "i");
const walker = document.createTreeWalker(column, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const parent = node.parentElement;
  if (parent.closest("pre, code, script, style, math, .md-source-file")) continue;
  const tex = node.textContent.match(TEX);
  if (tex) problems.push("TeX shown as typed: " + node.textContent.trim().slice(0, 70));
  const mention = node.textContent.match(MENTION);
  if (mention && !parent.closest("a, h1, h2, h3, h4, h5, h6")) {
    problems.push(`"${mention[0]}" is not a link`);
  }
}
return problems;
"""
# The figures: their source, their drawn and their shown width.
FIGURES = """
return Array.from(document.querySelectorAll("article img"), img => [
  img.currentSrc || img.src, img.naturalWidth, img.getBoundingClientRect().width,
]);
"""
LINKS = """
return Array.from(document.querySelectorAll("article a[href]"), a => a.href);
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The built site, served on a local port: yields its base URL."""
    site_dir = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--site-dir", str(site_dir)],
        cwd=ROOT, check=True,
    )  # fmt: skip
    handler = functools.partial(QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site_dir, f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not pathlib.Path(CHROMEDRIVER).exists():
        pytest.fail(
            "Chromium's WebDriver is missing: `make docs-check` installs it "
            "(apt-get install chromium chromium-driver)."
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def pages(site_dir):
    return sorted(
        path.relative_to(site_dir).as_posix()
        for path in site_dir.rglob("index.html")
        if path.parent.name != "404"
    )


def image_bytes(src, site_dir, base):
    """The bytes of an image shown on a page: a data URI's or the site's file."""
    if src.startswith("data:"):
        return base64.b64decode(src.split(",", 1)[1])
    path = urllib.parse.unquote(urllib.parse.urlsplit(src).path).removeprefix("/")
    return (site_dir / path).read_bytes() if src.startswith(base) else None


def png_dpi(data):
    """The resolution that matplotlib records in a PNG's pHYs chunk, else 100."""
    at = 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        if data[at + 4 : at + 8] == b"pHYs":
            per_metre, _, unit = struct.unpack(">IIB", data[at + 8 : at + 17])
            return per_metre * 0.0254 if unit == 1 else 100.0
        at += 12 + length
    return 100.0  # matplotlib's figure.dpi


def smallest_label_px(data, natural, shown):
    """The CSS px of a figure's smallest text as shown, or None if unknown.

    A PNG drawn by matplotlib: MIN_FONT_PT at the dpi it records, scaled as
    shown. An SVG: its smallest `font-size`, in units of its viewBox.
    """
    if data.startswith(b"\x89PNG"):
        return MIN_FONT_PT * png_dpi(data) / 72 * shown / natural
    text = data.decode("utf-8", "replace")
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', text)]
    view_box = re.search(r'viewBox="[\d.-]+ [\d.-]+ ([\d.]+)', text)
    if sizes and view_box:
        return min(sizes) * shown / float(view_box[1])
    return None


def test_figure_sources_use_no_smaller_text():
    """The figures' sources ask for no text under MIN_FONT_PT points."""
    sources = [*ROOT.glob("examples/*.py"), *ROOT.glob("notebooks/*.ipynb")]
    sizes = {
        (path.name, float(size))
        for path in sources
        for size in re.findall(r"fontsize=(\d+(?:\.\d+)?)", path.read_text())
    }
    assert sizes, "no fontsize= found: the pattern no longer matches the sources"
    assert not {(n, s) for n, s in sizes if s < MIN_FONT_PT}


def test_every_page_reads_well_at_1366_and_390_px(site, browser):
    site_dir, base = site
    problems, anchors, links = [], {}, set()
    for width in WIDTHS:
        browser.set_window_size(width, 1000)
        for page in pages(site_dir):
            browser.get(base + page)
            found = browser.execute_script(PAGE_PROBLEMS, width == LAPTOP, TEX, MENTION)
            problems += [f"{page} at {width} px: {p}" for p in found]
            if width != LAPTOP:
                continue
            if 'class="mermaid"' in (site_dir / page).read_text():
                problems.append(f"{page}: a mermaid diagram, drawn by a CDN's script")
            for src, natural, shown in browser.execute_script(FIGURES):
                data = natural and image_bytes(src, site_dir, base)
                label = data and smallest_label_px(data, natural, shown)
                if label is not None and label < MIN_LABEL_PX:
                    problems.append(
                        f"{page}: a figure drawn {natural} px wide, shown at "
                        f"{shown:.0f}: its smallest text measures {label:.1f} px "
                        f"({src[:60]})"
                    )
            anchors[page] = set(
                browser.execute_script(
                    "return Array.from(document.querySelectorAll('[id]'), e => e.id);"
                )
            )
            links.update((page, href) for href in browser.execute_script(LINKS))
    for page, href in sorted(links):
        if not href.startswith(base):
            continue  # other sites: not reachable from CI
        url = urllib.parse.urlsplit(href)
        target = url.path.removeprefix("/")
        if target == "" or target.endswith("/"):
            target += "index.html"
        if not (site_dir / target).is_file():
            problems.append(f"{page}: broken link to {href}")
        elif url.fragment and target.endswith("index.html"):
            ids = anchors.get(target)
            if ids is not None and urllib.parse.unquote(url.fragment) not in ids:
                problems.append(f"{page}: no anchor #{url.fragment} in {target}")
    assert len(pages(site_dir)) >= 20
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
