"""The built site, opened in headless Chromium as a reader would open it.

Builds the site with `mkdocs build --strict`, serves it over HTTP and opens
every page at two window widths. A page fails on a link to a page or anchor
that does not exist, an image that did not load, or a table wider than the
text column (its last columns hidden until scrolled). Needs Debian's
`chromium` and `chromium-driver`: `make docs-check` and `make test-slow`
install them.
"""

import functools
import http.server
import pathlib
import shutil
import subprocess
import sys
import threading
import urllib.parse

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WIDTHS = (1280, 1920)  # laptop and desktop windows; the text column is narrower

pytestmark = pytest.mark.slow

# Runs in the page: what a reader would find broken on it.
PAGE_PROBLEMS = """
const problems = [];
for (const img of document.querySelectorAll("article img")) {
  if (!img.complete || img.naturalWidth === 0) {
    problems.push("image not loaded: " + img.getAttribute("src"));
  }
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
return problems;
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


def test_every_page_has_no_broken_link_missing_image_or_clipped_table(site, browser):
    site_dir, base = site
    problems, anchors, links = [], {}, set()
    for width in WIDTHS:
        browser.set_window_size(width, 1000)
        for page in pages(site_dir):
            browser.get(base + page)
            problems += [f"{page} at {width} px: {p}" for p in
                         browser.execute_script(PAGE_PROBLEMS)]  # fmt: skip
            if width == WIDTHS[0]:
                anchors[page] = set(
                    browser.execute_script(
                        "return Array.from(document.querySelectorAll('[id]'),"
                        " e => e.id);"
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
    assert not problems, "\n".join(problems)
