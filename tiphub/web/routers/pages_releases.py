"""Data releases in the hub's pages, and the public data page.

Signed in, an analyst builds a release from the de-identified view of their organisation's
cases (``/releases``), reads its review report and utility figures, and a supervisor who did
not build it approves it and publishes it. Published releases appear on ``/data`` for
anyone, without signing in: the public files only (never the review report or the metrics,
which measure the release against the real data), the privacy parameters in plain words,
and charts drawn from the released counts alone.
"""

from __future__ import annotations

import csv
import io
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import Engine

from tiphub.cases import accounts, audit
from tiphub.cases.access import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    Principal,
)
from tiphub.release.api import METHODS, ReleaseRequest
from tiphub.release.bundle import PUBLIC_FILES, REVIEW_FILES
from tiphub.release.publishing import (
    DEFAULT_DELTA_TOTAL,
    DEFAULT_EPSILON_TOTAL,
    ReleaseInfo,
    approve_release,
    budget_of,
    get_release,
    hub_dataset,
    list_releases,
    publish_release,
    published_file,
    published_releases,
    release_bundle,
)
from tiphub.web.forms import N_
from tiphub.web.pages import render_page
from tiphub.web.routers.api_releases import (
    MAX_COMBINATION,
    MAX_TITLE_CHARS,
    build,
    plain_reason,
)
from tiphub.web.routers.pages_cases import first, form_data
from tiphub.web.security import (
    SESSION_COOKIE,
    SubmittedForm,
    client_source,
    engine_of,
    public,
    requires,
)

router = APIRouter(tags=["pages"], include_in_schema=False)

# The review report is the release package's own page, with its own <style> and inline SVG:
# allowed for it alone, and nothing else (no scripts, no requests, no forms).
REPORT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)
MEDIA_TYPES = {
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
}
METHOD_LABELS = {
    "k-anon": N_("Synthetic records and counts, k-anonymous"),
    "dp": N_("Synthetic records and counts, differentially private"),
    "aggregates": N_("Counts only"),
}
STATUS_LABELS = {
    "draft": N_("Draft"),
    "approved": N_("Approved"),
    "published": N_("Published"),
}
# Badge colours of the style sheet, by release status.
STATUS_BADGES = {"draft": "pending", "approved": "active", "published": "completed"}
FILE_LABELS = {
    "synthetic.csv": N_("Synthetic records (CSV, CTDC layout)"),
    "aggregates.csv": N_("Counts of combinations of values (CSV)"),
    "codebook.csv": N_("Codebook: what each column means (CSV)"),
    "privacy.json": N_("Privacy parameters (JSON)"),
    "metrics.json": N_("Utility and risk figures (JSON, for review only)"),
    "report.html": N_("Review report (HTML, for review only)"),
}
NOT_A_NUMBER = N_("Enter a number.")
NOT_A_WHOLE_NUMBER = N_("Enter a whole number.")
FIX_ERRORS = N_("Some answers need correcting. Nothing was built.")
MAX_NUMBER_CHARS = 32
NEW_TITLE = N_("New release")
# Charts on the public page: the largest released counts of each column.
CHART_BARS = 10


def _media_type(name: str) -> str:
    return MEDIA_TYPES.get(name[name.rfind(".") :], "application/octet-stream")


