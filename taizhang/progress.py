"""Progress bars for long commands: shown on a terminal, silent when piped."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Ticker(Protocol):
    def advance(self, amount: int = 1) -> None: ...


class _Silent:
    def advance(self, amount: int = 1) -> None:
        """Nothing to show when the output is not a terminal."""


class _Bar:
    def __init__(self, progress: Progress, task: int) -> None:
        self._progress = progress
        self._task = task

    def advance(self, amount: int = 1) -> None:
        self._progress.advance(self._task, amount)


@contextmanager
def progress(label: str, total: int | None, *, force: bool | None = None) -> Iterator[Ticker]:
    """A bar on stderr when it is a terminal (or ``force``), else a silent ticker."""
    show = sys.stderr.isatty() if force is None else force
    if not show:
        yield _Silent()
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, transient=False) as bar:
        yield _Bar(bar, bar.add_task(label, total=total))
