"""Screen, identify, refer: screening a person with an instrument, referring them to a
national referral mechanism, moving the referral through its stages, and the dashboard of
deadlines and tasks a supervisor watches."""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from tiphub.cases import screenings, tasks, workflows
from tiphub.cases.access import NotFoundError, PermissionDeniedError, Principal
from tiphub.cases.api import CaseStore, CaseView
from tiphub.screening.instruments import instrument, instruments
from tiphub.screening.workflow import TransitionRefused, workflow
from tiphub.screening.workflow import workflows as all_workflows
from tiphub.screening.xlsform import form_id, write_xlsform
from tiphub.web.forms import N_
from tiphub.web.pages import render_page, request_locale
from tiphub.web.routers.pages_cases import NRM_STATUS_LABELS, case_url, first, form_data
from tiphub.web.security import SubmittedForm, engine_of, requires

router = APIRouter(tags=["pages"], include_in_schema=False)

ANSWER_CHOICES = (("yes", N_("Yes")), ("no", N_("No")), ("", N_("Not asked")))
STEP_FIELDS = ("on", "decided_by", "decided_on", "grounds", "reason", "presumed_child")


def victims_of(view: CaseView) -> list[tuple[str, str]]:
    """(external id, label) of the case's victims and presumed victims."""
    people = []
    for participant in view.document["participants"]:
        if participant["role"] not in ("Victim", "PresumedVictim"):
            continue
        person = participant["person"]
        name = " ".join(
            part for part in (person.get("first_name"), person.get("family_name")) if part
        )
        label = f"{name} ({person['external_id']})" if name else person["external_id"]
        people.append((person["external_id"], label))
    return people


def owned_view(request: Request, principal: Principal, case_id: uuid.UUID) -> CaseView:
    view = CaseStore(engine_of(request), principal).read(case_id, audited=False)
    if not view.editable:
        raise PermissionDeniedError("only the organisation working the case can do this")
    return view


def _instrument_form(chosen_id: str, locale: str) -> dict[str, Any]:
    chosen = instrument(chosen_id)
    described = chosen.to_dict(language=locale)
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in described["indicators"]:
        groups.setdefault(item["dimension"] or "", []).append(item)
    labels = {d["id"]: d.get("label", d["id"]) for d in described.get("dimensions", [])}
    unverified = {i.id for i in chosen.indicators if not i.verified}
    return {
        "instrument": described,
        "groups": [
            (dimension, labels.get(dimension, dimension), items)
            for dimension, items in groups.items()
        ],
        "unverified": unverified,
    }


def _render_screen_form(
    request: Request,
    principal: Principal,
    view: CaseView,
    chosen_id: str,
    values: dict[str, str],
    problem: str | None = None,
) -> Response:
    known = {i.id for i in instruments()}
    context = _instrument_form(chosen_id, request_locale(request)) if chosen_id in known else {}
    return render_page(
        request,
        "pages/screen_form.html",
        N_("Screen for trafficking indicators"),
        principal,
        status_code=422 if problem else 200,
        view=view,
        case=view.document,
        case_url=case_url(view.id),
        people=victims_of(view),
        choices=[(i.id, i.name, i.verified) for i in instruments()],
        chosen=chosen_id,
        answer_choices=ANSWER_CHOICES,
        values=values,
        problem=problem,
        **context,
    )


@router.get("/cases/{case_id}/screen")
def screen_form(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("screening:create"))],
    instrument_id: str = "",
) -> Response:
    view = owned_view(request, principal, case_id)
    return _render_screen_form(request, principal, view, instrument_id, {})


@router.get("/screening/forms/{instrument_id}.xlsx")
def screening_xlsform(
    request: Request,
    instrument_id: str,
    principal: Annotated[Principal, Depends(requires("screening:create"))],
) -> Response:
    """The instrument as an XLSForm, for ODK/Kobo teams who screen offline."""
    if instrument_id not in {i.id for i in instruments()}:
        raise NotFoundError("no such instrument")
    chosen = instrument(instrument_id)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{chosen.id}.xlsx"
        write_xlsform(chosen, path, languages=[request_locale(request)])
        content = path.read_bytes()
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{form_id(chosen)}.xlsx"'},
    )


@router.post("/cases/{case_id}/screen")
def screen_submit(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("screening:create"))],
    form: SubmittedForm,
) -> Response:
    data = form_data(form)
    view = owned_view(request, principal, case_id)
    chosen_id = first(data, "instrument_id")
    known = {i.id for i in instruments()}
    answers: dict[str, object] = {}
    if chosen_id in known:
        for item in instrument(chosen_id).indicators:
            value = first(data, f"answer-{item.id}")
            if value in ("yes", "no"):
                answers[item.id] = value == "yes"
    person = first(data, "person") or None
    people = {code for code, _ in victims_of(view)}
    problem = None
    if chosen_id not in known:
        problem = N_("Choose an instrument.")
    elif person not in people:
        problem = N_("Choose the person screened.")
    elif not answers:
        problem = N_("Answer at least one item.")
    if problem is not None:
        values = {key: first(data, key) for key in data}
        return _render_screen_form(request, principal, view, chosen_id, values, problem)
    record = screenings.record_screening(
        engine_of(request),
        principal,
        chosen_id,
        answers,
        case_id=case_id,
        person_external_id=person,
        language=request_locale(request),
    )
    return _render_result(request, principal, view, record)


