"""The command line starts light: listing commands loads no database, science or web library.

Timings are measured by bench/cli_bench.py; these tests guard the structure that makes them
fast, which does not depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer.main

from tiphub.cli.app import LAZY_COMMANDS, app
from tiphub.cli.lazy import LazyGroup, listed_help

HEAVY = (
    "numba",
    "scipy",
    "splink",
    "duckdb",
    "pandas",
    "sklearn",
    "fastapi",
    "pyspark",
    "matplotlib",
    "opendp",
    "sqlalchemy",
    "alembic",
)


def _loaded_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    report = f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", f"import json, sys\n{code}\n{report}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_command_line_loads_no_heavy_library() -> None:
    assert _loaded_after("import tiphub.cli.app", (*HEAVY, "pydantic", "tiphub.store.models")) == []


def _command_line(line: list[str], expected: str) -> str:
    """Code that runs ``tiphub LINE`` in the child and checks it printed ``expected``."""
    return (
        "import contextlib, io\n"
        f"sys.argv = ['tiphub', *{line!r}]\n"
        "from tiphub.cli.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as shown:\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as end:\n"
        "        assert end.code in (0, None), end.code\n"
        f"assert {expected!r} in shown.getvalue(), shown.getvalue()"
    )


@pytest.mark.parametrize("line", [["--help"], ["import", "--help"], ["cases", "--help"]])
def test_help_loads_no_heavy_library(line: list[str]) -> None:
    # Not pydantic: typer itself builds a command's options with it.
    assert _loaded_after(_command_line(line, "Usage")) == []


def test_a_summary_loads_neither_alembic_nor_the_case_schema(tmp_path: Any) -> None:
    setting = (
        "import os\n"
        f"os.environ['TIPHUB_DATA_DIR'] = {str(tmp_path)!r}\n"
        "os.environ.pop('TIPHUB_DATABASE_URL', None)\n"
    )
    # A first process makes the database; the second finds it at the newest revision.
    made = subprocess.run(
        [
            sys.executable,
            "-c",
            setting + "from tiphub.store.db import ensure_schema, make_engine\n"
            "ensure_schema(make_engine())",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    code = setting + _command_line(["summary"], "tiphub import")
    assert _loaded_after(code, ("alembic", "tiphub.cases.schema")) == []


def _group() -> LazyGroup:
    group = typer.main.get_command(app)
    assert isinstance(group, LazyGroup)
    return group


def test_every_command_is_listed_in_the_order_typer_gave_them() -> None:
    names = list(_group().commands)
    assert names[:4] == ["estimate", "link", "serve", "screen"]
    assert names.index("history") < names.index("db") < names.index("cases")
    assert names[-1] == "online"
    assert {entry.name for entry in LAZY_COMMANDS} <= set(names)


@pytest.mark.parametrize("entry", LAZY_COMMANDS, ids=lambda entry: entry.name)
def test_a_lazy_entry_lists_the_help_of_the_command_it_builds(entry: Any) -> None:
    group = _group()
    placeholder = group.commands[entry.name]
    built = group.load(entry.name)
    assert built is not placeholder
    assert built.name == entry.name
    assert listed_help(placeholder) == listed_help(built) != ""
    assert isinstance(built, typer.core.TyperGroup) == entry.group
    # The built command keeps its options: a lazy command is the same command, built later.
    assert built.params or isinstance(built, typer.core.TyperGroup)
    assert group.load(entry.name) is built
