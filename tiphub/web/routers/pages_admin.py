"""Administration: the organisation's users and its retention rules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tiphub.cases import accounts, retention
from tiphub.cases.access import Principal, built_in_roles
from tiphub.web.pages import render_page
from tiphub.web.security import engine_of, requires

router = APIRouter()
TEMPLATE = "pages/admin_users.html"
TITLE = "Users"


def _page(
    request: Request, principal: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    engine = engine_of(request)
    rule = (
        retention.get_retention(engine, principal)
        if principal.can("retention:manage") and principal.organisation
        else None
    )
    return render_page(
        request,
        TEMPLATE,
        TITLE,
        principal,
        status_code=status_code,
        users=accounts.list_users(engine, principal),
        roles=sorted(built_in_roles()),
        rule=rule,
        **context,
    )


def _done(message: str) -> Response:
    return RedirectResponse(f"/admin/users?done={message}", status_code=303)


DONE_MESSAGES = {
    "added": "The user was added.",
    "disabled": "The user was disabled and signed out everywhere.",
    "enabled": "The user was enabled.",
    "reset": "The password was changed and the user signed out everywhere.",
    "retention": "The retention rules were saved.",
}


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    principal: Annotated[Principal, Depends(requires("user:manage"))],
    done: str = "",
) -> HTMLResponse:
    return _page(request, principal, done=DONE_MESSAGES.get(done))


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    principal: Annotated[Principal, Depends(requires("user:manage"))],
    username: Annotated[str, Form(max_length=200)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    team: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        accounts.add_user(
            engine_of(request),
            principal,
            username,
            principal.organisation or "",
            roles or [],
            password,
            team=team.strip() or None,
        )
    except accounts.PasswordRejectedError as error:
        return _page(
            request,
            principal,
            422,
            add_errors={"password": str(error)},
            add_values={"username": username, "roles": roles or [], "team": team},
        )
    except accounts.AccountError as error:
        return _page(
            request,
            principal,
            422,
            add_errors={"username": str(error)},
            add_values={"username": username, "roles": roles or [], "team": team},
        )
    return _done("added")


@router.post("/admin/users/{username}/disable")
def disable_user(
    request: Request,
    username: str,
    principal: Annotated[Principal, Depends(requires("user:manage"))],
) -> Response:
    accounts.set_disabled(engine_of(request), principal, username, True)
    return _done("disabled")


@router.post("/admin/users/{username}/enable")
def enable_user(
    request: Request,
    username: str,
    principal: Annotated[Principal, Depends(requires("user:manage"))],
) -> Response:
    accounts.set_disabled(engine_of(request), principal, username, False)
    return _done("enabled")


@router.post("/admin/users/{username}/reset-password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    username: str,
    principal: Annotated[Principal, Depends(requires("user:manage"))],
    password: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        accounts.reset_password(engine_of(request), principal, username, password)
    except accounts.PasswordRejectedError as error:
        return _page(request, principal, 422, reset_errors={username: str(error)})
    return _done("reset")


def _number(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 6:
        raise retention.RetentionError("give a whole number, or leave the field empty")
    return int(text)


@router.post("/admin/retention", response_class=HTMLResponse)
def set_retention(
    request: Request,
    principal: Annotated[Principal, Depends(requires("retention:manage"))],
    archive_closed_after_days: Annotated[str, Form(max_length=10)] = "",
    delete_archived_after_years: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        retention.set_retention(
            engine_of(request),
            principal,
            _number(archive_closed_after_days),
            _number(delete_archived_after_years),
        )
    except retention.RetentionError as error:
        if principal.can("user:manage"):
            return _page(request, principal, 422, retention_error=str(error))
        return render_page(
            request, "message.html", "Retention rules", principal, status_code=422, text=str(error)
        )
    return _done("retention")
