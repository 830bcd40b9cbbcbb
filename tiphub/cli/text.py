"""Small pieces of the command line's wording, kept in one place so every command says
them the same way."""

from __future__ import annotations

# What an empty database is missing, said by every command that would otherwise print an
# empty table.
EMPTY_HINT = (
    "The database holds no cases yet. Run `tiphub start` to load the synthetic demo and "
    "serve the hub, or `tiphub import PATH` to import a case file."
)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """The count with the word that fits it: ``1 case``, ``0 cases``, ``1,200 cases``."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count:,} {word}"
