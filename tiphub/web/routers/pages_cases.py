"""The caseworker's pages: the case list and search, a case with its timeline, and its forms.

Forms are generated from the case schema (``tiphub.web.forms``); every write goes through
``CaseStore`` with the ETag the user read, so a stale form never overwrites someone's edit.
Error texts never repeat what was typed: the fields keep the input, the messages do not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from tiphub.cases import screenings, sharing, workflows
from tiphub.cases.access import SHARE_SECTIONS, ConflictError, PermissionDeniedError, Principal
from tiphub.cases.api import CaseExistsError, CaseStore, CaseView
from tiphub.cases.schema import (
    CaseRecord,
    ConsentRecord,
    Note,
    PersonRecord,
    StatusAssertion,
    VictimContext,
)
from tiphub.standard.codelists import codelist
from tiphub.web import forms
from tiphub.web.forms import N_, FieldSpec, FormData
from tiphub.web.i18n import gettext
from tiphub.web.pages import render_page, request_locale
from tiphub.web.problems import ProblemError
from tiphub.web.security import SubmittedForm, engine_of, requires

router = APIRouter(tags=["pages"], include_in_schema=False)

PAGE_SIZE = 25
MAX_SEARCH_CHARS = 200
NEW_CASE_ROLES = ("Victim", "PresumedVictim")
UNKNOWN_GENDER = "NonSpecifiedUnknown"
SECTION_LABELS: dict[str, str] = {
    "identity": N_("Identity (names, birth date, contacts, identifiers)"),
    "victim": N_("Victim details"),
    "events": N_("Events"),
    "consents": N_("Consents"),
    "referrals": N_("Referrals"),
    "support_plans": N_("Support plans"),
    "notes": N_("Notes"),
    "identification_decisions": N_("Identification decisions"),
    "criminal_proceedings": N_("Criminal proceedings"),
    "perpetrators": N_("Perpetrators"),
}
STATE_LABELS = {
    "pending": N_("Waiting for a decision"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
    "completed": N_("Completed"),
    "withdrawn": N_("Withdrawn"),
}
NRM_STATUS_LABELS = {
    "overdue": N_("Overdue"),
    "due_soon": N_("Due soon"),
    "on_time": N_("On time"),
    "open": N_("Open"),
    "waiting": N_("Waiting period"),
    "closed": N_("Closed"),
}
STALE_MESSAGE = N_(
    "Someone else changed this case since you opened the form. Nothing was saved; "
    "here is the current version."
)
FIX_ERRORS = N_("Some answers need correcting. Nothing was saved yet.")


# --- helpers shared by the case and referral pages ---------------------------------------


def form_data(form: Any) -> dict[str, list[str]]:
    """A browser form as ``{name: [values]}``, the shape ``forms.parse_form`` takes."""
    return {key: [str(value) for value in form.getlist(key)] for key in form}


def first(data: FormData, name: str) -> str:
    raw = data.get(name)
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    return raw[0] if raw else ""


def prefixed(specs: Sequence[FieldSpec], prefix: str) -> list[FieldSpec]:
    """The same fields under ``prefix__name``, for forms that hold several records."""
    return [dataclasses.replace(spec, name=f"{prefix}__{spec.name}") for spec in specs]


def unprefixed(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    start = f"{prefix}__"
    return {
        key.removeprefix(start): value for key, value in values.items() if key.startswith(start)
    }


def filled(values: dict[str, Any]) -> dict[str, Any]:
    """Only the answered fields (empty ones stay absent from the stored record)."""
    return {key: value for key, value in values.items() if value is not None and value != []}


def code_label(list_name: str, code: str | None) -> str:
    if not code:
        return ""
    try:
        return codelist(list_name).label(code)
    except (KeyError, ValueError):
        return code


def model_errors(
    error: ValidationError, specs: Sequence[FieldSpec], locale: str, prefix: str = ""
) -> dict[str, str]:
    messages = forms.validation_errors(error, specs, locale)
    if not prefix:
        return messages
    return {(f"{prefix}__{key}" if key else ""): text for key, text in messages.items()}


def case_url(case_id: uuid.UUID) -> str:
    return f"/cases/{case_id}"


def share_sections_choices() -> list[tuple[str, str]]:
    return [(section, SECTION_LABELS[section]) for section in SHARE_SECTIONS]


# --- the case list ------------------------------------------------------------------------


@router.get("/cases")
def case_list(
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
    status: str = "",
    cursor: str = "",
) -> Response:
    """The list, browsed by status and page. A search never comes by GET: a name in the
    address would stay in the browser's history on a shared computer."""
    return _case_list(request, principal, "", status, cursor)


