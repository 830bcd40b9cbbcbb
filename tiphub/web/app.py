"""The hub's FastAPI application: REST API under /api/v1 and the server-rendered pages.

One router per resource (``tiphub.web.routers``); the acting principal is declared once per
route through ``tiphub.web.security``; the database is reached only through ``tiphub.cases``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from tiphub.cases.access import ConflictError, NotFoundError, PermissionDeniedError
from tiphub.store.crypto import KeyProblem
from tiphub.web.problems import (
    ProblemError,
    is_api,
    problem_response,
    status_detail,
    validation_errors,
)
from tiphub.web.security import NotSignedInError, SignInLimiter
from tiphub.web.settings import HubSettings

API_PREFIX = "/api/v1"
# Requests served at once per process; below the store's pool of database connections (20).
HUB_THREADS = 16
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class RequestTooLargeError(HTTPException):
    """A request body (sent without a Content-Length, or lying about it) passed the limit.

    An HTTPException, because FastAPI turns any other error met while reading a body into
    "error parsing the body" (400).
    """

    def __init__(self) -> None:
        super().__init__(status_code=413)


class Guard:
    """Pure ASGI (no task group around the app, so errors keep their type): security
    headers on every response, ``no-store`` on all but static files, and the body limit,
    counted on the bytes that really arrive since a Content-Length can be left out."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _too_large(Request(scope), self.limit)(scope, receive, send)
            return
        received = 0
        cacheable = scope["path"].startswith("/static/")

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise RequestTooLargeError()
            return message

        async def secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.lower().encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()
                    if name.lower().encode() not in present
                ]
                if not cacheable:
                    # Survivors' data must not linger in a shared computer's browser cache.
                    extra.append((b"cache-control", b"no-store"))
                    message["headers"] = [
                        (name, value)
                        for name, value in message.get("headers", [])
                        if name.lower() != b"cache-control"
                    ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, counted, secured)


def create_app(engine: Engine, settings: HubSettings | None = None) -> FastAPI:
    from tiphub.files import run_temp_dir
    from tiphub.store.db import ensure_schema

    # Uploads spooled by Starlette land in the process's private temp folder, not /tmp.
    run_temp_dir()
    ensure_schema(engine)
    settings = settings or HubSettings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Fewer threads than the database pool's connections: a request never waits for a
        # connection, and the GIL is not shared by forty threads.
        anyio.to_thread.current_default_thread_limiter().total_tokens = HUB_THREADS
        # What start-up allocated (modules, code lists, templates) lives as long as the
        # process: out of the collector's sight, a full collection under load takes a few
        # milliseconds instead of tens.
        gc.collect()
        gc.freeze()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="tiphub",
        version="1",
        description="A counter-trafficking data hub on the HTCDS standard.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.sign_in_limiter = SignInLimiter(settings.sign_in_attempts_per_minute)

    app.add_middleware(Guard, limit=settings.max_upload_bytes)
    _install_error_handlers(app)

    _include_routers(app)
    static = resources.files("tiphub.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


def _too_large(request: Request, limit: int) -> Response:
    size = f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
    detail = f"the request is larger than {size}"
    if is_api(request):
        return problem_response(413, detail, instance=request.url.path)
    return _page_error(request, 413, detail)


def _include_routers(app: FastAPI) -> None:
    from tiphub.web.routers import ROUTERS, api_releases, pages_releases

    releases = [(api_releases.router, API_PREFIX), (pages_releases.router, "")]
    for router, prefix in [*ROUTERS, *releases]:
        app.include_router(router, prefix=prefix)


def _page_error(request: Request, status: int, detail: str) -> Response:
    from tiphub.web.pages import render_error

    return render_error(request, status, detail)


def _install_error_handlers(app: FastAPI) -> None:
    def respond(request: Request, status: int, detail: str, **extra: Any) -> Response:
        if is_api(request):
            return problem_response(status, detail, instance=request.url.path, **extra)
        return _page_error(request, status, detail)

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> Response:
        return respond(request, exc.status, exc.detail, errors=exc.errors, headers=exc.headers)

    @app.exception_handler(NotSignedInError)
    async def on_not_signed_in(request: Request, exc: NotSignedInError) -> Response:
        if is_api(request):
            return problem_response(
                401, "sign in or send a bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):
            return HTMLResponse("", headers={"HX-Redirect": "/signin"})
        return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)

    @app.exception_handler(NotFoundError)
    async def on_not_found(request: Request, exc: NotFoundError) -> Response:
        return respond(request, 404, "no such record, or not one you can see")

    @app.exception_handler(PermissionDeniedError)
    async def on_denied(request: Request, exc: PermissionDeniedError) -> Response:
        return respond(request, 403, str(exc))

    @app.exception_handler(ConflictError)
    async def on_conflict(request: Request, exc: ConflictError) -> Response:
        return respond(request, 412 if "changed since" in str(exc) else 409, str(exc))

    @app.exception_handler(KeyProblem)
    async def on_key_problem(request: Request, exc: KeyProblem) -> Response:
        return respond(
            request, 503, "the hub cannot open its encryption keys; tell your administrator"
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        return respond(request, 422, "the request is not valid", errors=validation_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc, RequestTooLargeError):
            return _too_large(request, request.app.state.settings.max_upload_bytes)
        return respond(request, exc.status_code, status_detail(exc))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # No traceback and no exception text: either could carry a survivor's data.
        return respond(request, 500, "something went wrong on the server; nothing was changed")