def _download(content: bytes, name: str, release_id: uuid.UUID) -> Response:
    filename = f"tiphub-release-{str(release_id)[:8]}-{name}"
    return Response(
        content,
        media_type=_media_type(name),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _parameters_text(info: ReleaseInfo) -> str:
    """k, or ε and δ: the release's privacy parameter in a few characters."""
    parameters = info.parameters
    if info.method == "dp":
        return f"ε = {_number(parameters.get('epsilon'))}, δ = {_number(parameters.get('delta'))}"
    return f"k = {parameters.get('k', '')}"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return f"{value:g}"


def _release_row(info: ReleaseInfo) -> dict[str, Any]:
    return {
        "info": info,
        "method_label": METHOD_LABELS.get(info.method, info.method),
        "status_label": STATUS_LABELS.get(info.status, info.status),
        "badge": STATUS_BADGES.get(info.status, "pending"),
        "parameters": _parameters_text(info),
    }


# --- signed in: the list, building, review, approval --------------------------------------


@router.get("/releases")
def releases_page(
    request: Request,
    principal: Annotated[Principal, Depends(requires("release:build", "release:approve"))],
) -> Response:
    engine = engine_of(request)
    found = list_releases(engine, principal)
    return render_page(
        request,
        "pages/releases_list.html",
        N_("Releases"),
        principal,
        releases=[_release_row(info) for info in found],
        budget=budget_of(engine, hub_dataset(principal)),
        default_epsilon=_number(DEFAULT_EPSILON_TOTAL),
        default_delta=_number(DEFAULT_DELTA_TOTAL),
        can_build=principal.can("release:build"),
    )


def _render_form(
    request: Request,
    principal: Principal,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    engine = engine_of(request)
    return render_page(
        request,
        "pages/release_form.html",
        NEW_TITLE,
        principal,
        status_code=status_code,
        values=values,
        errors=errors or {},
        problem=problem,
        methods=[(method, METHOD_LABELS[method]) for method in METHODS],
        budget=budget_of(engine, hub_dataset(principal)),
        default_epsilon=_number(DEFAULT_EPSILON_TOTAL),
        default_delta=_number(DEFAULT_DELTA_TOTAL),
        max_title=MAX_TITLE_CHARS,
        max_combination=MAX_COMBINATION,
    )


@router.get("/releases/new")
def release_form(
    request: Request, principal: Annotated[Principal, Depends(requires("release:build"))]
) -> Response:
    values = {"title": "", "method": "k-anon", "k": "11", "max_combination": "3"}
    return _render_form(request, principal, values)


def _whole(text: str, errors: dict[str, str], name: str) -> int | None:
    if not text:
        return None
    if len(text) > MAX_NUMBER_CHARS:
        errors[name] = NOT_A_WHOLE_NUMBER
        return None
    try:
        return int(text)
    except ValueError:
        errors[name] = NOT_A_WHOLE_NUMBER
        return None


def _decimal(text: str, errors: dict[str, str], name: str) -> float | None:
    if not text:
        return None
    try:
        if len(text) > MAX_NUMBER_CHARS:
            raise ValueError(text)
        # A decimal comma is how much of the world writes 0,5.
        value = float(text.replace(",", "."))
    except ValueError:
        errors[name] = NOT_A_NUMBER
        return None
    if not math.isfinite(value):
        errors[name] = NOT_A_NUMBER
        return None
    return value


def parse_release_form(
    data: dict[str, list[str]],
) -> tuple[dict[str, str], dict[str, str], ReleaseRequest | None]:
    """The submitted values (to show again), errors by field, and the request if none."""
    values = {
        name: first(data, name).strip()
        for name in ("title", "method", "k", "max_combination", "epsilon", "delta")
    }
    errors: dict[str, str] = {}
    title = values["title"]
    if not title:
        errors["title"] = N_("Give the release a title: it is shown on the public data page.")
    elif len(title) > MAX_TITLE_CHARS:
        errors["title"] = N_("The title is too long (at most 300 characters).")
    method = values["method"]
    if method not in METHODS:
        errors["method"] = N_("Choose a method.")
    k = _whole(values["k"], errors, "k")
    longest = _whole(values["max_combination"], errors, "max_combination")
    if longest is not None and longest > MAX_COMBINATION:
        errors["max_combination"] = N_(
            "At most 4 values together: longer combinations take too long to measure here."
        )
    epsilon = delta = None
    if method == "dp":
        epsilon = _decimal(values["epsilon"], errors, "epsilon")
        delta = _decimal(values["delta"], errors, "delta")
    if errors:
        return values, errors, None
    wanted = ReleaseRequest(
        method=method,
        k=11 if k is None else k,
        max_length=3 if longest is None else longest,
        epsilon=epsilon,
        delta=delta,
        title=title,
    )
    return values, errors, wanted


@router.post("/releases")
def release_submit(
    request: Request,
    principal: Annotated[Principal, Depends(requires("release:build"))],
    form: SubmittedForm,
) -> Response:
    values, errors, wanted = parse_release_form(form_data(form))
    if wanted is None:
        return _render_form(request, principal, values, errors, FIX_ERRORS, 422)
    try:
        info = build(engine_of(request), principal, wanted)
    except ValueError as refused:
        return _render_form(request, principal, values, None, plain_reason(refused), 422)
    return RedirectResponse(f"/releases/{info.id}", status_code=303)


def _render_release(
    request: Request,
    principal: Principal,
    info: ReleaseInfo,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    summary = info.summary or {}
    utility = summary.get("utility") or {}
    files = [name for name in PUBLIC_FILES if name in (info.parameters.get("files") or [])]
    return render_page(
        request,
        "pages/release_detail.html",
        info.title,
        principal,
        status_code=status_code,
        release=_release_row(info),
        info=info,
        by_length=list(utility.get("by_length") or []),
        overall=utility.get("overall"),
        attack=summary.get("attack"),
        files=[(name, FILE_LABELS[name]) for name in [*files, "metrics.json"]],
        can_approve=principal.can("release:approve"),
        own=info.created_by == principal.username,
        messages=[("error", problem)] if problem else [],
    )


@router.get("/releases/{release_id}")
def release_page(
    request: Request,
    release_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("release:build", "release:approve"))],
) -> Response:
    return _render_release(
        request, principal, get_release(engine_of(request), principal, release_id)
    )


Step = Callable[[Engine, Principal, uuid.UUID], ReleaseInfo]


def _move(request: Request, principal: Principal, release_id: uuid.UUID, step: Step) -> Response:
    engine = engine_of(request)
    try:
        step(engine, principal, release_id)
    except PermissionDeniedError as refused:
        return _render_release(
            request, principal, get_release(engine, principal, release_id), str(refused), 403
        )
    except ConflictError as refused:
        return _render_release(
            request, principal, get_release(engine, principal, release_id), str(refused), 409
        )
    return RedirectResponse(f"/releases/{release_id}", status_code=303)


@router.post("/releases/{release_id}/approve")
def release_approve(
    request: Request,
    release_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("release:approve"))],
) -> Response:
    return _move(request, principal, release_id, approve_release)


