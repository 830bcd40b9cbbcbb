"""Data releases over the REST API: build one from the de-identified view, approve it,
publish it.

An analyst builds a release of their organisation's cases; a supervisor who did not build
it approves it and publishes it on the public data page, after which it never changes.
A refusal (the privacy budget would be overspent, a parameter is out of range, too little
data to release anything) is a 422 problem naming the reason; nothing is stored. Approving
or publishing a release in the wrong state is a 409 conflict.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from tiphub.cases import audit
from tiphub.cases.access import Principal
from tiphub.release.api import METHODS, ReleaseRequest
from tiphub.release.publishing import (
    BudgetExhaustedError,
    ReleaseInfo,
    approve_release,
    budget_of,
    build_hub_release,
    get_release,
    hub_dataset,
    list_releases,
    publish_release,
)
from tiphub.web.problems import ProblemError
from tiphub.web.security import engine_of, requires

router = APIRouter(tags=["releases"])

# Combinations of more than four values multiply the work of measuring a release (27
# columns: 2,925 combinations of three per row, 80,730 of five); the web waits for the answer.
MAX_COMBINATION = 4
MAX_TITLE_CHARS = 300
# The command line's option names in the domain's messages mean nothing to a web user.
_CLI_HINT = re.compile(r"\s*\((?:--[a-z-]+|see: tiphub [a-z ]+)\)")
_CLI_METHOD = re.compile(r"--method ([a-z-]+)")
Method = Literal["k-anon", "dp", "aggregates"]
assert set(Method.__args__) == set(METHODS)  # type: ignore[attr-defined]


def plain_reason(error: Exception) -> str:
    """A refusal's reason without the command line's option names."""
    reason = _CLI_METHOD.sub(r"the \1 method", _CLI_HINT.sub("", str(error)))
    return reason.strip() or "the release was refused"


class ReleaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS)]
    method: Method
    k: Annotated[int, Field(ge=2, le=1_000_000)] = 11
    max_combination: Annotated[int, Field(ge=1, le=MAX_COMBINATION)] = 3
    epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    delta: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0


def release_out(info: ReleaseInfo, detail: bool = False) -> dict[str, Any]:
    out = info.to_dict()
    out["k"] = info.parameters.get("k")
    out["max_combination"] = info.parameters.get("max_combination")
    out["epsilon"] = info.parameters.get("epsilon")
    out["delta"] = info.parameters.get("delta")
    out["public_url"] = f"/data/{info.id}" if info.status == "published" else None
    if detail:
        out["summary"] = info.summary
        out["files"] = list(info.parameters.get("files") or [])
    return out


def build(engine: Engine, principal: Principal, wanted: ReleaseRequest) -> ReleaseInfo:
    """Build a release of the principal's organisation. A refusal (the budget, a parameter,
    too little data) is raised as the domain's ValueError, after an audit entry says that
    someone tried: asking for more than the budget holds is worth knowing about."""
    try:
        return build_hub_release(engine, principal, wanted)
    except ValueError as refused:
        audit.record_now(
            engine,
            principal,
            "release.build",
            resource_type="data_release",
            outcome="refused",
            details={
                "method": wanted.method if wanted.method in METHODS else "other",
                "budget_exhausted": isinstance(refused, BudgetExhaustedError),
            },
        )
        raise


@router.get("/releases")
def releases(
    request: Request,
    principal: Annotated[Principal, Depends(requires("release:build", "release:approve"))],
) -> dict[str, Any]:
    engine = engine_of(request)
    found = list_releases(engine, principal)
    budget = budget_of(engine, hub_dataset(principal))
    return {
        "releases": [release_out(info) for info in found],
        "budget": budget.to_dict() if budget is not None else None,
    }


@router.post("/releases", status_code=201)
def create_release(
    body: ReleaseCreate,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("release:build"))],
) -> dict[str, Any]:
    wanted = ReleaseRequest(
        method=body.method,
        k=body.k,
        max_length=body.max_combination,
        epsilon=body.epsilon,
        delta=body.delta,
        seed=body.seed,
        title=body.title.strip() or "tiphub data release",
    )
    try:
        info = build(engine_of(request), principal, wanted)
    except ValueError as refused:
        raise ProblemError(422, plain_reason(refused)) from None
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{info.id}"
    return release_out(info, detail=True)


@router.get("/releases/{release_id}")
def read_release(
    release_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(requires("release:build", "release:approve"))],
) -> dict[str, Any]:
    return release_out(get_release(engine_of(request), principal, release_id), detail=True)


@router.post("/releases/{release_id}/approve")
def approve(
    release_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(requires("release:approve"))],
) -> dict[str, Any]:
    return release_out(approve_release(engine_of(request), principal, release_id), detail=True)


@router.post("/releases/{release_id}/publish")
def publish(
    release_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(requires("release:approve"))],
) -> dict[str, Any]:
    return release_out(publish_release(engine_of(request), principal, release_id), detail=True)
