"""Connections lost while idle in the pool (a database restart) are replaced before use."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DisconnectionError

from tiphub.store import db


def test_a_dead_connection_idle_in_the_pool_is_replaced_before_use(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server connection to lose")
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    victim = engine.connect()
    dead_pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with engine.connect() as killer:
        victim.close()  # back to the pool, idle
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dead_pid})
        killer.commit()
    for _ in range(3):  # whichever idle connection the pool hands out, the request works
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
            assert pid != dead_pid


class _Unreachable:
    def cursor(self) -> Any:
        raise OSError("server closed the connection")

    def rollback(self) -> None:
        raise OSError("server closed the connection")


class _Record:
    def __init__(self, checked_in_at: float | None) -> None:
        self.info = {} if checked_in_at is None else {"checked_in_at": checked_in_at}


def test_only_connections_idle_for_a_while_are_tested() -> None:
    lost = _Unreachable()
    # just returned to the pool: handed out without a round trip (the dead server goes unseen)
    db._ping_if_idle(lost, _Record(time.monotonic()), None)
    # idle for longer, or never stamped: tested, and a dead one is refused for a new one
    for record in (_Record(time.monotonic() - db.IDLE_PING_SECONDS - 1), _Record(None)):
        with pytest.raises(DisconnectionError):
            db._ping_if_idle(lost, record, None)