@router.post("/cases")
def case_search(
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
    q: Annotated[str, Form(max_length=1000)] = "",
    status: Annotated[str, Form(max_length=100)] = "",
    cursor: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    return _case_list(request, principal, q, status, cursor)


def _case_list(
    request: Request, principal: Principal, q: str, status: str, cursor: str
) -> Response:
    search = q.strip()[:MAX_SEARCH_CHARS]
    statuses = codelist("case_status")
    chosen_status = status if status in statuses.codes else ""
    store = CaseStore(engine_of(request), principal)
    try:
        page = store.page(PAGE_SIZE, cursor or None, chosen_status or None, search or None)
    except ValueError:
        raise ProblemError(400, "that page of the list is not one this server gave out") from None
    next_url = None
    next_search = None
    if page.next_cursor and search:
        # The next page of a search is asked for by POST too.
        next_search = {"q": search, "status": chosen_status, "cursor": page.next_cursor}
    elif page.next_cursor:
        query = [("cursor", page.next_cursor)]
        if chosen_status:
            query.append(("status", chosen_status))
        next_url = "/cases?" + urlencode(query)
    context: dict[str, Any] = {
        "cases": page.items,
        "next_url": next_url,
        "next_search": next_search,
        "q": search,
        "status": chosen_status,
        "status_options": [(code, statuses.label(code)) for code in statuses.codes],
        "status_label": lambda code: code_label("case_status", code),
        "searched": bool(search or chosen_status or cursor),
        "can_create": principal.can("case:create"),
    }
    template = (
        "pages/cases_results.html" if request.headers.get("hx-request") else "pages/cases_list.html"
    )
    return render_page(request, template, N_("Cases"), principal, **context)


# --- creating a case ----------------------------------------------------------------------


def _new_case_sections(principal: Principal) -> list[tuple[str, list[FieldSpec]]]:
    return [
        ("case", prefixed(forms.case_fields(), "case")),
        (
            "person",
            prefixed(forms.person_fields(include_identity=principal.sees_identity), "person"),
        ),
        ("victim", prefixed(forms.victim_fields(), "victim")),
        ("assessment", prefixed(forms.status_fields(), "assessment")),
    ]


def _render_new_case(
    request: Request,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    locale = request_locale(request)
    return render_page(
        request,
        "pages/case_new.html",
        N_("New case"),
        principal,
        status_code=status_code,
        sections=_new_case_sections(principal),
        values=values,
        errors=errors,
        role_options=[(code, code_label("participant_role", code)) for code in NEW_CASE_ROLES],
        messages=[("error", gettext(locale, FIX_ERRORS))] if errors else [],
    )


def new_external_id(organisation: str) -> str:
    # Random, not sequential: the reference says nothing about how many cases there are.
    return f"{organisation}-W{secrets.token_hex(5).upper()}"


@router.get("/cases/new")
def new_case_form(
    request: Request, principal: Annotated[Principal, Depends(requires("case:create"))]
) -> Response:
    today = dt.date.today()
    return _render_new_case(
        request,
        principal,
        {"role": "Victim", "case__status": "Active", "case__opened_on": today},
        {},
    )


@router.post("/cases/new")
def new_case_submit(
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:create"))],
    form: SubmittedForm,
) -> Response:
    if principal.organisation is None:
        raise PermissionDeniedError("only a member of an organisation creates cases here")
    locale = request_locale(request)
    data = form_data(form)
    sections = _new_case_sections(principal)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for _name, specs in sections:
        parsed, problems = forms.parse_form(specs, data, locale)
        values.update(parsed)
        errors.update(problems)
    role = first(data, "role")
    values["role"] = role
    if role not in NEW_CASE_ROLES:
        errors["role"] = forms.error_message("option", locale)
    if errors:
        return _render_new_case(
            request, principal, {**values, **data_for_redisplay(data)}, errors, 422
        )

    external_id = new_external_id(principal.organisation)
    person = {"external_id": f"{external_id}-P1", **filled(unprefixed(values, "person"))}
    # The standard requires a victim's gender; the form's empty choice reads "Not known".
    if "gender" not in person:
        person["gender"] = UNKNOWN_GENDER
    assessment = filled(unprefixed(values, "assessment"))
    victim = {**filled(unprefixed(values, "victim")), "trafficking_status": [assessment]}
    checks: list[tuple[type[Any], dict[str, Any], str, list[FieldSpec]]] = [
        (PersonRecord, person, "person", sections[1][1]),
        (StatusAssertion, assessment, "assessment", sections[3][1]),
    ]
    for model, part, prefix, specs in checks:
        try:
            model.model_validate(part)
        except ValidationError as error:
            errors.update(model_errors(error, forms_of(specs, prefix), locale, prefix))
    if not errors:
        try:
            VictimContext.model_validate(victim)
        except ValidationError as error:
            errors.update(model_errors(error, forms_of(sections[2][1], "victim"), locale, "victim"))
    document = {
        "external_id": external_id,
        "organisation": principal.organisation,
        **filled(unprefixed(values, "case")),
        "participants": [{"role": role, "person": person, "victim": victim}],
    }
    record: CaseRecord | None = None
    if not errors:
        try:
            record = CaseRecord.model_validate(document)
        except ValidationError as error:
            errors.update(model_errors(error, forms_of(sections[0][1], "case"), locale, "case"))
    if errors or record is None:
        return _render_new_case(
            request, principal, {**values, **data_for_redisplay(data)}, errors, 422
        )
    store = CaseStore(engine_of(request), principal)
    try:
        store.create(record)
    except CaseExistsError:
        raise ProblemError(409, "that reference is taken; submit the form again") from None
    found = store.page(1, search=external_id)
    if not found.items:
        return RedirectResponse("/cases", status_code=303)
    return RedirectResponse(case_url(found.items[0].id), status_code=303)


def forms_of(specs: Sequence[FieldSpec], prefix: str) -> list[FieldSpec]:
    """The specs under their model's own names, to map a model's errors back to fields."""
    return [dataclasses.replace(spec, name=spec.name.removeprefix(f"{prefix}__")) for spec in specs]


def data_for_redisplay(data: dict[str, list[str]]) -> dict[str, Any]:
    """What was typed, so a form with an error keeps the user's input (never the CSRF token)."""
    shown: dict[str, Any] = {}
    for key, items in data.items():
        if key in ("csrf_token", "if_match"):
            continue
        shown[key] = items if len(items) != 1 else items[0]
    return shown


# --- one case ------------------------------------------------------------------------------


def _people(view: CaseView) -> list[dict[str, Any]]:
    people = []
    for number, participant in enumerate(view.document.get("participants", []), start=1):
        person = participant.get("person", {})
        name = ""
        if view.identity_visible:
            name = " ".join(
                part
                for part in (
                    person.get("first_name"),
                    person.get("middle_name"),
                    person.get("family_name"),
                )
                if part
            )
        statuses = [
            code_label("trafficking_status", item.get("status"))
            for item in (participant.get("victim") or {}).get("trafficking_status", [])
        ]
        people.append(
            {
                "number": number,
                "external_id": person.get("external_id", ""),
                "role": code_label("participant_role", participant.get("role")),
                "name": name,
                "birth_date": person.get("birth_date") if view.identity_visible else None,
                "gender": code_label("gender", person.get("gender")),
                "statuses": statuses,
            }
        )
    return people


def _person_names(view: CaseView) -> dict[str, str]:
    return {person["external_id"]: person["name"] for person in _people(view)}


def timeline(view: CaseView) -> list[dict[str, Any]]:
    """Every dated thing of the case, oldest first; undated ones last, in recorded order."""
    document = view.document
    items: list[dict[str, Any]] = []

    def add(
        date: Any, kind: str, title: str, detail: str = "", section: str = "", state: str = ""
    ) -> None:
        # kind and state are msgids (translated when shown); title and detail are data.
        items.append(
            {
                "date": date,
                "kind": kind,
                "title": title,
                "detail": detail,
                "section": section,
                "state": state,
            }
        )

    if document.get("opened_on"):
        add(document["opened_on"], N_("Case opened"), "")
    for event in document.get("events", []):
        add(
            event.get("started_on"),
            N_("Event"),
            code_label("event_type", event.get("type")),
            event.get("description") or "",
            "events",
        )
    for consent in document.get("consents", []):
        add(
            consent.get("recorded_on"),
            N_("Consent"),
            code_label("consent_purpose", consent.get("purpose")),
            "",
            "consents",
            N_("given") if consent.get("given") else N_("refused or withdrawn"),
        )
    for referral in document.get("referrals", []):
        add(
            referral.get("referred_on"),
            N_("Referral"),
            code_label("referral_reason", referral.get("reason")),
            referral.get("to_organisation") or "",
            "referrals",
        )
    for decision in document.get("identification_decisions", []):
        add(
            decision.get("decided_on"),
            N_("Identification decision"),
            code_label("identification_decision_type", decision.get("decision_type")),
            code_label("identification_outcome", decision.get("outcome")),
            "identification_decisions",
        )
    for plan in document.get("support_plans", []):
        add(
            plan.get("actual_end_on") or plan.get("planned_end_on"),
            N_("Support plan"),
            code_label("support_plan_type", plan.get("type")),
            plan.get("objectives") or "",
            "support_plans",
        )
    for note in document.get("notes", []):
        add(
            note.get("written_on"),
            N_("Note"),
            note.get("author") or "",
            note.get("text") or "",
            "notes",
        )
    for proceeding in document.get("criminal_proceedings", []):
        add(
            proceeding.get("opened_on"),
            N_("Criminal proceeding"),
            code_label("proceeding_stage", proceeding.get("stage")),
            code_label("proceeding_outcome", proceeding.get("outcome")),
            "criminal_proceedings",
        )
    # sorted() is stable: same-day items keep the order they were recorded in.
    return sorted(items, key=lambda item: (item["date"] is None, str(item["date"] or "")))


@router.get("/cases/{case_id}")
def case_page(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("case:read"))],
) -> Response:
    engine = engine_of(request)
    view = CaseStore(engine, principal).read(case_id)
    owned = view.shared_sections is None
    referrals = []
    if owned and principal.organisation_id is not None:
        referrals = sharing.outbox(engine, principal, case_id)
    document = view.document
    return render_page(
        request,
        "pages/case_detail.html",
        N_("Case"),
        principal,
        view=view,
        owned=owned,
        case=document,
        status_label=code_label("case_status", document.get("status")),
        people=_people(view),
        timeline=timeline(view),
        sections=share_sections_choices(),
        shared=set(view.shared_sections or ()),
        referrals=referrals,
        can_withdraw=principal.can("referral:withdraw"),
        state_labels=STATE_LABELS,
        can_consent=view.editable and principal.can("consent:create"),
        can_note=view.editable and principal.can("note:create"),
        can_refer=view.editable and principal.can("referral:create"),
        can_screen=view.editable and principal.can("screening:create"),
        can_nrm=view.editable and principal.can("workflow:refer"),
        can_service=principal.can("service:refer"),
        nrm_items=workflows.items_of(view, principal) if owned else [],
        nrm_status_labels=NRM_STATUS_LABELS,
        case_screenings=(
            screenings.screenings_of_case(engine, principal, case_id) if owned else []
        ),
        today=dt.date.today().isoformat(),
        case_url=case_url(case_id),
    )


