"""The error every reader of user files raises: located by source, row and column.

Messages never quote a cell's value, because the values may be survivors' names.
"""

from __future__ import annotations


class LocatedError(ValueError):
    """``<source>, row <n>, column '<name>': <reason>``; any part may be absent."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.source = source
        self.row = row
        self.column = column
        self.reason = message
        where = [part for part in (source, f"row {row}" if row is not None else None) if part]
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
