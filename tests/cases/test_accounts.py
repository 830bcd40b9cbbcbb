"""Passwords, sign-in, lockout, second factor and tokens."""

from __future__ import annotations

import datetime as dt
import time

import pyotp
import pytest
from sqlalchemy import Engine, select, update

from tiphub.cases import accounts
from tiphub.cases.access import Principal, local_operator
from tiphub.store import models as m
from tiphub.store.models import table_of

PASSWORD = "correct horse battery staple 42"
OPERATOR = local_operator("operator:accounts-test")
USERS = table_of(m.UserAccount)
TOKENS = table_of(m.AccessToken)


@pytest.fixture
def org(engine: Engine) -> str:
    accounts.add_organisation(engine, OPERATOR, "ngo-test", "Test NGO")
    return "ngo-test"


def _add(engine: Engine, username: str, roles: list[str], **options: object) -> str | None:
    return accounts.add_user(engine, OPERATOR, username, "ngo-test", roles, PASSWORD, **options)  # type: ignore[arg-type]


def _sign_in(
    engine: Engine,
    username: str,
    password: str = PASSWORD,
    otp: str | None = None,
    require_admin_totp: bool = True,
) -> Principal:
    return accounts.authenticate(engine, username, password, otp, "test", require_admin_totp)


def test_passwords_are_stored_as_argon2id_hashes_only(engine: Engine, org: str) -> None:
    _add(engine, "worker@ngo-test", ["caseworker"])
    with engine.connect() as connection:
        stored = connection.execute(select(USERS.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(
    "password",
    ["short pass", "password1234", "Password1234", "aaaaaaaaaaaaaaaa", "my name is worker!"],
)
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(accounts.PasswordRejectedError):
        accounts.check_password(password, "worker@ngo-test")


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple 42",
        "all lower case and no digits at all",
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZqrst",
    ],
)
def test_long_passphrases_need_no_composition_rule(password: str) -> None:
    accounts.check_password(password, "worker@ngo-test")


def test_every_refusal_is_the_same_error(engine: Engine, org: str) -> None:
    _add(engine, "worker@ngo-test", ["caseworker"])
    _add(engine, "gone@ngo-test", ["caseworker"])
    accounts.set_disabled(engine, OPERATOR, "gone@ngo-test")
    errors = []
    for username, password in (
        ("worker@ngo-test", "wrong password for sure"),
        ("nobody@ngo-test", PASSWORD),
        ("gone@ngo-test", PASSWORD),
    ):
        with pytest.raises(accounts.AuthenticationError) as refused:
            _sign_in(engine, username, password)
        errors.append((type(refused.value), str(refused.value)))
    assert len(set(errors)) == 1
    assert _sign_in(engine, "worker@ngo-test").username == "worker@ngo-test"


def test_five_failures_lock_the_account(engine: Engine, org: str) -> None:
    _add(engine, "worker@ngo-test", ["caseworker"])
    for _ in range(accounts.LOCK_AFTER_FAILURES):
        with pytest.raises(accounts.AuthenticationError):
            _sign_in(engine, "worker@ngo-test", "wrong password for sure")
    with pytest.raises(accounts.AuthenticationError):
        _sign_in(engine, "worker@ngo-test")
    assert [u.locked for u in accounts.list_users(engine, OPERATOR)] == [True]


def test_a_second_factor_is_needed_and_a_code_works_once(engine: Engine, org: str) -> None:
    uri = _add(engine, "worker@ngo-test", ["caseworker"], with_totp=True)
    assert uri is not None
    totp = pyotp.TOTP(pyotp.parse_uri(uri).secret)
    with pytest.raises(accounts.AuthenticationError):
        _sign_in(engine, "worker@ngo-test")
    with pytest.raises(accounts.AuthenticationError):
        _sign_in(engine, "worker@ngo-test", otp="000000" if totp.now() != "000000" else "111111")
    code = totp.now()
    assert _sign_in(engine, "worker@ngo-test", otp=code).username == "worker@ngo-test"
    with pytest.raises(accounts.AuthenticationError):
        _sign_in(engine, "worker@ngo-test", otp=code)  # replayed