# --- editing the case's own fields --------------------------------------------------------


def _editable_view(request: Request, principal: Principal, case_id: uuid.UUID) -> CaseView:
    view = CaseStore(engine_of(request), principal).read(case_id, audited=False)
    if not view.editable:
        raise PermissionDeniedError("a case shared with you by referral is read-only")
    return view


def _render_edit(
    request: Request,
    principal: Principal,
    view: CaseView,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    stale: bool = False,
) -> Response:
    locale = request_locale(request)
    message = STALE_MESSAGE if stale else FIX_ERRORS
    return render_page(
        request,
        "pages/case_edit.html",
        N_("Edit case"),
        principal,
        status_code=status_code,
        view=view,
        case=view.document,
        specs=forms.case_fields(),
        values=values,
        errors=errors,
        case_url=case_url(view.id),
        messages=[("error", gettext(locale, message))] if errors or stale else [],
    )


@router.get("/cases/{case_id}/edit")
def edit_case_form(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("case:update"))],
) -> Response:
    view = _editable_view(request, principal, case_id)
    return _render_edit(request, principal, view, view.document, {})


@router.post("/cases/{case_id}/edit")
def edit_case_submit(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("case:update"))],
    form: SubmittedForm,
) -> Response:
    locale = request_locale(request)
    data = form_data(form)
    specs = forms.case_fields()
    values, errors = forms.parse_form(specs, data, locale)
    view = _editable_view(request, principal, case_id)
    if_match = first(data, "if_match")
    if not if_match or if_match != view.etag:
        return _render_edit(request, principal, view, view.document, {}, 412, stale=True)
    if errors:
        return _render_edit(request, principal, view, data_for_redisplay(data), errors, 422)
    try:
        CaseRecord.model_validate({**view.document, **values})
        CaseStore(engine_of(request), principal).update_case(case_id, values, if_match=if_match)
    except ValidationError as error:
        problems = forms.validation_errors(error, specs, locale) or {"": ""}
        return _render_edit(request, principal, view, data_for_redisplay(data), problems, 422)
    except ConflictError:
        current = _editable_view(request, principal, case_id)
        return _render_edit(request, principal, current, current.document, {}, 412, stale=True)
    return RedirectResponse(case_url(case_id), status_code=303)


