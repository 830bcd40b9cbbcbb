"""Sub-commands that typer builds only when they run.

Typer turns every command's signature into click parameters before it parses the line, so
``tiphub --help`` used to pay for every command (and, through their modules, for
SQLAlchemy, pandas, Splink…). A lazy entry is listed under its name and one-line help, and
its module is imported and its parameters built only when the line names it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyEntry:
    """A command or command group, by name, built from ``module:attribute`` on demand.

    ``help`` is the line the parent's listing shows; the entry's own help stays in its
    module (a test keeps the two in step).
    """

    name: str
    target: str
    help: str
    group: bool = False

    def load(self) -> TyperCommand | TyperGroup:
        module_name, attribute = self.target.split(":")
        target: Any = getattr(importlib.import_module(module_name), attribute)
        # Built through a throwaway parent with the top-level app's settings, so the command
        # comes out exactly as `add_typer` / `command` on that app would have made it.
        holder = typer.Typer(
            add_completion=False,
            pretty_exceptions_enable=False,
            pretty_exceptions_show_locals=False,
        )
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=self.name)
        else:
            holder.command(self.name)(target)
        built = typer.main.get_command(holder)
        if isinstance(target, typer.Typer):
            return cast(TyperGroup, cast(TyperGroup, built).commands[self.name])
        return cast(TyperCommand, built)


class _Placeholder(TyperCommand):
    """Stands for a lazy entry in listings; never parses or runs anything itself."""

    def __init__(self, entry: LazyEntry) -> None:
        super().__init__(entry.name, help=entry.help)
        self.entry = entry


class LazyGroup(TyperGroup):
    """A group whose ``lazy`` entries are built when they are resolved, not before.

    Lazy commands are listed before the group's own commands, lazy groups after them (the
    order typer gives commands and groups).
    """

    lazy: ClassVar[Sequence[LazyEntry]] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        own = dict(self.commands)
        ordered: dict[str, Any] = {
            entry.name: _Placeholder(entry) for entry in self.lazy if not entry.group
        }
        ordered.update(own)
        ordered.update({entry.name: _Placeholder(entry) for entry in self.lazy if entry.group})
        self.commands = ordered

    # ``Any``: the context and command types live in typer's private copy of click.
    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Placeholder):
            command = self.load(command.entry.name)
        return name, command, rest

    def load(self, name: str) -> Any:
        """The built command ``name`` (built once per group)."""
        command = self.commands[name]
        if isinstance(command, _Placeholder):
            command = self.commands[name] = command.entry.load()
        return command


def listed_help(command: Any) -> str:
    """The first paragraph of a command's help: what a parent's listing shows of it."""
    return inspect.cleandoc(command.help or "").split("\n\n")[0]