def test_an_admin_without_a_second_factor_cannot_sign_in(engine: Engine, org: str) -> None:
    _add(engine, "boss@ngo-test", ["admin"])
    with pytest.raises(accounts.AuthenticationError):
        _sign_in(engine, "boss@ngo-test", require_admin_totp=True)
    assert _sign_in(engine, "boss@ngo-test", require_admin_totp=False).can("user:manage")


def test_expired_and_revoked_tokens_are_refused(engine: Engine, org: str) -> None:
    _add(engine, "worker@ngo-test", ["caseworker"])
    principal = _sign_in(engine, "worker@ngo-test")
    issued = accounts.issue_token(engine, principal, "api")
    assert (
        accounts.resolve_token(engine, issued.secret, "api", "test").username == principal.username
    )
    with pytest.raises(accounts.AuthenticationError):  # an API token is no session
        accounts.resolve_token(engine, issued.secret, "session", "test")
    with engine.begin() as connection:
        connection.execute(
            update(TOKENS)
            .where(TOKENS.c.id == issued.token_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    # A change behind the application's back is seen once the remembered principal is stale.
    time.sleep(accounts.PRINCIPAL_CACHE_SECONDS)
    with pytest.raises(accounts.AuthenticationError):
        accounts.resolve_token(engine, issued.secret, "api", "test")
    other = accounts.issue_token(engine, principal, "api")
    assert (
        accounts.resolve_token(engine, other.secret, "api", "test").username == principal.username
    )
    # revoking through the application takes effect at once, remembered or not
    accounts.revoke_token(engine, principal, other.token_id)
    with pytest.raises(accounts.AuthenticationError):
        accounts.resolve_token(engine, other.secret, "api", "test")


def test_token_scopes_narrow_the_permissions(engine: Engine, org: str) -> None:
    _add(engine, "worker@ngo-test", ["caseworker"])
    principal = _sign_in(engine, "worker@ngo-test")
    issued = accounts.issue_token(engine, principal, "api", scopes=["case:read", "audit:read"])
    narrowed = accounts.resolve_token(engine, issued.secret, "api", "test")
    assert narrowed.permissions == frozenset({"case:read"})  # never wider than the roles
    with pytest.raises(accounts.AccountError):
        accounts.issue_token(engine, principal, "api", scopes=["everything"])


def test_only_the_sha256_of_a_token_is_stored(engine: Engine, org: str) -> None:
    import hashlib

    _add(engine, "worker@ngo-test", ["caseworker"])
    principal = _sign_in(engine, "worker@ngo-test")
    issued = accounts.issue_token(engine, principal, "session")
    with engine.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(select(TOKENS))]
    assert rows and all(issued.secret not in str(value) for row in rows for value in row.values())
    assert rows[0]["token_hash"] == hashlib.sha256(issued.secret.encode()).hexdigest()


def test_disabling_an_account_stops_its_remembered_tokens_at_once(engine: Engine, org: str) -> None:
    _add(engine, "worker@ngo-test", ["caseworker"])
    principal = _sign_in(engine, "worker@ngo-test")
    issued = accounts.issue_token(engine, principal, "api")
    remembered = accounts.resolve_token(engine, issued.secret, "api", "first")
    again = accounts.resolve_token(engine, issued.secret, "api", "second")
    assert (remembered.username, again.username) == ("worker@ngo-test", "worker@ngo-test")
    assert again.source == "second"  # each request's own source, never the remembered one
    accounts.set_disabled(engine, OPERATOR, "worker@ngo-test")
    with pytest.raises(accounts.AuthenticationError):
        accounts.resolve_token(engine, issued.secret, "api", "third")
