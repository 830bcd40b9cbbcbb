"""Rendering pages: the locale, the signed-in user, the CSRF token and the navigation."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from tiphub.cases import accounts
from tiphub.cases.access import Principal
from tiphub.web.i18n import gettext, negotiate
from tiphub.web.security import SESSION_COOKIE
from tiphub.web.templating import render

LOCALE_COOKIE = "tiphub_locale"

# (path, label, permission needed to see the link)
NAVIGATION = (
    ("/cases", "Cases", "case:read"),
    ("/referrals", "Referrals", "case:read"),
    ("/identification", "Identification", "case:read"),
    ("/services", "Services", "case:read"),
    ("/helpline", "Helpline", "helpline:record"),
    ("/imports", "Import", "import:run"),
    ("/review", "Linkage review", "linkage:review"),
    ("/online", "Online", "online:read"),
    ("/statistics", "Statistics", "statistics:read"),
    ("/audit", "Audit", "audit:read"),
    ("/admin/users", "Users", "user:manage"),
)


def request_locale(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"), request.cookies.get(LOCALE_COOKIE))


def csrf_token(request: Request) -> str:
    session = request.cookies.get(SESSION_COOKIE)
    return accounts.csrf_token_for(session) if session else ""


def page_context(request: Request, title: str, principal: Principal | None) -> dict[str, Any]:
    locale = request_locale(request)
    settings = request.app.state.settings
    nav = [
        {
            "href": path,
            "label": gettext(locale, label),
            "current": request.url.path.startswith(path),
        }
        for path, label, permission in NAVIGATION
        if principal is not None and principal.can(permission)
    ]
    return {
        "title": title,
        "user": principal,
        "demo": settings.demo,
        "csrf_token": csrf_token(request) if principal is not None else "",
        "nav": nav,
        "current_path": request.url.path,
        "neutral_exit_url": settings.neutral_url,
        "quick_exit_url": settings.neutral_url,
        "messages": [],
    }


def render_page(
    request: Request,
    template: str,
    title: str,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    locale = request_locale(request)
    base = page_context(request, gettext(locale, title), principal)
    base.update(context)
    return HTMLResponse(render(locale, template, **base), status_code=status_code)


def render_error(request: Request, status: int, detail: str) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    return render_page(
        request,
        "error.html",
        "Something is wrong",
        principal,
        status_code=status,
        status=status,
        detail=detail,
    )
