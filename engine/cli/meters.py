"""Progress on a terminal: a bar per phase with its count, total (where known), rate and time left,
drawn by rich on standard error, so standard output stays the report."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")


class TerminalMeter:
    shows_totals = True

    def __init__(self) -> None:
        self.bars = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeRemainingColumn(),
            console=Console(stderr=True),
        )  # fmt: skip
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> TerminalMeter:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def start(self, phase: str, total: int | None = None) -> None:
        self.tasks[phase] = self.bars.add_task(phase, total=total)

    def advance(self, phase: str, count: int = 1) -> None:
        if phase not in self.tasks:
            self.start(phase)
        self.bars.advance(self.tasks[phase], count)

    def finish(self, phase: str) -> None:
        task = self.tasks.get(phase)
        if task is not None and self.bars.tasks[task].total is None:
            self.bars.update(task, total=self.bars.tasks[task].completed)
