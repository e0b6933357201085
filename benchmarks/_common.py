"""What the table-printing benchmarks share: result rows, the Markdown table, the run footer."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Row:
    """One line of the result table."""

    name: str
    result: str
    target: str = "-"
    ok: bool | None = None
    notes: str = ""


def print_table(rows: list[Row]) -> None:
    """A Markdown table, columns padded (notes unpadded)."""
    head = ("measurement", "result", "target", "ok", "notes")
    cells = [
        (r.name, r.result, r.target, {True: "yes", False: "NO", None: "-"}[r.ok], r.notes)
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(4)]

    def line(values: tuple[str, ...]) -> str:
        padded = [v.ljust(w) for v, w in zip(values, widths, strict=False)]
        return "| " + " | ".join([*padded, values[4]]) + " |"

    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
    for c in cells:
        print(line(c))


def print_report(summary: str, load_before: tuple[float, float, float], rows: list[Row]) -> None:
    """The run's one-line summary, the load average before and now, then the table."""
    print()
    print(summary)
    load_after = os.getloadavg()
    print(
        "load average: before "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )
    print()
    print_table(rows)


def remove_work(work: Path, keep: bool) -> None:
    """Delete the work dir, or say where it was kept."""
    if keep:
        print(f"work dir kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
