"""Organisations, users, passwords, second factors and access tokens.

Passwords are hashed with argon2id and follow NIST SP 800-63B: a minimum length, no
composition rules, and a check against a list of common and breached passwords (the
frequency list that ships with zxcvbn). Sign-in failures never say which part was wrong;
repeated failures lock the account for a while. Tokens (browser sessions and API tokens)
are random secrets of which only the SHA-256 is stored: scoped, expiring and revocable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, func, select, update

from tiphub.cases import audit
from tiphub.cases.access import (
    SCOPES,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    all_permissions,
    built_in_roles,
    principal_for,
    role_specs,
)
from tiphub.store import models as m
from tiphub.store.db import reading
from tiphub.store.models import table_of

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
LOCK_AFTER_FAILURES = 5
LOCK_MINUTES = 15
SESSION_HOURS = 8
API_TOKEN_DAYS_DEFAULT = 30
API_TOKEN_DAYS_MAX = 365

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the username is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthenticationError(Exception):
    """Wrong username, password or code, disabled or locked account: deliberately one error."""


class PasswordRejectedError(ValueError):
    pass


class AccountError(ValueError):
    pass


@cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, username: str = "") -> None:
    """NIST SP 800-63B: long enough, not too long to hash, not common, not the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejectedError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejectedError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")
    folded = password.casefold()
    if folded in _common_passwords() or len(set(folded)) < 4:
        raise PasswordRejectedError("this password is on the list of common or breached passwords")
    local = username.split("@")[0].casefold()
    if local and len(local) >= 4 and local in folded:
        raise PasswordRejectedError("a password must not contain the username")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token_for(session_secret: str) -> str:
    """The CSRF token bound to a browser session (derived, so nothing more is stored)."""
    return hashlib.sha256(f"csrf\0{session_secret}".encode()).hexdigest()[:40]


# -- organisations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationInfo:
    slug: str
    name: str
    type: str | None
    country: str | None
    users: int
    cases: int


def _require(principal: Principal, permission: str) -> None:
    if not principal.can(permission):
        raise PermissionDeniedError(f"your role does not allow {permission}")


def add_organisation(
    engine: Engine,
    principal: Principal,
    slug: str,
    name: str,
    type_: str | None = None,
    country: str | None = None,
) -> None:
    if not principal.operator:
        raise PermissionDeniedError("only the local operator adds organisations")
    if not slug or len(slug) > 100 or not all(c.isalnum() or c in "-_." for c in slug):
        raise AccountError("an organisation's slug is letters, digits, '-', '_' or '.'")
    table = table_of(m.Organisation)
    with engine.begin() as connection:
        if connection.execute(select(table.c.id).where(table.c.slug == slug)).first():
            raise AccountError(f"organisation {slug} already exists")
        connection.execute(
            table.insert().values(
                id=m.new_id(),
                slug=slug,
                name=name,
                type=type_,
                country=country,
                created_at=_now(),
            )
        )
        audit.record(
            connection, principal, "organisation.add", "organisation", slug, organisation=slug
        )


def list_organisations(engine: Engine, principal: Principal) -> list[OrganisationInfo]:
    org = table_of(m.Organisation)
    user = table_of(m.UserAccount)
    case = table_of(m.Case)
    users = select(func.count()).where(user.c.organisation_id == org.c.id).scalar_subquery()
    cases = select(func.count()).where(case.c.organisation_id == org.c.id).scalar_subquery()
    query = select(org.c.slug, org.c.name, org.c.type, org.c.country, users, cases).order_by(
        org.c.slug
    )
    if not principal.operator:
        query = query.where(org.c.id == principal.organisation_id)
    with engine.connect() as connection:
        return [OrganisationInfo(*row) for row in connection.execute(query)]


def organisation_id(connection: Connection, slug: str) -> uuid.UUID:
    table = table_of(m.Organisation)
    found = connection.execute(select(table.c.id).where(table.c.slug == slug)).scalar()
    if found is None:
        raise NotFoundError(f"no organisation {slug}")
    return found  # type: ignore[no-any-return]


