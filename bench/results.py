"""Benchmark results: one row per number, printed as a table and saved as JSON with the machine."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Result:
    benchmark: str
    measure: str
    value: float
    unit: str
    target: str = ""  # what the number should reach, in words ("<= 60 s")

    def shown(self) -> str:
        number = (
            f"{self.value:,.0f}" if abs(self.value) >= 100 else f"{self.value:,.2f}".rstrip("0").rstrip(".")
        )
        return f"{number} {self.unit}".strip()


def machine() -> dict[str, str | int]:
    return {
        "cpu": _cpu_model() or platform.processor() or platform.machine(),
        "cores": os.cpu_count() or 0,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "system": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def table(results: list[Result]) -> str:
    rows = [("benchmark", "measure", "result", "target")]
    rows += [(r.benchmark, r.measure, r.shown(), r.target) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def save(results: list[Result], path: Path, smoke: bool) -> None:
    data = {
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "smoke": smoke,
        "machine": machine(),
        "results": [asdict(result) for result in results],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
