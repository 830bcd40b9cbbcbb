"""Signing in and out of the web pages, the quick exit, the language choice and the start page.

The session lives in an HttpOnly, SameSite=Strict cookie without Max-Age, so that closing the
browser of a shared computer ends it; the server also expires it after 8 hours. Sign-in
itself is protected against login CSRF by a double-submit token in a short-lived cookie.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from tiphub.cases import accounts
from tiphub.cases.access import Principal
from tiphub.web.forms import N_
from tiphub.web.i18n import available_locales, gettext
from tiphub.web.pages import LOCALE_COOKIE, render_page, request_locale
from tiphub.web.problems import ProblemError
from tiphub.web.routers.api_auth import sign_in
from tiphub.web.security import (
    SESSION_COOKIE,
    NotSignedInError,
    SubmittedForm,
    current_principal,
    engine_of,
    public,
    signed_in,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

SIGNIN_COOKIE = "tiphub_signin"
SIGNIN_COOKIE_SECONDS = 30 * 60
LOCALE_COOKIE_SECONDS = 365 * 24 * 3600
MAX_USERNAME_CHARS = 200
MAX_OTP_CHARS = 12
# Where each kind of user starts, first match wins.
START_PAGES = (
    ("case:read", "/cases"),
    ("audit:read", "/audit"),
    ("user:manage", "/admin/users"),
    ("statistics:read", "/statistics"),
)
FORM_EXPIRED = N_("The sign-in form has expired. Please try again.")
TOO_MANY_ATTEMPTS = N_("Too many sign-in attempts. Wait a minute, then try again.")


def safe_next(value: object, default: str = "/") -> str:
    """A local path to go to after a form, never another site (open redirect)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(char) < 33 or ord(char) == 127 for char in value):
        return default
    return value


def _form_text(form: object, name: str, limit: int) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value[:limit] if isinstance(value, str) else ""


def _cookie_secure(request: Request) -> bool:
    return bool(request.app.state.settings.secure_cookies)


def _signin_page(
    request: Request,
    next_path: str,
    status_code: int = 200,
    username: str = "",
    failed: bool = False,
    message: str | None = None,
) -> Response:
    # A fresh double-submit token for every rendering of the form.
    token = secrets.token_urlsafe(24)
    locale = request_locale(request)
    response = render_page(
        request,
        "signin.html",
        N_("Sign in"),
        None,
        status_code=status_code,
        action="/signin",
        csrf_token=token,
        next=None if next_path == "/" else next_path,
        username=username,
        failed=failed,
        messages=[("error", gettext(locale, message))] if message else [],
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=SIGNIN_COOKIE_SECONDS,
        path="/signin",
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
    )
    return response


def _end_session(request: Request, principal: Principal, response: Response) -> None:
    if principal.token_id is not None:
        accounts.revoke_token(engine_of(request), principal, principal.token_id)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
    )


@router.get("/")
async def start_page(request: Request, _: Annotated[None, Depends(public())]) -> Response:
    try:
        principal = await current_principal(request)
    except NotSignedInError:
        return RedirectResponse("/signin", status_code=303)
    for permission, path in START_PAGES:
        if principal.can(permission):
            return RedirectResponse(path, status_code=303)
    return render_page(request, "pages/home.html", N_("Start"), principal)


@router.get("/signin")
def signin_form(
    request: Request, _: Annotated[None, Depends(public())], next: str = "/"
) -> Response:
    return _signin_page(request, safe_next(next))


@router.post("/signin")
def signin_submit(
    request: Request, _: Annotated[None, Depends(public())], form: SubmittedForm
) -> Response:
    next_path = safe_next(form.get("next"))
    username = _form_text(form, "username", MAX_USERNAME_CHARS + 1)
    password = _form_text(form, "password", accounts.MAX_PASSWORD_LENGTH + 1)
    otp = _form_text(form, "otp", MAX_OTP_CHARS + 1).strip() or None
    given = _form_text(form, "csrf_token", 100)
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not given or not expected or not hmac.compare_digest(given, expected):
        return _signin_page(
            request, next_path, 403, username[:MAX_USERNAME_CHARS], False, FORM_EXPIRED
        )
    too_long = (
        len(username) > MAX_USERNAME_CHARS
        or len(password) > accounts.MAX_PASSWORD_LENGTH
        or (otp is not None and len(otp) > MAX_OTP_CHARS)
    )
    try:
        if too_long:
            # Still counts against the rate limit; the answer is the same vague refusal.
            sign_in(request, "", "", None)
        principal = sign_in(request, username, password, otp)
    except ProblemError as problem:
        if problem.status == 429:
            return _signin_page(
                request, next_path, 429, username[:MAX_USERNAME_CHARS], False, TOO_MANY_ATTEMPTS
            )
        if problem.status == 401:
            return _signin_page(request, next_path, 401, username[:MAX_USERNAME_CHARS], True)
        raise
    issued = accounts.issue_token(engine_of(request), principal, kind="session")
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issued.secret,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/auth/logout")
def sign_out(request: Request, principal: Annotated[Principal, Depends(signed_in())]) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    _end_session(request, principal, response)
    return response


@router.post("/auth/quick-exit")
def quick_exit(request: Request, principal: Annotated[Principal, Depends(signed_in())]) -> Response:
    response = Response(status_code=204)
    _end_session(request, principal, response)
    return response


@router.post("/locale")
def choose_locale(
    request: Request, _: Annotated[None, Depends(public())], form: SubmittedForm
) -> Response:
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    chosen = form.get("locale")
    if isinstance(chosen, str) and chosen in available_locales():
        response.set_cookie(
            LOCALE_COOKIE,
            chosen,
            max_age=LOCALE_COOKIE_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=_cookie_secure(request),
        )
    return response
