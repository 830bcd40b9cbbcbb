"""Sign-in for API clients and management of one's own API tokens."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tiphub.cases import accounts
from tiphub.cases.access import Principal
from tiphub.web.problems import ProblemError
from tiphub.web.security import client_source, engine_of, public, signed_in

router = APIRouter(tags=["auth"])
SIGN_IN_TOKEN_DAYS = 1


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Annotated[str, Field(max_length=200)]
    password: Annotated[str, Field(max_length=accounts.MAX_PASSWORD_LENGTH)]
    otp: Annotated[str | None, Field(max_length=12)] = None


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Annotated[str, Field(max_length=200)] = ""
    scopes: Annotated[list[str], Field(min_length=1, max_length=50)] = ["*"]
    days: Annotated[int, Field(ge=1, le=accounts.API_TOKEN_DAYS_MAX)] = (
        accounts.API_TOKEN_DAYS_DEFAULT
    )


class TokenInfo(BaseModel):
    id: str
    label: str
    scopes: list[str]
    expires_at: str
    revoked: bool


def sign_in(request: Request, username: str, password: str, otp: str | None) -> Principal:
    """Shared by the API and the sign-in page: rate limit, then one vague failure."""
    source = client_source(request)
    if not request.app.state.sign_in_limiter.allow(source):
        raise ProblemError(
            429, "too many sign-in attempts; wait a minute", headers={"Retry-After": "60"}
        )
    try:
        return accounts.authenticate(
            engine_of(request),
            username,
            password,
            otp,
            source,
            require_admin_totp=not request.app.state.settings.demo,
        )
    except accounts.AuthenticationError:
        raise ProblemError(
            401, "the sign-in was refused", headers={"WWW-Authenticate": "Bearer"}
        ) from None


@router.post("/auth/token", responses={401: {"description": "Refused"}})
def issue_access_token(
    credentials: Credentials, request: Request, _: Annotated[None, Depends(public())]
) -> TokenAnswer:
    principal = sign_in(request, credentials.username, credentials.password, credentials.otp)
    issued = accounts.issue_token(
        engine_of(request),
        principal,
        kind="api",
        scopes=["*"],
        days=SIGN_IN_TOKEN_DAYS,
        label="sign-in",
    )
    return TokenAnswer(access_token=issued.secret, expires_in=SIGN_IN_TOKEN_DAYS * 24 * 3600)


@router.get("/auth/tokens")
def my_tokens(
    request: Request, principal: Annotated[Principal, Depends(signed_in())]
) -> list[TokenInfo]:
    return [
        TokenInfo(
            id=item["id"],
            label=item["label"],
            scopes=item["scopes"],
            expires_at=item["expires_at"].isoformat(),
            revoked=item["revoked"],
        )
        for item in accounts.list_tokens(engine_of(request), principal)
    ]


@router.post("/auth/tokens", status_code=201)
def create_token(
    body: TokenRequest, request: Request, principal: Annotated[Principal, Depends(signed_in())]
) -> TokenAnswer:
    try:
        issued = accounts.issue_token(
            engine_of(request), principal, "api", body.scopes, body.days, body.label
        )
    except accounts.AccountError as error:
        raise ProblemError(422, str(error)) from None
    return TokenAnswer(access_token=issued.secret, expires_in=body.days * 24 * 3600)


@router.delete("/auth/tokens/{token_id}", status_code=204)
def revoke_token(
    token_id: uuid.UUID, request: Request, principal: Annotated[Principal, Depends(signed_in())]
) -> Response:
    accounts.revoke_token(engine_of(request), principal, token_id)
    return Response(status_code=204)
