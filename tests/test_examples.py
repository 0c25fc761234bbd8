"""Every Python code block in README.md and docs/ runs, so examples stay true."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# A block right after a `<!-- not run: REASON -->` line is shown, not run: it
# needs more than one process can give (several workers), and REASON names
# the test that runs its code instead.
BLOCK = re.compile(
    r"^(?:<!-- not run: (?P<reason>[^\n]+?) -->\n)?```python\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)


def code_blocks():
    for page in PAGES:
        for number, match in enumerate(BLOCK.finditer(page.read_text()), 1):
            reason = match["reason"]
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            if page.parent != ROOT:
                # The docs' examples train small models for seconds each:
                # CI runs them (`make test-slow`); `make test` runs the README's.
                marks.append(pytest.mark.slow)
            yield pytest.param(
                match["code"], id=f"{page.relative_to(ROOT)}#{number}", marks=marks
            )


def test_there_are_examples():
    assert len(list(code_blocks())) >= 3


def test_a_block_not_run_names_the_test_that_runs_its_code():
    for block in code_blocks():
        for mark in block.marks:
            if mark.name != "skip":
                continue
            reason = mark.kwargs["reason"]
            test_file = re.search(r"tests/test_\w+\.py", reason)
            assert test_file and (ROOT / test_file[0]).is_file(), reason


@pytest.mark.parametrize("code", list(code_blocks()))
def test_code_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    exec(compile(code, "<example>", "exec"), {"__name__": "__example__"})


def test_sine_demo_runs_and_writes_the_plot(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "sine_demo", ROOT / "examples" / "sine_demo.py"
    )
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    rmse = demo.main(plot_path=tmp_path / "plot.png", epochs=1)
    assert (tmp_path / "plot.png").stat().st_size > 10_000
    assert 0.0 < rmse < 2.0  # one epoch: finite and on the wave's scale
