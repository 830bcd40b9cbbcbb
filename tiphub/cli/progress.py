"""Progress bars on standard error, shown only when it is a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

errors = Console(stderr=True, emoji=False)


@contextmanager
def progress_bar(label: str, total: int | None = None) -> Iterator[Progress]:
    """One task; without ``total`` it counts rows."""
    columns = [
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if total else TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
    ]
    with Progress(
        *columns, console=errors, transient=False, disable=not errors.is_terminal
    ) as progress:
        progress.add_task(label, total=total)
        yield progress


@contextmanager
def progress_callback(label: str) -> Iterator[Callable[[int, int], None]]:
    """A ``(done, total)`` callback for domain code that reports its own total."""
    with progress_bar(label, total=1) as progress:
        task = progress.task_ids[0]

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update