@router.post("/releases/{release_id}/publish")
def release_publish(
    request: Request,
    release_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("release:approve"))],
) -> Response:
    return _move(request, principal, release_id, publish_release)


def _review_file(request: Request, principal: Principal, release_id: uuid.UUID, name: str) -> bytes:
    if name not in PUBLIC_FILES and name not in REVIEW_FILES:
        raise NotFoundError("no such file")
    engine = engine_of(request)
    files = release_bundle(engine, principal, release_id).files
    if name not in files:
        raise NotFoundError("no such file")
    # The review files measure the release against the real data: who read them is recorded.
    audit.record_now(
        engine,
        principal,
        "release.download",
        durable=False,
        resource_type="data_release",
        resource_id=release_id,
        details={"file": name},
    )
    return files[name]


@router.get("/releases/{release_id}/report")
def release_report(
    request: Request,
    release_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("release:build", "release:approve"))],
) -> Response:
    content = _review_file(request, principal, release_id, "report.html")
    return Response(
        content,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_POLICY},
    )


@router.get("/releases/{release_id}/files/{name}")
def release_file(
    request: Request,
    release_id: uuid.UUID,
    name: str,
    principal: Annotated[Principal, Depends(requires("release:build", "release:approve"))],
) -> Response:
    content = _review_file(request, principal, release_id, name)
    response = _download(content, name, release_id)
    if name.endswith(".html"):
        response.headers["Content-Security-Policy"] = REPORT_POLICY
    return response


# --- public: the data page -------------------------------------------------------------------


def _visitor(request: Request) -> Principal | None:
    """Whoever is signed in, for the header and the navigation only: the public pages show
    everyone the same data."""
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    try:
        return accounts.resolve_token(engine_of(request), secret, "session", client_source(request))
    except accounts.AuthenticationError:
        return None


def _published(request: Request, release_id: str) -> ReleaseInfo:
    """A published release, or 404 for anything else (unknown, draft, approved, malformed)."""
    try:
        wanted = uuid.UUID(release_id)
    except ValueError:
        raise NotFoundError("no such release") from None
    for info in published_releases(engine_of(request)):
        if info.id == wanted:
            return info
    raise NotFoundError("no such release")


@router.get("/data")
def data_page(request: Request, _: Annotated[None, Depends(public())]) -> Response:
    found = published_releases(engine_of(request))
    return render_page(
        request,
        "pages/public_data.html",
        N_("Open data"),
        _visitor(request),
        releases=[_public_row(info) for info in found],
    )


