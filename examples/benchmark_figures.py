"""The benchmarks page's figures, drawn from the page's own tables.

Reads docs/benchmarks.md, so that a figure shows exactly the measured
figures printed beside it; `make figures` writes docs/figures/per_step_cost.png
and docs/figures/forecast_comparison.png, and tests/test_figures.py checks
that they were drawn from the tables as they stand (sections appended to
the page do not date them).
"""

import json
import pathlib
import re

import matplotlib

from examples import figures

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PAGE = figures.ROOT / "docs" / "benchmarks.md"
HORIZONS = (100, 1_000, 10_000)
COST_TABLE = "#### sine: LSTMCell(32), batch 1, {steps:,} steps"
FORECAST_TABLES = {
    "taylor (half-hourly demand, 48 steps)": "### taylor:",
    "co2 (monthly, 12 steps)": "### co2:",
}


def table_after(text, heading):
    """The rows of the first Markdown table after the line `heading` starts."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    header, body = rows[0], rows[2:]  # rows[1] is the |---| line
    return [dict(zip(header, row, strict=True)) for row in body]


def number(cell):
    """A cell's first number: `1,592`, or the mean of `249.9 [240.1-260.2]`."""
    return float(re.match(r"[0-9,.]+", cell)[0].replace(",", ""))


def tables(text):
    """The rows the figures draw, by table heading."""
    headings = [COST_TABLE.format(steps=steps) for steps in HORIZONS]
    headings += FORECAST_TABLES.values()
    return {heading: table_after(text, heading) for heading in headings}


def source_digest(text):
    """What the figures depend on: this script and the rows they draw.

    Sections added to the page, or tables the figures do not read, leave it
    unchanged.
    """
    return figures.digest(
        __file__, data=json.dumps(tables(text), sort_keys=True)
    )


def per_step_cost(text):
    costs = {}  # method -> {steps: us per step}
    for steps in HORIZONS:
        for row in table_after(text, COST_TABLE.format(steps=steps)):
            costs.setdefault(row["method"], {})[steps] = number(row["us/step"])
    fig, ax = plt.subplots(figsize=(7.5, 4), layout="constrained")
    for i, (method, by_steps) in enumerate(costs.items()):
        steps = sorted(by_steps)
        style = "-o" if len(steps) > 1 else "o"
        ax.plot(
            steps,
            [by_steps[s] for s in steps],
            style,
            color=f"C{i}",
            label=method,
            linewidth=2.5 if method == "generate" else 1.2,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(HORIZONS, [f"{s:,}" for s in HORIZONS])
    ax.set_xlabel("steps generated (LSTMCell(32) + Dense(1), batch 1)")
    ax.set_ylabel("microseconds per step (log)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def forecast_comparison(text):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    for ax, (title, heading) in zip(
        axes, FORECAST_TABLES.items(), strict=True
    ):
        rows = table_after(text, heading)
        names = [row["method"] for row in rows]
        crps = [number(row["CRPS"]) for row in rows]
        colors = [
            "C1" if "SelfFeedingRNN" in n or "ensembles" in n else "C0"
            for n in names
        ]
        ax.barh(range(len(rows)), crps, color=colors)
        ax.set_yticks(range(len(rows)), [short(n) for n in names], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("CRPS of 100 paths, lower is better", fontsize=9)
        ax.set_title(title, fontsize=9)
        for y, row in enumerate(rows):
            ax.annotate(
                f" cov80 {row['coverage80'].split()[0]}",
                (crps[y], y),
                va="center",
                fontsize=8,
            )
        ax.set_xlim(0, max(crps) * 1.45)
    return fig


def short(name):
    name = name.replace("statsmodels ", "").replace(
        " on seasonal differences", ""
    )
    name = re.sub(r"SelfFeedingRNN, lags \(.*?\)", "SelfFeedingRNN", name)
    name = re.sub(r", noise scale from \d+ held-back windows", "", name)
    name = re.sub(
        r"ensembles of (\d+) of these networks, (\d+) ensemble\(s\)",
        r"\2 ensembles of \1 (ours)",
        name.strip(),
    )
    name = name.replace(" network(s)", " networks").replace(
        " seed(s)", " seeds"
    )
    name = name.replace("GluonTS ", "").replace(" (torch)", "")
    return name.replace("its default ", "").replace("stopped by ", "")


def main(out_dir=figures.FIGURES):
    text = PAGE.read_text()
    source = source_digest(text)
    out_dir = pathlib.Path(out_dir)
    return [
        figures.save(
            per_step_cost(text), out_dir / "per_step_cost.png", source
        ),
        figures.save(
            forecast_comparison(text),
            out_dir / "forecast_comparison.png",
            source,
        ),
    ]


if __name__ == "__main__":
    print(*main(), sep="\n")
