"""Screenings, national referral mechanisms and tasks over the REST API.

A refused step (no consent, a role that may not take it, a missing field, a minimum period
not yet over) is a 422 problem naming the reason; nothing is written.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from tiphub.cases import screenings, tasks, workflows
from tiphub.cases.access import Principal
from tiphub.screening.instruments import instrument, instruments
from tiphub.screening.workflow import TransitionRefused
from tiphub.web.problems import ProblemError
from tiphub.web.security import engine_of, requires

router = APIRouter(tags=["screening"])
FieldValue = Annotated[str, Field(max_length=10_000)]


class ScreeningCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instrument: Annotated[str, Field(min_length=1, max_length=60)]
    answers: dict[Annotated[str, Field(max_length=200)], Any]
    person_external_id: Annotated[str, Field(min_length=1, max_length=200)]
    channel: str = "in_person"
    language: Annotated[str, Field(max_length=10)] = "en"


class MechanismReferralCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mechanism: Annotated[str, Field(min_length=1, max_length=60)]
    person_external_id: Annotated[str, Field(min_length=1, max_length=200)]
    fields: dict[Annotated[str, Field(max_length=60)], FieldValue] = {}


class StepCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transition: Annotated[str, Field(min_length=1, max_length=60)]
    fields: dict[Annotated[str, Field(max_length=60)], FieldValue] = {}


@router.get("/instruments")
def list_instruments(
    principal: Annotated[Principal, Depends(requires("case:read"))],
    language: Annotated[str, Query(max_length=10)] = "en",
) -> list[dict[str, Any]]:
    return [item.to_dict(language=language) for item in instruments()]


@router.get("/instruments/{instrument_id}")
def read_instrument(
    instrument_id: str,
    principal: Annotated[Principal, Depends(requires("case:read"))],
    language: Annotated[str, Query(max_length=10)] = "en",
) -> dict[str, Any]:
    try:
        return instrument(instrument_id).to_dict(language=language)
    except ValueError as error:
        raise ProblemError(404, str(error)) from None


@router.post("/cases/{case_id}/screenings", status_code=201)
def create_screening(
    case_id: uuid.UUID,
    body: ScreeningCreate,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("screening:create"))],
) -> dict[str, Any]:
    try:
        record = screenings.record_screening(
            engine_of(request),
            principal,
            body.instrument,
            body.answers,
            case_id=case_id,
            person_external_id=body.person_external_id,
            channel=body.channel,
            language=body.language,
        )
    except ValueError as error:
        raise ProblemError(422, str(error)) from None
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{record.id}"
    return record.to_dict()


@router.get("/cases/{case_id}/screenings")
def list_screenings(
    case_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
) -> list[dict[str, Any]]:
    found = screenings.screenings_of_case(engine_of(request), principal, case_id)
    return [record.to_dict() for record in found]


@router.post("/cases/{case_id}/mechanism-referrals", status_code=201)
def create_mechanism_referral(
    case_id: uuid.UUID,
    body: MechanismReferralCreate,
    request: Request,
    principal: Annotated[Principal, Depends(requires("workflow:refer"))],
) -> dict[str, Any]:
    try:
        item = workflows.refer_to_mechanism(
            engine_of(request),
            principal,
            case_id,
            body.mechanism,
            body.person_external_id,
            dict(body.fields),
            if_match=request.headers.get("if-match"),
        )
    except (TransitionRefused, ValueError) as refused:
        raise ProblemError(422, str(refused)) from None
    return item.to_dict()


@router.post("/cases/{case_id}/mechanism-referrals/{reference}/steps")
def take_mechanism_step(
    case_id: uuid.UUID,
    reference: Annotated[str, Path(max_length=60)],
    body: StepCreate,
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:update"))],
) -> dict[str, Any]:
    try:
        item = workflows.take_step(
            engine_of(request),
            principal,
            case_id,
            reference,
            body.transition,
            dict(body.fields),
            if_match=request.headers.get("if-match"),
        )
    except (TransitionRefused, ValueError) as refused:
        raise ProblemError(422, str(refused)) from None
    return item.to_dict()


@router.get("/identification")
def list_mechanism_referrals(
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
    mechanism: Annotated[str | None, Query(max_length=60)] = None,
    closed: bool = False,
) -> list[dict[str, Any]]:
    try:
        items = workflows.workflow_items(
            engine_of(request), principal, include_closed=closed, mechanism=mechanism
        )
    except ValueError as error:
        raise ProblemError(422, str(error)) from None
    return [item.to_dict() for item in items]


@router.get("/tasks")
def list_tasks(
    request: Request, principal: Annotated[Principal, Depends(requires("case:read"))]
) -> list[dict[str, Any]]:
    return [task.to_dict() for task in tasks.tasks(engine_of(request), principal)]