def _public_row(info: ReleaseInfo) -> dict[str, Any]:
    files = [name for name in PUBLIC_FILES if name in (info.parameters.get("files") or [])]
    return {
        **_release_row(info),
        "released_rows": info.parameters.get("released_rows"),
        "files": [(name, FILE_LABELS[name]) for name in files],
    }


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    width: float  # per cent of the largest bar of its chart


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    bars: list[Bar]
    released: int  # values of the column released (more than the bars when cut)


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def release_charts(aggregates: bytes, codebook: bytes) -> list[Chart]:
    """Bar charts of the largest released counts of single values, one per column; yes/no
    columns (flags) together, grouped by the part of their label before the colon.

    Drawn from the released files alone: the counts are the published (suppressed,
    rounded or noisy) ones, never the real data's.
    """
    columns = {row["variable"]: row for row in _csv_rows(codebook)}
    singles: dict[str, list[tuple[str, int]]] = {}
    for row in _csv_rows(aggregates):
        combination = row.get("combination") or ""
        if ";" in combination or "=" not in combination:
            continue
        name, _, value = combination.partition("=")
        try:
            count = int(float(row.get("count") or ""))
        except ValueError:
            continue
        if count > 0 and name in columns:
            singles.setdefault(name, []).append((value, count))
    # (title, bars in the order shown, how many values were released)
    found: list[tuple[str, list[tuple[str, int]], int]] = []
    flags: dict[str, list[tuple[str, int]]] = {}
    for name, column in columns.items():
        if name not in singles:
            continue
        label = column.get("label") or name
        if column.get("type") == "flag":
            group, _, item = label.partition(":")
            flags.setdefault(group.strip() if item else label, []).extend(
                (item.strip() or label, count) for _, count in singles[name]
            )
            continue
        largest = sorted(singles[name], key=lambda pair: -pair[1])[:CHART_BARS]
        if column.get("type") != "country":
            # Years, age bands, durations: in their own order, not by size.
            order = {value: i for i, value in enumerate((column.get("domain") or "").split("|"))}
            largest.sort(key=lambda pair: order.get(pair[0], len(order)))
        found.append((label, largest, len(singles[name])))
    for title, pairs in flags.items():
        found.append((title, sorted(pairs, key=lambda pair: -pair[1])[:CHART_BARS], len(pairs)))
    charts = []
    for number, (title, pairs, released) in enumerate(found, start=1):
        largest_count = max(count for _, count in pairs)
        bars = [Bar(label, count, round(100 * count / largest_count, 1)) for label, count in pairs]
        charts.append(Chart(f"chart-{number}", title, bars, released))
    return charts


def _privacy_words(privacy: dict[str, Any]) -> dict[str, Any]:
    """The numbers the public page puts into words (see public_data_release.html)."""
    epsilon = privacy.get("epsilon")
    aggregates = privacy.get("aggregates")
    rounding = privacy.get("rounding") or (
        aggregates.get("rounding") if isinstance(aggregates, dict) else None
    )
    return {
        "method": privacy.get("method"),
        "k": privacy.get("k"),
        "longest": privacy.get("max_combination"),
        "epsilon": _number(epsilon),
        "delta": _number(privacy.get("delta")),
        "factor": f"{math.exp(epsilon):.3g}"
        if isinstance(epsilon, int | float) and 0 < epsilon < 50
        else "",
        "rounding": rounding,
        "released_rows": privacy.get("released_rows"),
        "date": privacy.get("date"),
    }


@router.get("/data/{release_id}")
def public_release_page(
    request: Request, release_id: str, _: Annotated[None, Depends(public())]
) -> Response:
    info = _published(request, release_id)
    engine = engine_of(request)
    privacy = json.loads(published_file(engine, info.id, "privacy.json"))
    charts = release_charts(
        published_file(engine, info.id, "aggregates.csv"),
        published_file(engine, info.id, "codebook.csv"),
    )
    return render_page(
        request,
        "pages/public_data_release.html",
        info.title,
        _visitor(request),
        release=_public_row(info),
        info=info,
        privacy=_privacy_words(privacy),
        charts=charts,
    )


@router.get("/data/{release_id}/{name}")
def public_release_file(
    request: Request, release_id: str, name: str, _: Annotated[None, Depends(public())]
) -> Response:
    info = _published(request, release_id)
    return _download(published_file(engine_of(request), info.id, name), name, info.id)
