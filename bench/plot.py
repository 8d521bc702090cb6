"""The latency plot of ``docs/benchmarks.md``: p50/p99/p99.9 per scenario on a log scale (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PNG = Path(__file__).resolve().parent.parent / "docs" / "img" / "bench-latency.png"


class PlotUnavailable(RuntimeError):
    """matplotlib is missing: install the ``bench`` extra."""


def series(results: dict[str, Any]) -> list[tuple[str, list[float | None]]]:
    """(label, [p50, p99, p99.9]) per scenario, in display order; None where not measured."""
    rows: list[tuple[str, list[float | None]]] = []
    for key in ("ingest", "baseline_bare", "baseline_seed", "e2e", "kafka_roundtrip"):
        row = results.get(key)
        if row:
            rows.append((key, [row.get("p50_ms"), row.get("p99_ms"), row.get("p999_ms")]))
    for row in results.get("fanout", []):
        rows.append((f"fanout {row['clients']:,}\n(last client)", [row.get("p50_ms"), row.get("p99_ms"), None]))
    return rows


def draw(results: dict[str, Any], path: Path = PNG) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable("matplotlib is not installed: pip install -e '.[bench]'") from exc
    rows = series(results)
    figure, axes = plt.subplots(figsize=(10, 4.8), dpi=110)
    width = 0.27
    for i, (name, colour) in enumerate((("p50", "#4c78a8"), ("p99", "#f58518"), ("p99.9", "#e45756"))):
        xs = [x + (i - 1) * width for x in range(len(rows))]
        values = [v[i] or 0.0 for _, v in rows]
        axes.bar(xs, values, width, label=name, color=colour)
    axes.set_yscale("log")
    axes.set_ylabel("latency, ms (log scale)")
    axes.set_xticks(range(len(rows)), [label for label, _ in rows], fontsize=8)
    axes.set_title(f"Live Scoreboard benchmarks — {results.get('finished_at', '')}")
    axes.grid(axis="y", which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
