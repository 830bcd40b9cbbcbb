"""The hub's management commands in a subprocess: organisations, users, roles, and their audit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tiphub.cases import accounts, audit
from tiphub.cases.access import local_operator

PASSWORD = "correct horse battery staple 42"
NEW_PASSWORD = "another long passphrase 17"


def tiphub(
    database_url: str, *args: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIPHUB_DATABASE_URL": database_url}
    env.pop("TIPHUB_NEW_PASSWORD", None)
    if password is not None:
        env["TIPHUB_NEW_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "tiphub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _entries(engine: Engine, action: str) -> list[dict[str, object]]:
    return [entry for entry in audit.iter_entries(engine) if entry["action"] == action]


def test_organisations_users_and_roles_from_the_command_line(
    engine: Engine, database_url: str
) -> None:
    added = tiphub(database_url, "org", "add", "ngo-cli", "--name", "CLI NGO", "--as", "alice")
    assert added.returncode == 0, added.stderr
    listed = tiphub(database_url, "org", "list")
    assert listed.returncode == 0 and "ngo-cli" in listed.stdout

    user = tiphub(
        database_url,
        "users", "add", "worker@ngo-cli", "-o", "ngo-cli", "-r", "caseworker", "--as", "alice",
        password=PASSWORD,
    )  # fmt: skip
    assert user.returncode == 0, user.stderr
    weak = tiphub(
        database_url,
        "users", "add", "weak@ngo-cli", "-o", "ngo-cli", "-r", "caseworker",
        password="password1234",
    )  # fmt: skip
    assert weak.returncode != 0 and "password1234" not in weak.stderr + weak.stdout
    assert accounts.authenticate(engine, "worker@ngo-cli", PASSWORD, None, "test")

    users = tiphub(database_url, "users", "list")
    assert users.returncode == 0 and "worker@ngo-cli" in users.stdout
    assert "$argon2" not in users.stdout and PASSWORD not in users.stdout

    reset = tiphub(
        database_url, "users", "reset-password", "worker@ngo-cli", "--as", "bob",
        password=NEW_PASSWORD,
    )  # fmt: skip
    assert reset.returncode == 0, reset.stderr
    assert accounts.authenticate(engine, "worker@ngo-cli", NEW_PASSWORD, None, "test")

    disabled = tiphub(database_url, "users", "disable", "worker@ngo-cli", "--as", "carol")
    assert disabled.returncode == 0, disabled.stderr
    assert [u.disabled for u in accounts.list_users(engine, local_operator())] == [True]

    roles = tiphub(database_url, "roles", "list")
    assert roles.returncode == 0 and "caseworker" in roles.stdout and "auditor" in roles.stdout
    custom = tiphub(
        database_url, "roles", "add", "reader", "-p", "case:read", "--scope", "team",
    )  # fmt: skip
    assert custom.returncode == 0, custom.stderr
    assert "reader" in tiphub(database_url, "roles", "list").stdout
    unknown = tiphub(database_url, "roles", "add", "bad", "-p", "everything:all")
    assert unknown.returncode != 0

    actors = {
        "organisation.add": "alice",
        "user.add": "alice",
        "user.reset_password": "bob",
        "user.disable": "carol",
    }
    for action, actor in actors.items():
        assert [entry["actor"] for entry in _entries(engine, action)] == [actor], action
    # `roles add` has no --as: it is audited as the local operator's login name.
    defined = _entries(engine, "role.define")
    assert len(defined) == 1 and str(defined[0]["actor"]).startswith("operator:")
    assert audit.verify(engine).intact


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def test_serve_with_several_workers_shares_the_port_and_stops_whole(
    engine: Engine, database_url: str
) -> None:
    port = _free_port()
    env = {**os.environ, "TIPHUB_DATABASE_URL": database_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "tiphub", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        answered = 0
        while answered < 20 and time.monotonic() < deadline:
            try:
                # a new connection each time: the kernel may hand it to either process
                reply = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                assert reply.json() == {"status": "ok"}
                answered += 1
            except httpx.TransportError:
                time.sleep(0.2)
        assert answered == 20, server.stderr.read() if server.poll() is not None else ""
        workers = _children(server.pid)
        assert len(workers) == 2
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0
    for pid in workers:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)


def test_start_announces_a_new_key_file_once(tmp_path: Path) -> None:
    key_file = tmp_path / "new.keys"
    env = {
        **os.environ,
        "TIPHUB_DATA_DIR": str(tmp_path / "data"),
        "TIPHUB_KEY_FILE": str(key_file),
    }
    env.pop("TIPHUB_DATABASE_URL", None)
    env.pop("TIPHUB_KEYS", None)
    started = subprocess.run(
        [sys.executable, "-m", "tiphub", "start", "--no-serve", "--cases", "20"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert started.returncode == 0, started.stderr
    said = " ".join((started.stdout + started.stderr).split())
    assert said.count("Created the encryption key file") == 1
    assert key_file.exists()


def test_serve_with_workers_on_a_taken_port_says_so_and_fails(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "TIPHUB_DATABASE_URL": database_url}
        served = subprocess.run(
            [sys.executable, "-m", "tiphub", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    assert served.returncode != 0
    assert f"cannot serve on 127.0.0.1:{port}" in served.stderr
    assert "Traceback" not in served.stderr + served.stdout
