"""Cases: list, read, create, change (with If-Match) and append one item to a section.

Scope and identity filtering live in ``CaseStore``; a case outside the caller's scope is
404 whether or not it exists. A change needs the ETag the caller read, so two people editing
the same case never silently overwrite each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from tiphub.cases.access import PermissionDeniedError, Principal
from tiphub.cases.api import CaseExistsError, CaseStore, CaseView
from tiphub.cases.schema import (
    CaseRecord,
    ConsentRecord,
    IdentificationDecision,
    Note,
    Participant,
    TraffickingEvent,
)
from tiphub.web.problems import ProblemError
from tiphub.web.schemas import (
    CaseCreate,
    CaseItem,
    CaseList,
    CaseOut,
    CasePatch,
    CaseSearch,
    VersionOut,
    invalid_input,
)
from tiphub.web.security import engine_of, requires

router = APIRouter(tags=["cases"])
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=200)]


def _store(request: Request, principal: Principal) -> CaseStore:
    return CaseStore(engine_of(request), principal)


def _answer(view: CaseView, response: Response) -> CaseOut:
    response.headers["ETag"] = view.etag
    return CaseOut.of(view)


def _changed(change: Callable[[], CaseView]) -> CaseView:
    """Run a write of the case store, its refusals turned into problems."""
    try:
        return change()
    except ValidationError as error:
        raise invalid_input(error) from None
    except ValueError as error:
        # A plain ValueError names a broken rule, never a value; its subclasses (conflicts,
        # duplicates) have handlers of their own.
        if type(error) is ValueError:
            raise ProblemError(422, str(error)) from None
        raise


@router.get("/cases")
def list_cases(
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[str | None, Query(max_length=60)] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="A case reference. To search by a person's name, birth date or "
            "identifier use POST /cases/search: names do not belong in addresses, which "
            "proxies and logs keep.",
        ),
    ] = None,
) -> CaseList:
    try:
        page = _store(request, principal).page(limit, cursor, status, q, by_identity=False)
    except ValueError:
        raise ProblemError(422, "the cursor is not one this server gave out") from None
    return CaseList(items=[CaseItem.of(item) for item in page.items], next_cursor=page.next_cursor)


@router.post("/cases/search")
def search_cases(
    body: CaseSearch,
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
) -> CaseList:
    """Cases whose reference, or (for roles that see identity) a person's exact name, birth
    date or identifier, is ``q``; case, accents and spacing do not matter."""
    try:
        page = _store(request, principal).page(body.limit, body.cursor, body.status, body.q)
    except ValueError:
        raise ProblemError(422, "the cursor is not one this server gave out") from None
    return CaseList(items=[CaseItem.of(item) for item in page.items], next_cursor=page.next_cursor)


@router.get("/cases/{case_id}", responses={404: {"description": "Not in your scope"}})
def read_case(
    case_id: uuid.UUID,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("case:read"))],
) -> CaseOut:
    return _answer(_store(request, principal).read(case_id), response)


@router.post("/cases", status_code=201)
def create_case(
    body: CaseCreate,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("case:create"))],
) -> CaseOut:
    document = body.model_dump(mode="json", exclude_unset=True)
    organisation = body.organisation or principal.organisation
    if organisation != principal.organisation and not principal.operator:
        raise PermissionDeniedError("you can only create cases of your own organisation")
    document["organisation"] = organisation
    try:
        record = CaseRecord.model_validate(document)
    except ValidationError as error:
        raise invalid_input(error) from None
    store = _store(request, principal)
    try:
        store.create(record)
    except CaseExistsError:
        raise ProblemError(409, "a case with this external ID already exists") from None
    case_id = store.case_id_of(record.organisation, record.external_id)
    if case_id is None:  # created outside the creator's own scope (e.g. another team)
        raise ProblemError(409, "the case was stored but is outside your scope")
    view = store.read(case_id, audited=False)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{case_id}"
    return _answer(view, response)


@router.patch(
    "/cases/{case_id}",
    responses={412: {"description": "Stale ETag"}, 428: {"description": "If-Match missing"}},
)
def change_case(
    case_id: uuid.UUID,
    body: CasePatch,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("case:update"))],
    if_match: IfMatch = None,
) -> CaseOut:
    if not if_match:
        raise ProblemError(428, "send the case's ETag in If-Match; read the case first")
    changes = to_jsonable_python(body.model_dump(exclude_unset=True))
    if not changes:
        raise ProblemError(422, "give at least one field to change")
    store = _store(request, principal)
    view = _changed(lambda: store.update_case(case_id, changes, if_match=if_match))
    return _answer(view, response)


def _append(
    request: Request,
    response: Response,
    principal: Principal,
    case_id: uuid.UUID,
    section: str,
    item: Any,
    if_match: str | None,
) -> CaseOut:
    payload = to_jsonable_python(item.model_dump(exclude_unset=True))
    store = _store(request, principal)
    view = _changed(lambda: store.append(case_id, section, payload, if_match=if_match))
    response.status_code = 201
    return _answer(view, response)


@router.post("/cases/{case_id}/consents", status_code=201)
def add_consent(
    case_id: uuid.UUID,
    body: ConsentRecord,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("consent:create"))],
    if_match: IfMatch = None,
) -> CaseOut:
    return _append(request, response, principal, case_id, "consents", body, if_match)


@router.post("/cases/{case_id}/notes", status_code=201)
def add_note(
    case_id: uuid.UUID,
    body: Note,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("note:create"))],
    if_match: IfMatch = None,
) -> CaseOut:
    if body.author is None:
        body = body.model_copy(update={"author": principal.username})
    return _append(request, response, principal, case_id, "notes", body, if_match)


@router.post("/cases/{case_id}/decisions", status_code=201)
def add_identification_decision(
    case_id: uuid.UUID,
    body: IdentificationDecision,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("case:update"))],
    if_match: IfMatch = None,
) -> CaseOut:
    return _append(
        request, response, principal, case_id, "identification_decisions", body, if_match
    )


@router.post("/cases/{case_id}/events", status_code=201)
def add_event(
    case_id: uuid.UUID,
    body: TraffickingEvent,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("case:update"))],
    if_match: IfMatch = None,
) -> CaseOut:
    return _append(request, response, principal, case_id, "events", body, if_match)


@router.post("/cases/{case_id}/participants", status_code=201)
def add_participant(
    case_id: uuid.UUID,
    body: Participant,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("case:update"))],
    if_match: IfMatch = None,
) -> CaseOut:
    return _append(request, response, principal, case_id, "participants", body, if_match)


@router.get("/cases/{case_id}/history")
def case_history(
    case_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
) -> list[VersionOut]:
    return [
        VersionOut(**vars(version)) for version in _store(request, principal).history_of(case_id)
    ]
