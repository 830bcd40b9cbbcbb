"""The hub's FastAPI application: REST API under /api/v1 and the server-rendered pages.

One router per resource (``tiphub.web.routers``); the acting principal is declared once per
route through ``tiphub.web.security``; the database is reached only through ``tiphub.cases``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
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


def create_app(engine: Engine, settings: HubSettings | None = None) -> FastAPI:
    from tiphub.files import run_temp_dir
    from tiphub.store.db import ensure_schema

    # Uploads spooled by Starlette land in the process's private temp folder, not /tmp.
    run_temp_dir()
    ensure_schema(engine)
    settings = settings or HubSettings()
    app = FastAPI(
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

    @app.middleware("http")
    async def protect(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        limit = settings.max_upload_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            return problem_response(413, f"the request is larger than {limit // (1024 * 1024)} MiB")
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            # Survivors' data must not linger in a shared computer's browser cache.
            response.headers["Cache-Control"] = "no-store"
        return response

    _install_error_handlers(app)
    _include_routers(app)
    static = resources.files("tiphub.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


def _include_routers(app: FastAPI) -> None:
    from tiphub.web.routers import ROUTERS

    for router, prefix in ROUTERS:
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
        return respond(request, exc.status_code, status_detail(exc))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # No traceback and no exception text: either could carry a survivor's data.
        return respond(request, 500, "something went wrong on the server; nothing was changed")
