"""The dependency direction of the package: domain code never imports the web layer or the
command line, and the web layer reaches the database only through the domain."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tiphub"
OUTER_LAYERS = ("tiphub.web", "tiphub.cli")
# The web layer may name the Engine type it is handed; it never opens a connection itself.
WEB_MAY_IMPORT_FROM_SQLALCHEMY = {"Engine"}
# At start-up the application brings the schema up to date and turns a key problem into a
# clear page: the only names of the store it uses.
WEB_MAY_IMPORT_FROM_STORE = {
    "tiphub.store.db": {"ensure_schema"},
    "tiphub.store.crypto": {"KeyProblem"},
}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_domain_code_never_imports_the_web_layer_or_the_command_line() -> None:
    inner = [
        path
        for path in _modules(PACKAGE)
        if path.parent.name not in ("web", "cli")
        and "web" not in path.relative_to(PACKAGE).parts
        and "cli" not in path.relative_to(PACKAGE).parts
        and path.name != "__main__.py"
    ]
    assert len(inner) > 40
    offending = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in inner
        for module, _names in _imports(path)
        if module.startswith(OUTER_LAYERS)
    ]
    assert offending == []


def test_the_web_layer_reaches_the_database_only_through_the_domain() -> None:
    web = _modules(PACKAGE / "web")
    assert len(web) > 20
    offending = []
    for path in web:
        for module, names in _imports(path):
            if module.startswith(("tiphub.store", "psycopg")) and not set(
                names
            ) <= WEB_MAY_IMPORT_FROM_STORE.get(module, set()):
                offending.append(f"{path.relative_to(PACKAGE)} imports {module}: {names}")
            if module.startswith("sqlalchemy") and not set(names) <= WEB_MAY_IMPORT_FROM_SQLALCHEMY:
                offending.append(f"{path.relative_to(PACKAGE)} imports {module}: {names}")
        source = path.read_text(encoding="utf-8")
        for call in (".connect(", ".begin(", ".execute("):
            if call in source:
                offending.append(f"{path.relative_to(PACKAGE)} calls {call}")
    assert offending == []