# -- users -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserInfo:
    username: str
    organisation: str
    roles: tuple[str, ...]
    team: str | None
    display_name: str
    disabled: bool
    has_totp: bool
    locked: bool


def _can_manage(principal: Principal, organisation_slug: str) -> None:
    if principal.operator:
        return
    if not principal.can("user:manage") or principal.organisation != organisation_slug:
        raise PermissionDeniedError("your role does not allow user:manage here")


def _can_manage_user(principal: Principal, row: Any) -> None:
    """Another organisation's user is not found (404), as if it did not exist: a refusal
    (403) would confirm the username is taken elsewhere."""
    if not principal.operator and row.slug != principal.organisation:
        raise NotFoundError(f"no user {row.username}")
    _can_manage(principal, row.slug)


def add_user(
    engine: Engine,
    principal: Principal,
    username: str,
    organisation: str,
    roles: Sequence[str],
    password: str,
    team: str | None = None,
    display_name: str = "",
    with_totp: bool = False,
) -> str | None:
    """Create an account; return the TOTP provisioning URI when a second factor was set up."""
    _can_manage(principal, organisation)
    username = username.strip()
    if not username or len(username) > 200 or any(c.isspace() for c in username):
        raise AccountError("a username is one word of at most 200 characters")
    check_password(password, username)
    table = table_of(m.UserAccount)
    with engine.begin() as connection:
        specs = role_specs(connection)
        unknown = [role for role in roles if role not in specs]
        if unknown or not roles:
            raise AccountError(
                "unknown role(s) " + ", ".join(unknown) if unknown else "give at least one role"
            )
        org_id = organisation_id(connection, organisation)
        if connection.execute(select(table.c.id).where(table.c.username == username)).first():
            raise AccountError(f"user {username} already exists")
        secret = pyotp.random_base32() if with_totp else None
        connection.execute(
            table.insert().values(
                id=m.new_id(),
                username=username,
                organisation_id=org_id,
                display_name=display_name,
                roles=list(roles),
                team=team,
                password_hash=hash_password(password),
                totp_secret=secret,
                disabled=False,
                failed_attempts=0,
                created_at=_now(),
                password_changed_at=_now(),
            )
        )
        audit.record(
            connection,
            principal,
            "user.add",
            "user",
            username,
            details={"roles": list(roles), "totp": with_totp},
            organisation=organisation,
        )
    if secret is None:
        return None
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="tiphub")


def list_users(
    engine: Engine, principal: Principal, organisation: str | None = None
) -> list[UserInfo]:
    user = table_of(m.UserAccount)
    org = table_of(m.Organisation)
    query = (
        select(user, org.c.slug)
        .join(org, org.c.id == user.c.organisation_id)
        .order_by(org.c.slug, user.c.username)
    )
    if not principal.operator:
        _can_manage(principal, principal.organisation or "")
        query = query.where(user.c.organisation_id == principal.organisation_id)
    elif organisation:
        query = query.where(org.c.slug == organisation)
    now = _now()
    with engine.connect() as connection:
        return [
            UserInfo(
                row.username,
                row.slug,
                tuple(row.roles),
                row.team,
                row.display_name,
                row.disabled,
                row.totp_secret is not None,
                bool(row.locked_until and _aware(row.locked_until) > now),  # type: ignore[operator]
            )
            for row in connection.execute(query)
        ]


def _user_row(connection: Connection, username: str) -> Any:
    user = table_of(m.UserAccount)
    org = table_of(m.Organisation)
    return connection.execute(
        select(user, org.c.slug)
        .join(org, org.c.id == user.c.organisation_id)
        .where(user.c.username == username)
    ).first()


def set_disabled(
    engine: Engine, principal: Principal, username: str, disabled: bool = True
) -> None:
    table = table_of(m.UserAccount)
    with engine.begin() as connection:
        row = _user_row(connection, username)
        if row is None:
            raise NotFoundError(f"no user {username}")
        _can_manage_user(principal, row)
        connection.execute(update(table).where(table.c.id == row.id).values(disabled=disabled))
        if disabled:
            _revoke_all(connection, row.id)
        audit.record(
            connection,
            principal,
            "user.disable" if disabled else "user.enable",
            "user",
            username,
            organisation=row.slug,
        )
    forget_resolved_tokens()


