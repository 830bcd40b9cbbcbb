"""Warnings that say what a finding means for the figure and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EstimateWarning:
    """One finding about an estimate: a stable ``code`` for tools, plain words for people.

    ``message`` says what was found and what it means for the figure; ``advice`` the next
    step (merge or omit which lists, collect which overlap, run which command).
    """

    code: str
    message: str
    advice: str = ""

    def __str__(self) -> str:
        return f"{self.message} {self.advice}".strip()

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "advice": self.advice}
