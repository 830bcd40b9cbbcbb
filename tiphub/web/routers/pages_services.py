"""The service directory (search by need, eligibility and distance), referring a person of a
case to a provider and recording the provider's answer, and the helpline call log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse

from tiphub.cases import helpline, services
from tiphub.cases.access import Principal
from tiphub.screening.instruments import instrument
from tiphub.standard.codelists import codelist
from tiphub.web.forms import N_
from tiphub.web.pages import render_page
from tiphub.web.routers.pages_cases import case_url, first, form_data
from tiphub.web.routers.pages_screening import owned_view, render_refusal, victims_of
from tiphub.web.security import SubmittedForm, engine_of, requires

router = APIRouter(tags=["pages"], include_in_schema=False)
SEARCH_FIELDS = (
    "need",
    "sex",
    "age",
    "nationality",
    "exploitation_type",
    "language",
    "near",
    "within_km",
)
SEARCH_LIMIT = 50


ADVICE = (
    ("information", N_("Information on rights and services")),
    ("safety_planning", N_("Safety planning")),
    ("referred_to_ngo", N_("Referred to a support organisation")),
    ("referred_to_police", N_("Referred to the police")),
    ("referred_to_labour_inspection", N_("Referred to the labour inspectorate")),
    ("referred_to_health", N_("Referred to health services")),
    ("emergency_services", N_("Emergency services called")),
    ("legal_advice", N_("Legal advice")),
)


def _codes(name: str) -> list[tuple[str, str]]:
    listed = codelist(name)
    return [(code, listed.label(code)) for code in listed.codes]


def _search(
    request: Request, principal: Principal, values: dict[str, str]
) -> tuple[list[Any], str | None]:
    if not values.get("need"):
        return [], None
    near = None
    try:
        if values.get("near"):
            latitude, longitude = (float(part) for part in values["near"].split(",", 1))
            near = (latitude, longitude)
        age = int(values["age"]) if values.get("age") else None
        within = float(values["within_km"]) if values.get("within_km") else None
        matches = services.search_providers(
            engine_of(request),
            principal,
            values["need"],
            sex=values.get("sex") or None,
            age=age,
            nationality=values.get("nationality") or None,
            exploitation_type=values.get("exploitation_type") or None,
            language=values.get("language") or None,
            near=near,
            within_km=within,
        )
    except ValueError as error:
        return [], str(error) or N_("Check the search fields.")
    return matches[:SEARCH_LIMIT], None


@router.get("/services")
def service_directory(
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
    need: str = "",
    sex: str = "",
    age: str = "",
    nationality: str = "",
    exploitation_type: str = "",
    language: str = "",
    near: str = "",
    within_km: str = "",
    case: str = "",
) -> Response:
    values = {
        "need": need,
        "sex": sex,
        "age": age,
        "nationality": nationality,
        "exploitation_type": exploitation_type,
        "language": language,
        "near": near,
        "within_km": within_km,
    }
    matches, problem = _search(request, principal, values)
    return render_page(
        request,
        "pages/services_directory.html",
        N_("Service directory"),
        principal,
        status_code=422 if problem else 200,
        values=values,
        matches=matches,
        problem=problem,
        needs=_codes("service_type"),
        sexes=_codes("sex"),
        exploitation_types=_codes("exploitation_type"),
        case=case,
        searched=bool(need),
    )


@router.get("/cases/{case_id}/services/refer")
def provider_referral_form(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("service:refer"))],
    provider: str = "",
) -> Response:
    view = owned_view(request, principal, case_id)
    chosen = services.get_provider(engine_of(request), principal, provider)
    return _render_referral(request, principal, view, chosen, {})


def _render_referral(
    request: Request,
    principal: Principal,
    view: Any,
    chosen: services.ProviderInfo,
    values: dict[str, Any],
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    labels = dict(_codes("service_type"))
    return render_page(
        request,
        "pages/services_refer.html",
        N_("Refer to a service"),
        principal,
        status_code=status_code,
        view=view,
        case=view.document,
        case_url=case_url(view.id),
        provider=chosen,
        offered=[(code, labels.get(code, code)) for code in chosen.services],
        people=victims_of(view),
        values=values,
        problem=problem,
    )


@router.post("/cases/{case_id}/services/refer")
def provider_referral_submit(
    request: Request,
    case_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("service:refer"))],
    form: SubmittedForm,
) -> Response:
    data = form_data(form)
    view = owned_view(request, principal, case_id)
    engine = engine_of(request)
    chosen = services.get_provider(engine, principal, first(data, "provider"))
    person = first(data, "person")
    wanted = list(data.get("services", []))
    details = first(data, "details").strip()
    values: dict[str, Any] = {"person": person, "services": wanted, "details": details}
    try:
        services.refer_to_provider(
            engine,
            principal,
            case_id,
            chosen.slug,
            person,
            wanted,
            details=details or None,
            if_match=first(data, "if_match") or None,
        )
    except (ValueError, PermissionError) as refused:
        return _render_referral(request, principal, view, chosen, values, str(refused), 422)
    return RedirectResponse(case_url(case_id) + "#service-referrals-heading", status_code=303)


@router.post("/cases/{case_id}/services/{reference}/respond")
def provider_answer(
    request: Request,
    case_id: uuid.UUID,
    reference: str,
    principal: Annotated[Principal, Depends(requires("service:refer"))],
    form: SubmittedForm,
) -> Response:
    data = form_data(form)
    try:
        services.respond_to_referral(
            engine_of(request),
            principal,
            case_id,
            reference,
            first(data, "status"),
            reason=first(data, "reason").strip() or None,
        )
    except (ValueError, PermissionError) as refused:
        return render_refusal(request, principal, case_id, str(refused))
    return RedirectResponse(case_url(case_id) + "#service-referrals-heading", status_code=303)


# --- helpline ------------------------------------------------------------------------------


def _render_helpline(
    request: Request,
    principal: Principal,
    values: dict[str, Any],
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    engine = engine_of(request)
    since = dt.date.today() - dt.timedelta(weeks=12)
    indicators = instrument(helpline.INDICATOR_INSTRUMENT)
    return render_page(
        request,
        "pages/helpline.html",
        N_("Helpline"),
        principal,
        status_code=status_code,
        values=values,
        problem=problem,
        channels=helpline.CHANNELS,
        caller_types=helpline.CALLER_TYPES,
        indicators=[(item.id, item.text) for item in indicators.indicators],
        weekly=helpline.weekly_counts(engine, principal, since=since),
        recent=helpline.calls(engine, principal, since=since)[:20],
        advice=ADVICE,
        today=dt.date.today().isoformat(),
    )


@router.get("/helpline")
def helpline_page(
    request: Request, principal: Annotated[Principal, Depends(requires("helpline:record"))]
) -> Response:
    return _render_helpline(request, principal, {"channel": "phone", "caller_type": "anonymous"})


@router.post("/helpline")
def helpline_submit(
    request: Request,
    principal: Annotated[Principal, Depends(requires("helpline:record"))],
    form: SubmittedForm,
) -> Response:
    data = form_data(form)
    values: dict[str, Any] = {
        "received_on": first(data, "received_on"),
        "channel": first(data, "channel"),
        "caller_type": first(data, "caller_type"),
        "language": first(data, "language"),
        "region": first(data, "region"),
        "indicators_mentioned": data.get("indicators_mentioned", []),
        "advice_given": data.get("advice_given", []),
        "follow_up": first(data, "follow_up").strip(),
    }
    try:
        received = dt.date.fromisoformat(values["received_on"] or dt.date.today().isoformat())
        helpline.record_call(
            engine_of(request),
            principal,
            received_on=received,
            channel=values["channel"],
            caller_type=values["caller_type"],
            language=values["language"] or None,
            region=values["region"] or None,
            indicators_mentioned=values["indicators_mentioned"],
            advice_given=values["advice_given"],
            follow_up=values["follow_up"] or None,
        )
    except ValueError as error:
        return _render_helpline(request, principal, values, str(error), 422)
    return RedirectResponse("/helpline", status_code=303)
