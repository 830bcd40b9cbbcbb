"""`tiphub export --encrypt` writes no readable name; `tiphub decrypt` gives the file back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _tiphub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tiphub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_an_encrypted_export_hides_names_and_opens_only_with_its_passphrase(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TIPHUB_DATABASE_URL": database_url,
        "TIPHUB_DATA_DIR": str(tmp_path / "data"),
        "TIPHUB_EXPORT_PASSPHRASE": "a long export passphrase",
    }
    assert _tiphub(env, "demo", "--cases", "15", "--seed", "4").returncode == 0
    plain = tmp_path / "plain.jsonl"
    done = _tiphub(env, "export", "--format", "jsonl", "--output", str(plain))
    assert done.returncode == 0, done.stderr
    assert "plain text" in done.stderr  # the operator is warned
    names = {
        participant["person"]["family_name"]
        for line in plain.read_text(encoding="utf-8").splitlines()
        for participant in json.loads(line)["participants"]
        if len(participant["person"].get("family_name", "")) >= 5
    }
    assert names
    sealed = tmp_path / "cases.sealed"
    done = _tiphub(env, "export", "--format", "jsonl", "--output", str(sealed), "--encrypt")
    assert done.returncode == 0, done.stderr
    raw = sealed.read_bytes()
    assert not any(name.encode() in raw for name in names)
    assert (sealed.stat().st_mode & 0o777) == 0o600

    wrong = _tiphub(
        {**env, "TIPHUB_EXPORT_PASSPHRASE": "not the passphrase at all"},
        "decrypt",
        str(sealed),
        "--output",
        str(tmp_path / "wrong.jsonl"),
    )
    assert wrong.returncode == 1
    assert not (tmp_path / "wrong.jsonl").exists()

    opened = tmp_path / "opened.jsonl"
    done = _tiphub(env, "decrypt", str(sealed), "--output", str(opened))
    assert done.returncode == 0, done.stderr
    assert opened.read_text(encoding="utf-8") == plain.read_text(encoding="utf-8")