def reset_password(engine: Engine, principal: Principal, username: str, password: str) -> None:
    check_password(password, username)
    table = table_of(m.UserAccount)
    with engine.begin() as connection:
        row = _user_row(connection, username)
        if row is None:
            raise NotFoundError(f"no user {username}")
        if principal.username != username:
            _can_manage_user(principal, row)
        connection.execute(
            update(table)
            .where(table.c.id == row.id)
            .values(
                password_hash=hash_password(password),
                password_changed_at=_now(),
                failed_attempts=0,
                locked_until=None,
            )
        )
        _revoke_all(connection, row.id)
        audit.record(
            connection, principal, "user.reset_password", "user", username, organisation=row.slug
        )
    forget_resolved_tokens()


def enrol_totp(engine: Engine, principal: Principal, username: str) -> str:
    """Give the account a new TOTP secret; return its provisioning URI (shown once)."""
    table = table_of(m.UserAccount)
    secret = pyotp.random_base32()
    with engine.begin() as connection:
        row = _user_row(connection, username)
        if row is None:
            raise NotFoundError(f"no user {username}")
        if principal.username != username:
            _can_manage_user(principal, row)
        connection.execute(
            update(table)
            .where(table.c.id == row.id)
            .values(totp_secret=secret, totp_last_step=None)
        )
        audit.record(
            connection, principal, "user.totp_enrol", "user", username, organisation=row.slug
        )
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="tiphub")


def define_role(
    engine: Engine,
    principal: Principal,
    name: str,
    permissions: Sequence[str],
    scope: str,
    sees_identity: bool,
    description: str = "",
) -> None:
    """A custom role, as data. Its permissions must be ones tiphub knows."""
    if not principal.operator:
        raise PermissionDeniedError("only the local operator defines roles")
    if name in built_in_roles():
        raise AccountError(f"{name} is a built-in role")
    if scope not in SCOPES:
        raise AccountError("scope is one of " + ", ".join(SCOPES))
    unknown = sorted(set(permissions) - all_permissions())
    if unknown:
        raise AccountError("unknown permission(s): " + ", ".join(unknown))
    table = table_of(m.RoleDefinition)
    with engine.begin() as connection:
        connection.execute(table.delete().where(table.c.name == name))
        connection.execute(
            table.insert().values(
                name=name,
                description=description,
                permissions=sorted(set(permissions)),
                scope=scope,
                sees_identity=sees_identity,
                built_in=False,
            )
        )
        audit.record(
            connection,
            principal,
            "role.define",
            "role",
            name,
            details={"permissions": sorted(set(permissions)), "scope": scope},
        )
    forget_resolved_tokens()


# -- sign-in and tokens --------------------------------------------------------------------


def _verify_totp(row: Any, otp: str | None) -> int | None:
    """The accepted time step, or None. A code is accepted once (no replay)."""
    if not otp or not otp.strip().isdigit():
        return None
    totp = pyotp.TOTP(row.totp_secret)
    now = _now()
    for drift in (0, -1, 1):
        moment = now + dt.timedelta(seconds=30 * drift)
        step = int(moment.timestamp()) // 30
        if totp.verify(otp.strip(), for_time=moment, valid_window=0) and (
            row.totp_last_step is None or step > row.totp_last_step
        ):
            return step
    return None