# --- appending a consent or a note --------------------------------------------------------


def _victims(view: CaseView) -> list[tuple[str, str]]:
    choices = []
    for person in _people(view):
        participant = view.document["participants"][person["number"] - 1]
        if participant.get("role") in sharing.VICTIM_ROLES:
            choices.append((person["external_id"], person["name"]))
    return choices


def _render_append(
    request: Request,
    principal: Principal,
    view: CaseView,
    kind: str,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    stale: bool = False,
) -> Response:
    locale = request_locale(request)
    message = STALE_MESSAGE if stale else FIX_ERRORS
    is_consent = kind == "consents"
    return render_page(
        request,
        "pages/case_consent.html" if is_consent else "pages/case_note.html",
        N_("Record consent") if is_consent else N_("Add a note"),
        principal,
        status_code=status_code,
        view=view,
        case=view.document,
        specs=forms.consent_fields() if is_consent else forms.note_fields(),
        victims=_victims(view),
        values=values,
        errors=errors,
        case_url=case_url(view.id),
        messages=[("error", gettext(locale, message))] if errors or stale else [],
    )


def _append_submit(
    request: Request, principal: Principal, case_id: uuid.UUID, kind: str, form: SubmittedForm
) -> Response:
    locale = request_locale(request)
    data = form_data(form)
    is_consent = kind == "consents"
    specs = forms.consent_fields() if is_consent else forms.note_fields()
    values, errors = forms.parse_form(specs, data, locale)
    view = _editable_view(request, principal, case_id)
    item = filled(values)
    if is_consent:
        person = first(data, "person_external_id")
        if person not in {code for code, _ in _victims(view)}:
            errors["person_external_id"] = forms.error_message("option", locale)
        item["person_external_id"] = person
    if not errors:
        try:
            (ConsentRecord if is_consent else Note).model_validate(item)
        except ValidationError as error:
            errors.update(forms.validation_errors(error, specs, locale))
    if errors:
        return _render_append(request, principal, view, kind, data_for_redisplay(data), errors, 422)
    if_match = first(data, "if_match")
    try:
        if not if_match:
            raise ConflictError("the case changed since you read it")
        CaseStore(engine_of(request), principal).append(case_id, kind, item, if_match=if_match)
    except ConflictError:
        current = _editable_view(request, principal, case_id)
        return _render_append(
            request, principal, current, kind, data_for_redisplay(data), {}, 412, stale=True
        )
    return RedirectResponse(case_url(case_id), status_code=303)


