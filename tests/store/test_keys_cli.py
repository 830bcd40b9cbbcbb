"""``tiphub keys rotate | status`` and the CLI's answer to a lost, wrong or damaged key file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tiphub.store import crypto
from tiphub.store.db import make_engine, upgrade
from tiphub.store.models import Base


@pytest.fixture
def url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database for this test's own key file: a fresh SQLite file, or PostgreSQL emptied."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'cli.db'}"
        return
    engine = make_engine(database_url)

    def empty() -> None:
        upgrade(engine)
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} CASCADE"))

    empty()
    yield database_url
    empty()  # the run's other tests expect the run's key file to fit
    engine.dispose()
    crypto.forget_cached_keys()


def tiphub(url: str, key_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TIPHUB_DATABASE_URL": url,
        "TIPHUB_KEY_FILE": str(key_file),
        "COLUMNS": "200",
    }
    env.pop("TIPHUB_KEYS", None)
    return subprocess.run(
        [sys.executable, "-m", "tiphub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _key_material(key_file: Path) -> list[str]:
    data = json.loads(key_file.read_text())
    return [*data["encryption_keys"].values(), data["index_key"]]


def test_rotate_and_status(url: str, tmp_path: Path) -> None:
    keys = tmp_path / "tiphub.keys"
    loaded = tiphub(url, keys, "demo", "--cases", "20", "--seed", "3")
    assert loaded.returncode == 0, loaded.stderr
    old_id = json.loads(keys.read_text())["primary"]
    old_material = _key_material(keys)

    status = tiphub(url, keys, "keys", "status")
    assert status.returncode == 0, status.stderr
    assert str(keys) in status.stdout
    assert old_id in status.stdout and "primary" in status.stdout
    assert "Keys match the database: yes" in status.stdout

    rotated = tiphub(url, keys, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    new_id = json.loads(keys.read_text())["primary"]
    assert new_id != old_id
    assert f"New primary key: {new_id}" in rotated.stdout
    assert "Resealed" in rotated.stdout and "Back up the key file" in rotated.stdout
    assert set(json.loads(keys.read_text())["encryption_keys"]) == {new_id}

    status = tiphub(url, keys, "keys", "status")
    assert status.returncode == 0, status.stderr
    assert new_id in status.stdout and "retired" in status.stdout
    assert "Keys match the database: yes" in status.stdout

    kept = tiphub(url, keys, "keys", "rotate", "--keep-old")
    assert kept.returncode == 0, kept.stderr
    assert new_id in json.loads(keys.read_text())["encryption_keys"]

    summary = tiphub(url, keys, "summary", "--json")
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["cases"] == 20

    # no key material in anything printed
    material = old_material + _key_material(keys)
    for result in (loaded, status, rotated, kept, summary):
        for secret in material:
            assert secret not in result.stdout + result.stderr


def test_key_problems_are_one_clear_sentence(url: str, tmp_path: Path) -> None:
    keys = tmp_path / "tiphub.keys"
    assert tiphub(url, keys, "demo", "--cases", "5").returncode == 0
    saved = keys.read_text()

    keys.unlink()
    for args in (
        ("summary",),
        ("export", "--format", "jsonl", "--output", str(tmp_path / "x")),
        ("keys", "status"),
        ("keys", "rotate"),
    ):
        result = tiphub(url, keys, *args)
        assert result.returncode == 2, (args, result.stderr)
        message = " ".join(result.stderr.split())
        assert str(keys) in message and "does not exist" in message, message
        assert "unexpected" not in message and "Traceback" not in result.stderr
        assert not keys.exists()  # never a second, incompatible key

    other = crypto.Keyring.generate()
    keys.write_text(other.to_json())
    result = tiphub(url, keys, "summary")
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "does not hold the key" in message and str(keys) in message, message
    assert keys.read_text() == other.to_json()
    status = tiphub(url, keys, "keys", "status")
    assert status.returncode == 2 and "Keys match the database: no" in status.stdout

    keys.write_text(saved[: len(saved) // 2])
    result = tiphub(url, keys, "summary")
    assert result.returncode == 2
    assert "is not a tiphub key file" in " ".join(result.stderr.split())

    keys.write_text(saved)
    assert tiphub(url, keys, "summary").returncode == 0