def authenticate(
    engine: Engine,
    username: str,
    password: str,
    otp: str | None,
    source: str,
    require_admin_totp: bool = True,
) -> Principal:
    """Check a sign-in; raise ``AuthenticationError`` without saying what was wrong."""
    table = table_of(m.UserAccount)
    with engine.begin() as connection:
        row = _user_row(connection, username) if username else None
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password or "")
            password_ok = row is not None
        except (VerificationError, InvalidHashError):
            password_ok = False
        now = _now()
        locked = row is not None and row.locked_until is not None and _aware(row.locked_until) > now  # type: ignore[operator]
        step = None
        second_factor_ok = True
        if row is not None and row.totp_secret is not None:
            step = _verify_totp(row, otp)
            second_factor_ok = step is not None
        elif row is not None and require_admin_totp and "admin" in row.roles:
            second_factor_ok = False  # admins must enrol a second factor outside the demo
        ok = (
            row is not None and password_ok and second_factor_ok and not locked and not row.disabled
        )
        stranger = Principal(username or "?", None, None, (), frozenset(), "none", source=source)
        if not ok:
            if row is not None:
                failures = row.failed_attempts + 1
                values: dict[str, Any] = {"failed_attempts": failures}
                if failures >= LOCK_AFTER_FAILURES:
                    values["locked_until"] = now + dt.timedelta(minutes=LOCK_MINUTES)
                    values["failed_attempts"] = 0
                connection.execute(update(table).where(table.c.id == row.id).values(**values))
            audit.record(
                connection,
                stranger,
                "auth.signin",
                "user",
                username[:100] if row is not None else None,
                outcome="failed",
                organisation=row.slug if row is not None else None,
                details={"locked": bool(locked)},
            )
            # Committed on purpose: the failure count must survive the refusal.
        else:
            assert row is not None
            values = {"failed_attempts": 0, "locked_until": None}
            if step is not None:
                values["totp_last_step"] = step
            connection.execute(update(table).where(table.c.id == row.id).values(**values))
            principal = principal_for(connection, row, row.slug, source)
            audit.record(connection, principal, "auth.signin", "user", username)
            return principal
    raise AuthenticationError("wrong username, password or code")


@dataclass(frozen=True)
class IssuedToken:
    secret: str
    token_id: uuid.UUID
    expires_at: dt.datetime


def issue_token(
    engine: Engine,
    principal: Principal,
    kind: str = "api",
    scopes: Sequence[str] = ("*",),
    days: int | None = None,
    label: str = "",
) -> IssuedToken:
    if principal.user_id is None:
        raise PermissionDeniedError("only a signed-in user holds tokens")
    if kind not in ("api", "session"):
        raise AccountError("a token is an api token or a session")
    unknown = sorted(set(scopes) - all_permissions() - {"*"})
    if unknown:
        raise AccountError("unknown scope(s): " + ", ".join(unknown))
    if kind == "session":
        lifetime = dt.timedelta(hours=SESSION_HOURS)
    else:
        lifetime = dt.timedelta(
            days=min(max(days or API_TOKEN_DAYS_DEFAULT, 1), API_TOKEN_DAYS_MAX)
        )
    secret = secrets.token_urlsafe(32)
    token_id = m.new_id()
    expires = _now() + lifetime
    with engine.begin() as connection:
        connection.execute(
            table_of(m.AccessToken)
            .insert()
            .values(
                id=token_id,
                user_id=principal.user_id,
                kind=kind,
                token_hash=_token_hash(secret),
                scopes=list(scopes),
                label=label[:200],
                created_at=_now(),
                expires_at=expires,
            )
        )
        if kind == "api":
            audit.record(
                connection,
                principal,
                "token.issue",
                "token",
                token_id,
                details={"scopes": list(scopes)},
            )
    return IssuedToken(secret, token_id, expires)


# A request must not cost a database round trip to learn who is calling: a resolved token
# is remembered for a second. Revoking, disabling or changing an account through this module
# forgets them at once in this process; other processes (uvicorn workers) notice within the
# second, as they do a change made behind the application's back.
PRINCIPAL_CACHE_SECONDS = 1.0
PRINCIPAL_CACHE_SIZE = 10_000
_resolved: weakref.WeakKeyDictionary[
    Engine, dict[tuple[str, str], tuple[float, dt.datetime, Principal]]
] = weakref.WeakKeyDictionary()
_resolved_lock = threading.Lock()