@router.get("/cases/{case_id}/consents/new")
def new_consent_form(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("consent:create"))],
) -> Response:
    view = _editable_view(request, principal, case_id)
    values = {"recorded_on": dt.date.today(), "recorded_by": principal.username}
    return _render_append(request, principal, view, "consents", values, {})


@router.post("/cases/{case_id}/consents/new")
def new_consent_submit(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("consent:create"))],
    form: SubmittedForm,
) -> Response:
    return _append_submit(request, principal, case_id, "consents", form)


@router.get("/cases/{case_id}/notes/new")
def new_note_form(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("note:create"))],
) -> Response:
    view = _editable_view(request, principal, case_id)
    values = {"written_on": dt.date.today(), "author": principal.username}
    return _render_append(request, principal, view, "notes", values, {})


@router.post("/cases/{case_id}/notes/new")
def new_note_submit(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("note:create"))],
    form: SubmittedForm,
) -> Response:
    return _append_submit(request, principal, case_id, "notes", form)


# --- referring the case to another organisation -------------------------------------------

OVERRIDE_BASES = {
    "child_protection": N_("Child protection"),
    "court_order": N_("Court order"),
}
SHARING_MESSAGES = {
    "not_consented": N_(
        "The person has not consented to referral. Record their consent "
        "(purpose Referral or Disclosure) first."
    ),
    "sections": N_("Choose at least one section to share."),
    "target": N_("Choose the organisation to refer to."),
    "reason": N_("A legal override needs its reason (at least 10 characters)."),
    "basis": N_("Choose the basis for sharing."),
}


