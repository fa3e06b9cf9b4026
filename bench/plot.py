"""Draw a PNG next to each benchmark's JSON in bench/results/ (`make bench`, `make bench-plots`).

The benchmarks write JSON of different shapes; this reads them all the same way. Every object
under the report's results (its `machine`, `source`, `settings`... are left out) with numbers in
it is a row, named by its path (`jwt_whoami`, `sqlite / connections=100`); the numbers of an object
that holds only numbers (`response_time_ms: {median, p95, p99}`, `service: {rss_mib_max}`) count
as its parent's. Up to three panels, each drawn when the report has what it needs:

- latency percentiles: each row's `p50`, `p90`, `p95`, `p99`, `median` (with or without `_ms`),
  as grouped bars;
- throughput: `rps`, `requests_per_s`, `*_per_second`, `mean_responses_per_s`,
  `tasks_per_minute`, as bars;
- against scale: rows of one list that differ by a scale (`rate`, `arrivalRate`, `connections`,
  `clients`, `concurrency`, `sessions`, `workers`, `n`): their percentiles, throughput and memory
  (`rss*_mib*`, `VmRSS`, `VmHWM`, `kib_per_connection`) as lines.

Usage: python bench/plot.py [JSON ...] (default: every bench/results/*.json). Needs matplotlib
(`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

RESULTS = Path(__file__).resolve().parent / "results"
METADATA = {"benchmark", "timestamp", "machine", "source", "settings", "tool", "tool_version",
            "revision", "parameters", "backends_settings", "notes", "note"}  # fmt: skip
LATENCY = re.compile(r"(p\d{2,3}|median)(_ms)?")
THROUGHPUT = re.compile(
    r"rps|requests_per_s|mean_responses_per_s|[a-z_]*_per_second|tasks_per_minute"
)
MEMORY = re.compile(r"rss[a-z_]*_mib[a-z_]*|VmRSS|VmHWM|kib_per_connection")
SCALES = (
    "rate",
    "arrivalRate",
    "connections",
    "clients",
    "concurrency",
    "sessions",
    "workers",
    "n",
)
MAX_ROWS = 24


@dataclass
class Row:
    label: str
    metrics: dict[str, float]
    group: int | None = None  # rows of one list share it


def number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def flat_numbers(node: dict[str, Any]) -> bool:
    return bool(node) and all(not isinstance(v, dict | list) for v in node.values())


def rows(node: Any, path: list[str], group: int | None = None) -> Iterator[Row]:
    if isinstance(node, dict):
        metrics: dict[str, float] = {}
        for key, value in node.items():
            if not path and key in METADATA:
                continue
            if number(value):
                metrics[key] = float(value)
            elif isinstance(value, dict) and flat_numbers(value):
                metrics.update({f"{key}.{k}": float(v) for k, v in value.items() if number(v)})
        if metrics and path:
            label = " / ".join(path[1:] if path[0] == "results" and len(path) > 1 else path)
            yield Row(label, metrics, group)
        for key, value in node.items():
            if not path and key in METADATA:
                continue
            if isinstance(value, list) or (isinstance(value, dict) and not flat_numbers(value)):
                yield from rows(value, [*path, key])
    elif isinstance(node, list):
        group = id(node)
        for index, item in enumerate(node):
            name = str(index)
            if isinstance(item, dict):
                scale = next((s for s in SCALES if number(item.get(s))), None)
                name = f"{scale}={item[scale]:g}" if scale else str(item.get("name", index))
            yield from rows(item, [*path, name], group)


def last(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def short(label: str, width: int = 44) -> str:
    return label if len(label) <= width else "..." + label[-(width - 3) :]


def latency_keys(table: list[Row]) -> list[str]:
    keys = {k for r in table for k in r.metrics if LATENCY.fullmatch(last(k))}
    return sorted(keys, key=lambda k: (k.rsplit(".", 1)[0], int(re.sub(r"\D", "", last(k)) or 50)))


GROUPED = 4  # up to this many percentile keys: grouped bars; more: one bar per row and key


def latency_bars(table: list[Row]) -> int:
    keys = latency_keys(table)
    if len(keys) <= GROUPED:
        return min(len(table), MAX_ROWS) * max(1, len(keys)) // 2 + 1
    return min(sum(1 for r in table for k in keys if k in r.metrics), MAX_ROWS * 2)


def latency_panel(ax: Any, table: list[Row]) -> None:
    keys = latency_keys(table)
    unit = "ms" if all(k.endswith("_ms") or "_ms." in k for k in keys) else "as recorded"
    if len(keys) <= GROUPED:
        table = table[:MAX_ROWS]
        height = 0.8 / max(len(keys), 1)
        for i, key in enumerate(keys):
            values = [r.metrics.get(key, 0.0) for r in table]
            ax.barh([y + i * height for y in range(len(table))], values, height, label=key)
        ax.set_yticks([y + 0.4 - height / 2 for y in range(len(table))])
        ax.set_yticklabels([short(r.label) for r in table], fontsize=7)
        ax.legend(fontsize=7)
    else:
        bars = [(f"{r.label} ({k})", r.metrics[k]) for r in table for k in keys if k in r.metrics]
        bars = bars[: MAX_ROWS * 2]
        colours = ["tab:blue" if "p50" in last(label) or "median" in label else "tab:red"
                   for label, _ in bars]  # fmt: skip
        ax.barh(range(len(bars)), [v for _, v in bars], color=colours)
        ax.set_yticks(range(len(bars)))
        ax.set_yticklabels([short(label, 70) for label, _ in bars], fontsize=6)
        ax.set_xscale("symlog")
    ax.invert_yaxis()
    ax.set_xlabel(f"latency ({unit})")
    ax.set_title("latency percentiles", fontsize=9)
    ax.grid(axis="x", alpha=0.3)


def throughput_panel(ax: Any, table: list[Row]) -> None:
    bars = [(f"{r.label} ({last(k)})", v) for r in table for k, v in r.metrics.items()
            if THROUGHPUT.fullmatch(last(k))][:MAX_ROWS]  # fmt: skip
    ax.barh(range(len(bars)), [v for _, v in bars], color="tab:green")
    ax.set_yticks(range(len(bars)))
    ax.set_yticklabels([short(label, 56) for label, _ in bars], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("per second (per minute for tasks_per_minute)")
    ax.set_title("throughput", fontsize=9)
    ax.grid(axis="x", alpha=0.3)


def scale_series(table: list[Row]) -> list[tuple[str, str, list[Row]]]:
    """(scale key, label, rows) for each list whose rows differ by a scale (3 rows or more)."""
    groups: dict[int, list[Row]] = defaultdict(list)
    for row in table:
        if row.group is not None:
            groups[row.group].append(row)
    series = []
    for members in groups.values():
        for scale in SCALES:
            points = [r for r in members if scale in r.metrics]
            if len(points) >= 3 and len({r.metrics[scale] for r in points}) >= 3:
                prefix = points[0].label.rsplit(" / ", 1)[0]
                series.append((scale, prefix, sorted(points, key=lambda r: r.metrics[scale])))
                break
    return series


def scale_panel(ax: Any, scale: str, label: str, points: list[Row]) -> None:
    xs = [r.metrics[scale] for r in points]
    keys = sorted({k for r in points for k in r.metrics
                   if LATENCY.fullmatch(last(k)) or THROUGHPUT.fullmatch(last(k))
                   or MEMORY.fullmatch(last(k))})  # fmt: skip
    for key in keys:
        ys = [r.metrics.get(key) for r in points]
        if any(y is not None for y in ys):
            ax.plot(xs, [float("nan") if y is None else y for y in ys], marker="o", label=key)
    ax.set_xlabel(scale)
    ax.set_yscale("symlog")
    ax.set_title(f"against {scale}: {short(label, 60)}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, ncol=2)
    ax.grid(alpha=0.3)


def draw(path: Path) -> Path | None:
    report = json.loads(path.read_text())
    table = list(rows(report, []))
    has_latency = [r for r in table if any(LATENCY.fullmatch(last(k)) for k in r.metrics)]
    has_rate = [r for r in table if any(THROUGHPUT.fullmatch(last(k)) for k in r.metrics)]
    series = scale_series(table)[:2]
    panels: list[tuple[str, Any, float]] = []
    if has_latency:
        panels.append(("latency", has_latency, 0.8 + 0.2 * latency_bars(has_latency)))
    if has_rate:
        count = sum(1 for r in has_rate for k in r.metrics if THROUGHPUT.fullmatch(last(k)))
        panels.append(("throughput", has_rate, 0.8 + 0.2 * min(count, MAX_ROWS)))
    panels.extend(("scale", s, 3.2) for s in series)
    if not panels:
        return None
    figure, axes = plt.subplots(
        len(panels), 1, figsize=(11, sum(h for *_, h in panels) + 0.8),
        height_ratios=[h for *_, h in panels], squeeze=False,
    )  # fmt: skip
    for ax, (kind, data, _) in zip(axes[:, 0], panels, strict=True):
        if kind == "latency":
            latency_panel(ax, data)
        elif kind == "throughput":
            throughput_panel(ax, data)
        else:
            scale_panel(ax, *data)
    meta = report if isinstance(report, dict) else {}
    commit = str((meta.get("source") or {}).get("commit", ""))[:10]
    stamp = " ".join(x for x in (str(meta.get("timestamp", "")), commit) if x)
    figure.suptitle(f"{path.stem}   {stamp}", fontsize=10)
    figure.tight_layout()
    target = path.with_suffix(".png")
    figure.savefig(target, dpi=72)
    plt.close(figure)
    return target


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(RESULTS.glob("*.json"))
    for path in paths:
        target = draw(path)
        print(f"{path.name}: {target.name if target else 'nothing to draw'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
