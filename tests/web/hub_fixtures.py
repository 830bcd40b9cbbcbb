"""A demo hub for security tests: three organisations, five users each, ~30 cases, referrals.

Import ``hub_fixture`` where it is needed (it provides the ``hub`` fixture; the import needs
``# noqa: F401``). tests/conftest.py is not changed, so only the tests that ask for a hub pay
for building one.

The hub's users are ``<role>@<organisation>`` for the roles of ``tiphub.demo.hub``. Every
organisation refers one of its cases to the next one (ngo → police → labour → ngo), so each
organisation has a referral it is part of and one between the two others that it must not see.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tiphub.cases import accounts, sharing
from tiphub.cases.access import Principal, local_operator, principal_for
from tiphub.cases.api import CaseStore
from tiphub.demo.hub import DEMO_ORGANISATIONS, DEMO_ROLES, ensure_demo_hub
from tiphub.demo.loader import load_demo
from tiphub.store import models as m
from tiphub.store.models import table_of
from tiphub.web.app import create_app
from tiphub.web.security import CSRF_HEADER, SESSION_COOKIE
from tiphub.web.settings import HubSettings

DEMO_PASSWORD = "correct horse battery staple 42"
DEMO_CASES = 30
DEMO_SEED = 7
ORGANISATIONS = tuple(slug for slug, _, _ in DEMO_ORGANISATIONS)
ROLES = DEMO_ROLES
# Each organisation refers a case to the next one.
REFERRAL_TARGET = {
    ORGANISATIONS[0]: ORGANISATIONS[1],
    ORGANISATIONS[1]: ORGANISATIONS[2],
    ORGANISATIONS[2]: ORGANISATIONS[0],
}
VICTIM_ROLES = ("Victim", "PresumedVictim", "PotentialVictim")
CSRF_INPUT = re.compile(
    r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"'
)


def organisation_of(username: str) -> str:
    return username.split("@", 1)[1]


def role_of(username: str) -> str:
    return username.split("@", 1)[0]


@dataclass
class Hub:
    engine: Engine
    app: FastAPI
    password: str
    usernames: tuple[str, ...]
    # One case id per organisation (a case with a victim, so it can be referred).
    cases: dict[str, uuid.UUID]
    # The referral each organisation made, keyed by the referring organisation.
    referrals: dict[str, uuid.UUID]
    _clients: list[TestClient] = field(default_factory=list)

    # -- clients ------------------------------------------------------------------------
    def anonymous_client(self) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        self._clients.append(client)
        return client

    def token_for(self, username: str) -> str:
        client = self.anonymous_client()
        answer = client.post(
            "/api/v1/auth/token", json={"username": username, "password": self.password}
        )
        assert answer.status_code == 200, f"sign-in of {username}: {answer.status_code}"
        return str(answer.json()["access_token"])

    def client_for(self, username: str) -> TestClient:
        """A client that sends a bearer token obtained through POST /api/v1/auth/token."""
        client = self.anonymous_client()
        client.headers["Authorization"] = f"Bearer {self.token_for(username)}"
        return client

    def session_client_for(self, username: str) -> TestClient:
        """A browser-like client: signed in through POST /signin when that page exists,
        otherwise with a session issued directly; it sends the CSRF header on every call."""
        client = self.anonymous_client()
        form = client.get("/signin")
        if form.status_code == 200:
            found = CSRF_INPUT.search(form.text)
            data = {"username": username, "password": self.password}
            if found:
                data["csrf_token"] = found.group(1) or found.group(2)
            client.post("/signin", data=data)
        secret = client.cookies.get(SESSION_COOKIE)
        if not secret:
            issued = accounts.issue_token(self.engine, self.principal(username), kind="session")
            secret = issued.secret
            client.cookies.set(SESSION_COOKIE, secret)
        client.headers[CSRF_HEADER] = accounts.csrf_token_for(secret)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()

    # -- principals and records ---------------------------------------------------------
    def principal(self, username: str, source: str = "test") -> Principal:
        """The user's principal, built without a password check (fast)."""
        user = table_of(m.UserAccount)
        with self.engine.connect() as connection:
            row = connection.execute(select(user).where(user.c.username == username)).one()
            return principal_for(connection, row, organisation_of(username), source)

    def case_in_scope(self, organisation: str) -> uuid.UUID:
        return self.cases[organisation]

    def case_out_of_scope(self, organisation: str) -> uuid.UUID:
        """A case of another organisation that was not referred to this one."""
        shared_with_us = {
            source for source, target in REFERRAL_TARGET.items() if target == organisation
        }
        for other in ORGANISATIONS:
            if other != organisation and other not in shared_with_us:
                return self.cases[other]
        raise AssertionError("no out-of-scope case")

    def referral_in_scope(self, organisation: str) -> uuid.UUID:
        return self.referrals[organisation]

    def referral_out_of_scope(self, organisation: str) -> uuid.UUID:
        for source, target in REFERRAL_TARGET.items():
            if organisation not in (source, target):
                return self.referrals[source]
        raise AssertionError("no out-of-scope referral")

    def user_in_scope(self, organisation: str) -> str:
        return f"caseworker@{organisation}"

    def user_out_of_scope(self, organisation: str) -> str:
        other = next(slug for slug in ORGANISATIONS if slug != organisation)
        return f"caseworker@{other}"