def _render_refer(
    request: Request,
    principal: Principal,
    view: CaseView,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
    message: str | None = None,
) -> Response:
    locale = request_locale(request)
    bases = [("consent", N_("The person's consent"))]
    if principal.can("referral:override"):
        bases += list(OVERRIDE_BASES.items())
    shown = message or (FIX_ERRORS if errors else None)
    return render_page(
        request,
        "pages/case_refer.html",
        N_("Refer the case"),
        principal,
        status_code=status_code,
        view=view,
        case=view.document,
        targets=sharing.referral_targets(engine_of(request), principal),
        sections=share_sections_choices(),
        bases=bases,
        values=values,
        errors=errors,
        case_url=case_url(view.id),
        messages=[("error", gettext(locale, shown))] if shown else [],
    )


@router.get("/cases/{case_id}/refer")
def refer_form(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("referral:create"))],
) -> Response:
    view = _editable_view(request, principal, case_id)
    values = {"basis": "consent", "sections": ["victim", "events"]}
    return _render_refer(request, principal, view, values, {})


@router.post("/cases/{case_id}/refer")
def refer_submit(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("referral:create"))],
    form: SubmittedForm,
) -> Response:
    locale = request_locale(request)
    engine = engine_of(request)
    data = form_data(form)
    view = _editable_view(request, principal, case_id)
    target = first(data, "to_organisation")
    sections = [section for section in data.get("sections", []) if section in SHARE_SECTIONS]
    basis = first(data, "basis") or "consent"
    reason = first(data, "override_reason").strip()
    values: dict[str, Any] = {
        "to_organisation": target,
        "sections": sections,
        "basis": basis,
        "override_reason": reason,
    }
    errors: dict[str, str] = {}
    if target not in {slug for slug, _ in sharing.referral_targets(engine, principal)}:
        errors["to_organisation"] = gettext(locale, SHARING_MESSAGES["target"])
    if not sections:
        errors["sections"] = gettext(locale, SHARING_MESSAGES["sections"])
    overriding = basis in OVERRIDE_BASES
    if basis != "consent" and not (overriding and principal.can("referral:override")):
        errors["basis"] = gettext(locale, SHARING_MESSAGES["basis"])
    if overriding and len(reason) < 10:
        errors["override_reason"] = gettext(locale, SHARING_MESSAGES["reason"])
    if len(reason) > 2_000:
        errors["override_reason"] = forms.error_message("too_long", locale, count=2_000)
    if errors:
        return _render_refer(request, principal, view, values, errors, 422)
    try:
        sharing.refer(
            engine,
            principal,
            case_id,
            target,
            sections,
            basis=basis,
            override_reason=reason if overriding else None,
        )
    except sharing.SharingError as error:
        key = "not_consented" if "consented" in str(error) else "basis"
        return _render_refer(
            request, principal, view, values, {}, 422, message=SHARING_MESSAGES[key]
        )
    return RedirectResponse(case_url(case_id), status_code=303)
