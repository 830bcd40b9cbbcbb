"""Who is calling: a bearer API token or a browser session cookie with its CSRF token.

Every route declares its rule once, as a dependency: ``Depends(requires("case:read"))``,
``Depends(signed_in())`` or ``Depends(public())``. The authorisation matrix test reads these
rules from the route table, so a route without one fails the suite.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Collection
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tiphub.cases import accounts
from tiphub.cases.access import Principal
from tiphub.web.problems import ProblemError

SESSION_COOKIE = "tiphub_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def engine_of(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def client_source(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class NotSignedInError(Exception):
    """Raised for pages (redirect to sign-in) and APIs (401) alike."""


def _session_secret(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


async def _check_csrf(request: Request, session_secret: str) -> None:
    if request.method in SAFE_METHODS:
        return
    expected = accounts.csrf_token_for(session_secret)
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not given or not hmac.compare_digest(given, expected):
        raise ProblemError(403, "the form's security token is missing or wrong; reload the page")


async def _resolve(engine: Engine, secret: str, kind: str, source: str) -> Principal:
    remembered = accounts.remembered_principal(engine, secret, kind, source)
    if remembered is not None:
        return remembered
    return await run_in_threadpool(accounts.resolve_token, engine, secret, kind, source)


async def current_principal(request: Request) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    engine = engine_of(request)
    source = client_source(request)
    authorization = request.headers.get("authorization", "")
    try:
        if authorization:
            scheme, _, secret = authorization.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise ProblemError(
                    401,
                    "use an Authorization: Bearer token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            principal = await _resolve(engine, secret.strip(), "api", source)
        else:
            session = _session_secret(request)
            if not session:
                raise NotSignedInError()
            principal = await _resolve(engine, session, "session", source)
            await _check_csrf(request, session)
    except accounts.AuthenticationError:
        if authorization:
            raise ProblemError(
                401,
                "the token is invalid, expired or revoked",
                headers={"WWW-Authenticate": "Bearer"},
            ) from None
        raise NotSignedInError() from None
    request.state.principal = principal
    return principal


async def submitted_form(request: Request) -> FormData:
    """The request's form, read in the event loop, so that the route itself can be a plain
    function: FastAPI runs those in its thread pool, where blocking on the database, a
    password hash or the audit log's turn holds up no other request."""
    return await request.form()


SubmittedForm = Annotated[FormData, Depends(submitted_form)]


class Rule:
    """A route's access rule; ``permission`` None means any signed-in user. Any of
    ``alternatives`` grants the route too (a page both the builders and the approvers of a
    thing must read)."""

    def __init__(
        self, permission: str | None, public: bool = False, alternatives: tuple[str, ...] = ()
    ) -> None:
        self.permission = permission
        self.public = public
        self.alternatives = alternatives

    def allows(self, permissions: Collection[str]) -> bool:
        if self.permission is None:
            return True
        return any(p in permissions for p in (self.permission, *self.alternatives))

    def __repr__(self) -> str:
        if self.public:
            return "public"
        return f"requires({' | '.join((self.permission or 'signed-in', *self.alternatives))})"


def requires(permission: str, *alternatives: str) -> Callable[..., Any]:
    rule = Rule(permission, alternatives=alternatives)

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not any(principal.can(p) for p in (permission, *alternatives)):
            raise ProblemError(403, f"your role does not allow {permission}")
        return principal

    dependency.rule = rule  # type: ignore[attr-defined]
    return dependency


def signed_in() -> Callable[..., Any]:
    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        return principal

    dependency.rule = Rule(None)  # type: ignore[attr-defined]
    return dependency


def public() -> Callable[..., Any]:
    async def dependency() -> None:
        return None

    dependency.rule = Rule(None, public=True)  # type: ignore[attr-defined]
    return dependency


def route_rule(route: Any) -> Rule | None:
    """The rule a route declared, found among its dependencies (None if it declared none)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    for dependency in dependant.dependencies:
        rule = getattr(dependency.call, "rule", None)
        if isinstance(rule, Rule):
            return rule
    return None


class SignInLimiter:
    """At most N sign-in attempts per source address per minute (accounts lock on their own)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.attempts: dict[str, deque[float]] = defaultdict(deque)
        # Sign-ins run in the thread pool: counting and admitting must be one step.
        self._lock = threading.Lock()

    def allow(self, source: str) -> bool:
        now = time.monotonic()
        with self._lock:
            window = self.attempts[source]
            while window and now - window[0] > 60:
                window.popleft()
            if len(window) >= self.per_minute:
                return False
            window.append(now)
            return True