def _victim_cases(engine: Engine) -> dict[str, uuid.UUID]:
    """Per organisation, one case that has a victim (the newest such case)."""
    operator = local_operator("operator:test")
    store = CaseStore(engine, operator)
    found: dict[str, uuid.UUID] = {}
    for summary in store.page(limit=200).items:
        if summary.organisation in found:
            continue
        document = store.read(summary.id, audited=False).document
        if any(p["role"] in VICTIM_ROLES for p in document["participants"]):
            found[summary.organisation] = summary.id
    missing = set(ORGANISATIONS) - set(found)
    assert not missing, f"the demo data has no victim case at {sorted(missing)}"
    return found


def _with_referral_consent(engine: Engine, case_id: uuid.UUID) -> None:
    operator = local_operator("operator:test")
    store = CaseStore(engine, operator)
    document = store.read(case_id, audited=False).document
    victim = next(p for p in document["participants"] if p["role"] in VICTIM_ROLES)
    store.append(
        case_id,
        "consents",
        {
            "person_external_id": victim["person"]["external_id"],
            "purpose": "Referral",
            "given": True,
            "recorded_on": (dt.date.today() - dt.timedelta(days=1)).isoformat(),
        },
    )


def build_hub(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Hub:
    monkeypatch.setenv("TIPHUB_DEMO_PASSWORD", DEMO_PASSWORD)
    # Cheap argon2id parameters: fifteen users would otherwise cost seconds per test. The
    # production parameters are checked in tests/cases/test_accounts.py, which does not use
    # this hub.
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    load_demo(engine, DEMO_CASES, DEMO_SEED)
    demo = ensure_demo_hub(engine)
    cases = _victim_cases(engine)
    referrals: dict[str, uuid.UUID] = {}
    for source, target in REFERRAL_TARGET.items():
        _with_referral_consent(engine, cases[source])
        supervisor = _principal(engine, f"supervisor@{source}")
        share = sharing.refer(engine, supervisor, cases[source], target, ["victim", "events"])
        referrals[source] = share.id
    # Many sign-ins come from the one test client address; the per-address limit is tested
    # on its own elsewhere.
    settings = HubSettings(demo=True, secure_cookies=False, sign_in_attempts_per_minute=100_000)
    app = create_app(engine, settings)
    return Hub(engine, app, DEMO_PASSWORD, demo.usernames, cases, referrals)


def _principal(engine: Engine, username: str) -> Principal:
    user = table_of(m.UserAccount)
    with engine.connect() as connection:
        row = connection.execute(select(user).where(user.c.username == username)).one()
        return principal_for(connection, row, organisation_of(username), "test")


@pytest.fixture(name="hub")
def hub_fixture(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    built = build_hub(engine, monkeypatch)
    yield built
    built.close()


def walk_json(value: Any, path: str = "$") -> Iterator[tuple[str, str, Any]]:
    """Every (path, key, value) of a JSON document, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", key, item
            yield from walk_json(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_json(item, f"{path}[{index}]")
