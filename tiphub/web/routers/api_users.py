"""Accounts of the caller's own organisation, for its administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from tiphub.cases import accounts
from tiphub.cases.access import PermissionDeniedError, Principal
from tiphub.web.problems import ProblemError
from tiphub.web.schemas import UserCreate, UserList, UserOut
from tiphub.web.security import engine_of, requires

router = APIRouter(tags=["users"])
USERNAME_PATH_MAX = 200


def _user_out(user: accounts.UserInfo) -> UserOut:
    return UserOut(**{**vars(user), "roles": list(user.roles)})


def _one(request: Request, principal: Principal, username: str) -> UserOut:
    for user in accounts.list_users(engine_of(request), principal):
        if user.username == username:
            return _user_out(user)
    raise ProblemError(404, "no such record, or not one you can see")


@router.get("/users")
def list_users(
    request: Request, principal: Annotated[Principal, Depends(requires("user:manage"))]
) -> UserList:
    return UserList(
        items=[_user_out(user) for user in accounts.list_users(engine_of(request), principal)]
    )


@router.post("/users", status_code=201)
def add_user(
    body: UserCreate,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("user:manage"))],
) -> UserOut:
    if principal.organisation is None:
        raise ProblemError(403, "the operator adds users with the command line")
    try:
        accounts.add_user(
            engine_of(request),
            principal,
            body.username,
            principal.organisation,
            body.roles,
            body.password,
            team=body.team,
            display_name=body.display_name,
        )
    except (accounts.AccountError, accounts.PasswordRejectedError) as error:
        raise ProblemError(422, str(error)) from None
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{body.username.strip()}"
    return _one(request, principal, body.username.strip())


def _set_disabled(request: Request, principal: Principal, username: str, disabled: bool) -> UserOut:
    if len(username) > USERNAME_PATH_MAX:
        raise ProblemError(404, "no such record, or not one you can see")
    try:
        accounts.set_disabled(engine_of(request), principal, username, disabled)
    except PermissionDeniedError:
        # Another organisation's account is as invisible as a missing one.
        raise ProblemError(404, "no such record, or not one you can see") from None
    return _one(request, principal, username)


@router.post("/users/{username}/disable")
def disable_user(
    username: str,
    request: Request,
    principal: Annotated[Principal, Depends(requires("user:manage"))],
) -> UserOut:
    if username == principal.username:
        raise ProblemError(409, "you cannot disable your own account")
    return _set_disabled(request, principal, username, True)


@router.post("/users/{username}/enable")
def enable_user(
    username: str,
    request: Request,
    principal: Annotated[Principal, Depends(requires("user:manage"))],
) -> UserOut:
    return _set_disabled(request, principal, username, False)
