"""Figures and how they are printed: a plain table, or JSON with `--json`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from bench.stats import Summary


@dataclass
class Row:
    label: str
    summary: Summary | None = None  # latencies, ms
    value: float | None = None  # a single figure, in `unit`
    unit: str = ""
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label}
        if self.summary is not None:
            s = self.summary
            data.update(n=s.n, p50_ms=_round(s.p50), p95_ms=_round(s.p95), p99_ms=_round(s.p99), max_ms=_round(s.max))
        if self.value is not None:
            data.update(value=_round(self.value), unit=self.unit)
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 2)


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def render_table(sections: list[Section], header: list[str]) -> str:
    width = max([len(r.label) for s in sections for r in s.rows] + [30])
    lines = list(header)
    columns = f"{'figure':<{width}}  {'n':>5}  {'p50 ms':>8}  {'p95 ms':>8}  {'p99 ms':>8}  {'max ms':>8}  note"
    for section in sections:
        lines += ["", f"== {section.title} ==", columns]
        for row in section.rows:
            if row.summary is not None:
                s = row.summary
                cells = f"{s.n:>5}  {_ms(s.p50):>8}  {_ms(s.p95):>8}  {_ms(s.p99):>8}  {_ms(s.max):>8}"
            else:
                figure = "-" if row.value is None else f"{row.value:.1f} {row.unit}"
                cells = f"{'':>5}  {figure:>38}"
            lines.append(f"{row.label:<{width}}  {cells}  {row.note}".rstrip())
        lines += [f"  * {note}" for note in section.notes]
    return "\n".join(lines)


def render_json(sections: list[Section], config: dict[str, Any]) -> str:
    return json.dumps(
        {
            "config": config,
            "sections": [
                {"title": s.title, "rows": [r.to_json() for r in s.rows], "notes": s.notes} for s in sections
            ],
        },
        indent=2,
    )