def forget_resolved_tokens() -> None:
    with _resolved_lock:
        _resolved.clear()


def _remembered(engine: Engine, key: tuple[str, str]) -> Principal | None:
    with _resolved_lock:
        entry = _resolved.get(engine, {}).get(key)
    if entry is None:
        return None
    remembered_at, expires_at, principal = entry
    if time.monotonic() - remembered_at >= PRINCIPAL_CACHE_SECONDS or expires_at <= _now():
        return None
    return principal


def _remember(
    engine: Engine, key: tuple[str, str], expires_at: dt.datetime, principal: Principal
) -> None:
    with _resolved_lock:
        entries = _resolved.setdefault(engine, {})
        if len(entries) >= PRINCIPAL_CACHE_SIZE:
            entries.clear()
        entries[key] = (time.monotonic(), expires_at, principal)


def remembered_principal(engine: Engine, secret: str, kind: str, source: str) -> Principal | None:
    """The principal of a token resolved within the last second, without the database."""
    if not secret or len(secret) > 200:
        return None
    remembered = _remembered(engine, (_token_hash(secret), kind))
    return None if remembered is None else replace(remembered, source=source)


def resolve_token(engine: Engine, secret: str, kind: str, source: str) -> Principal:
    """The principal a live token stands for; ``AuthenticationError`` otherwise."""
    if not secret or len(secret) > 200:
        raise AuthenticationError("invalid token")
    remembered = remembered_principal(engine, secret, kind, source)
    if remembered is not None:
        return remembered
    key = (_token_hash(secret), kind)
    token = table_of(m.AccessToken)
    user = table_of(m.UserAccount)
    org = table_of(m.Organisation)
    with reading(engine) as connection:
        row = connection.execute(
            select(
                token.c.id.label("token_id"),
                token.c.scopes,
                token.c.expires_at,
                token.c.revoked_at,
                user,
                org.c.slug,
            )
            .join(user, user.c.id == token.c.user_id)
            .join(org, org.c.id == user.c.organisation_id)
            .where(token.c.token_hash == key[0], token.c.kind == kind)
        ).first()
        expires_at = _aware(row.expires_at) if row is not None else None
        if (
            row is None
            or expires_at is None
            or row.revoked_at is not None
            or expires_at <= _now()
            or row.disabled
        ):
            raise AuthenticationError("invalid token")
        principal = principal_for(
            connection,
            row,
            row.slug,
            source,
            token_scopes=None if kind == "session" else list(row.scopes),
            token_id=row.token_id,
        )
    _remember(engine, key, expires_at, principal)
    return principal


def revoke_token(engine: Engine, principal: Principal, token_id: uuid.UUID) -> None:
    table = table_of(m.AccessToken)
    with engine.begin() as connection:
        row = connection.execute(select(table).where(table.c.id == token_id)).first()
        if row is None or (row.user_id != principal.user_id and not principal.operator):
            raise NotFoundError("no such token")
        connection.execute(update(table).where(table.c.id == token_id).values(revoked_at=_now()))
        if row.kind == "api":
            audit.record(connection, principal, "token.revoke", "token", token_id)
        else:
            audit.record(connection, principal, "auth.signout", "user", principal.username)
    forget_resolved_tokens()


def _revoke_all(connection: Connection, user_id: uuid.UUID) -> None:
    table = table_of(m.AccessToken)
    connection.execute(
        update(table)
        .where(table.c.user_id == user_id, table.c.revoked_at.is_(None))
        .values(revoked_at=_now())
    )


def list_tokens(engine: Engine, principal: Principal) -> list[dict[str, Any]]:
    table = table_of(m.AccessToken)
    with engine.connect() as connection:
        return [
            {
                "id": str(row.id),
                "label": row.label,
                "scopes": list(row.scopes),
                "created_at": row.created_at,
                "expires_at": row.expires_at,
                "revoked": row.revoked_at is not None,
            }
            for row in connection.execute(
                select(table).where(table.c.user_id == principal.user_id, table.c.kind == "api")
            )
        ]