def _render_result(
    request: Request, principal: Principal, view: CaseView, record: screenings.ScreeningRecord
) -> Response:
    chosen = instrument(record.instrument_id)
    described = chosen.to_dict(language=request_locale(request))
    labels = {d["id"]: d.get("label", d["id"]) for d in described.get("dimensions", [])}
    texts = {item["id"]: item for item in described["indicators"]}
    return render_page(
        request,
        "pages/screen_result.html",
        N_("Screening result"),
        principal,
        view=view,
        case=view.document,
        case_url=case_url(view.id),
        record=record,
        result=record.result,
        instrument=described,
        dimension_labels=labels,
        texts=texts,
        can_refer=view.editable and principal.can("workflow:refer"),
    )


@router.get("/cases/{case_id}/screenings/{screening_id}")
def screening_page(
    request: Request,
    case_id: uuid.UUID,
    screening_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("case:read"))],
) -> Response:
    view = CaseStore(engine_of(request), principal).read(case_id, audited=False)
    for record in screenings.screenings_of_case(engine_of(request), principal, case_id):
        if record.id == screening_id:
            return _render_result(request, principal, view, record)
    raise NotFoundError("no such screening")


# --- national referral mechanisms ---------------------------------------------------------


def _render_nrm_form(
    request: Request,
    principal: Principal,
    view: CaseView,
    values: dict[str, Any],
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    document = view.document
    consents = {
        person: workflows.consent_to_referral(document, person) for person, _ in victims_of(view)
    }
    return render_page(
        request,
        "pages/nrm_refer.html",
        N_("Refer to a national referral mechanism"),
        principal,
        status_code=status_code,
        view=view,
        case=document,
        case_url=case_url(view.id),
        people=victims_of(view),
        consents=consents,
        mechanisms=[(flow.id, flow.name) for flow in all_workflows()],
        values=values,
        problem=problem,
        today=dt.date.today().isoformat(),
    )


@router.get("/cases/{case_id}/nrm")
def nrm_form(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("workflow:refer"))],
) -> Response:
    view = owned_view(request, principal, case_id)
    return _render_nrm_form(request, principal, view, {"mechanism": "uk-nrm"})


@router.post("/cases/{case_id}/nrm")
def nrm_submit(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("workflow:refer"))],
    form: SubmittedForm,
) -> Response:
    data = form_data(form)
    view = owned_view(request, principal, case_id)
    values = {key: first(data, key) for key in ("mechanism", "person", *STEP_FIELDS)}
    try:
        workflows.refer_to_mechanism(
            engine_of(request),
            principal,
            case_id,
            values["mechanism"],
            values["person"],
            fields={key: values[key] for key in STEP_FIELDS if values.get(key)},
            if_match=first(data, "if_match") or None,
        )
    except (TransitionRefused, ValueError) as refused:
        return _render_nrm_form(request, principal, view, values, str(refused), 422)
    return RedirectResponse(case_url(case_id) + "#nrm-heading", status_code=303)


@router.post("/cases/{case_id}/nrm/{reference}/{transition_id}")
def nrm_step(
    request: Request,
    case_id: uuid.UUID,
    reference: str,
    transition_id: str,
    principal: Annotated[Principal, Depends(requires("case:update"))],
    form: SubmittedForm,
) -> Response:
    data = form_data(form)
    fields = {key: first(data, key) for key in STEP_FIELDS if first(data, key)}
    try:
        workflows.take_step(
            engine_of(request),
            principal,
            case_id,
            reference,
            transition_id,
            fields,
            if_match=first(data, "if_match") or None,
        )
    except (TransitionRefused, ValueError) as refused:
        return render_refusal(request, principal, case_id, str(refused))
    return RedirectResponse(case_url(case_id) + "#nrm-heading", status_code=303)


def render_refusal(
    request: Request, principal: Principal, case_id: uuid.UUID, reason: str
) -> Response:
    """A refused step: its reason, and that nothing changed (422)."""
    view = CaseStore(engine_of(request), principal).read(case_id, audited=False)
    return render_page(
        request,
        "pages/nrm_refused.html",
        N_("The step was refused"),
        principal,
        status_code=422,
        view=view,
        case=view.document,
        case_url=case_url(case_id),
        reason=reason,
    )


@router.get("/identification")
def identification_dashboard(
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
    mechanism: str = "",
    closed: bool = False,
) -> Response:
    engine = engine_of(request)
    chosen = workflow(mechanism).id if mechanism else None
    items = workflows.workflow_items(engine, principal, include_closed=closed, mechanism=chosen)
    counts: dict[str, int] = {}
    for item in items:
        counts[item.status] = counts.get(item.status, 0) + 1
    return render_page(
        request,
        "pages/identification_dashboard.html",
        N_("Identification and referral"),
        principal,
        items=items,
        counts=counts,
        status_labels=NRM_STATUS_LABELS,
        mechanisms=[(flow.id, flow.name) for flow in all_workflows()],
        chosen=chosen or "",
        closed=closed,
        open_tasks=tasks.tasks(engine, principal, limit=100),
        today=dt.date.today(),
    )


@router.post("/tasks/{task_id}/done")
def task_done(
    request: Request,
    task_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("case:update"))],
    form: SubmittedForm,
) -> Response:
    tasks.complete_task(engine_of(request), principal, task_id)
    return RedirectResponse("/identification", status_code=303)
