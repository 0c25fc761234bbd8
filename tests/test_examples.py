"""Every Python code block in README.md and docs/ runs, so examples stay true."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def code_blocks():
    for page in PAGES:
        for number, match in enumerate(BLOCK.finditer(page.read_text()), 1):
            yield pytest.param(match.group(1), id=f"{page.relative_to(ROOT)}#{number}")


def test_there_are_examples():
    assert len(list(code_blocks())) >= 3


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
