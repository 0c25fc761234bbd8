"""The docs' figures: drawn by scripts in examples/, current with their sources.

Each PNG in docs/figures/ records a digest of what it was drawn from (its
script, and the tables it reads). The fast tests recompute the digests, so a
script or table changed without `make figures` fails `make test`; the slow
tests run the scripts, so that they cannot rot.
"""

import importlib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FIGURES = ROOT / "docs" / "figures"
# figure -> the script that draws it
SCRIPTS = {
    "quick_start.png": "quick_start.py",
    "fan_chart.png": "probabilistic.py",
    "covariates_forecast.png": "covariates.py",
    "online_forecast.png": "online.py",
    "per_step_cost.png": "benchmark_figures.py",
    "forecast_comparison.png": "benchmark_figures.py",
}


def load(script):
    """The module `examples.<script without .py>`."""
    return importlib.import_module(f"examples.{script[:-3]}")


figures = load("figures.py")


def expected_digest(script):
    if script == "benchmark_figures.py":
        page = (ROOT / "docs" / "benchmarks.md").read_text()
        return load(script).source_digest(page)
    return figures.digest(EXAMPLES / script)


def test_benchmark_figures_ignore_sections_appended_to_the_page():
    module = load("benchmark_figures.py")
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    appended = page + "\n## Something new\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert module.source_digest(appended) == module.source_digest(page)
    changed = page.replace(
        "| generate | 0.505 | 6.69 | 0.67 |", "| generate | 0.505 | 6.69 | 0.70 |"
    )
    assert changed != page
    assert module.source_digest(changed) != module.source_digest(page)


def test_every_figure_in_the_docs_is_drawn_by_a_script():
    shown = set()
    for page in (ROOT / "docs").rglob("*.md"):
        shown.update(re.findall(r"figures/([\w-]+\.png)", page.read_text()))
    on_disk = {path.name for path in FIGURES.glob("*.png")}
    assert shown == on_disk == set(SCRIPTS), (shown, on_disk)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_figure_is_current(name):
    script = SCRIPTS[name]
    assert figures.read_digest(FIGURES / name) == expected_digest(script), (
        f"docs/figures/{name} was drawn from another version of "
        f"examples/{script} (or of the tables it reads): run `make figures`."
    )


def test_benchmark_figures_read_the_page(tmp_path):
    # Reading tables is quick: the fast suite runs it.
    written = load("benchmark_figures.py").main(tmp_path)
    assert [path.name for path in written] == [
        "per_step_cost.png",
        "forecast_comparison.png",
    ]
    for path in written:
        assert path.stat().st_size > 10_000
        assert figures.read_digest(path) == expected_digest("benchmark_figures.py")


@pytest.mark.slow
def test_quick_start_script_runs(tmp_path):
    path = load("quick_start.py").main(tmp_path / "quick_start.png")
    assert path.stat().st_size > 10_000
    assert figures.read_digest(path) == expected_digest("quick_start.py")


@pytest.mark.slow
def test_fan_chart_script_runs(tmp_path):
    path = load("probabilistic.py").main(tmp_path / "fan_chart.png")
    assert path.stat().st_size > 10_000
    assert figures.read_digest(path) == expected_digest("probabilistic.py")


@pytest.mark.slow
def test_online_script_runs_and_compares_online_with_fresh_reads(tmp_path):
    ratio = load("online.py").main(tmp_path / "online_forecast.png")
    assert (tmp_path / "online_forecast.png").stat().st_size > 10_000
    assert 0.5 < ratio < 2.0  # finite, and the two forecasts of one model


@pytest.mark.slow
def test_covariates_script_runs_and_forecasts(tmp_path):
    rmse = load("covariates.py").main(tmp_path / "covariates_forecast.png")
    assert (tmp_path / "covariates_forecast.png").stat().st_size > 10_000
    # The series swings between -1.8 and 1 with noise 0.1: a forecast that
    # follows the calendar is well under the swing.
    assert rmse < 0.3
