"""Detect online in the hub's pages: the review queue of flagged ads and template clusters,
one ad with the words that flagged it, a cluster with its member ads, the hand-overs, and
the weekly statistics drawn as inline SVG.

An ad's words come from pages its collector saved: they may hold scripts, markup or
spreadsheet formulas. They are only ever shown as text: autoescaped by the templates, and
where evidence words are highlighted each piece is escaped before the ``<mark>`` goes round
it. Charts are drawn here as SVG shapes (no script, no library). Storage, scope and the
audit trail are the domain's (``tiphub.online.hub``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import shutil
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as PathPart
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from tiphub.cases.access import NotFoundError, Principal
from tiphub.online import hub
from tiphub.online.ads import Problem
from tiphub.standard.codelists import country_name
from tiphub.web.forms import N_
from tiphub.web.i18n import gettext
from tiphub.web.pages import render_page, request_locale
from tiphub.web.problems import ProblemError
from tiphub.web.routers.pages_imports import uploads_root
from tiphub.web.security import engine_of, requires

router = APIRouter(tags=["pages"], include_in_schema=False)

QUEUE_LENGTH = 200
TEMPLATE_PREVIEW_CHARS = 120
# Characters of context either side of an evidence word in an indicator's excerpt.
EXCERPT_CHARS = 70
MAX_NOTE_CHARS = hub.NOTE_LENGTH
MAX_FILTER_CHARS = 32
MAX_INDICATOR_FILTERS = 50
# Control characters are never part of an id (PostgreSQL refuses NUL in text).
CLUSTER_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
REVIEW_STATUSES = hub.REVIEW_STATUSES
STATUS_LABELS = {
    "new": N_("Not reviewed"),
    "confirmed": N_("Confirmed"),
    "dismissed": N_("Dismissed"),
    "unsure": N_("Unsure"),
}
STATUS_BADGES = {
    "new": "followup",
    "confirmed": "active",
    "dismissed": "closed",
    "unsure": "declined",
}
DECISION_LABELS = {
    "confirmed": N_("Confirmed: the ad shows deceptive recruitment"),
    "dismissed": N_("Dismissed: a false alarm"),
    "unsure": N_("Unsure: needs a second look"),
}
HANDOVER_LABELS = {
    "screening": N_("Open a screening"),
    "police": N_("Refer to the police"),
    "labour_inspectorate": N_("Refer to the labour inspectorate"),
    "takedown": N_("Prepare a takedown request to the platform"),
}
HANDOVER_DONE = {
    "screening": N_("Screening opened"),
    "police": N_("Referred to the police"),
    "labour_inspectorate": N_("Referred to the labour inspectorate"),
    "takedown": N_("Takedown request prepared"),
}
DIMENSIONS = (
    ("indicator", N_("Flags by indicator")),
    ("sector", N_("Flags by sector")),
    ("destination", N_("Flags by destination country")),
)
CLASSIFIER_INDICATOR = "classifier"
UPLOAD_SUFFIXES = (
    ".csv",
    ".tsv",
    ".txt",
    ".jsonl",
    ".ndjson",
    ".json",
    ".html",
    ".htm",
    ".xml",
    ".rss",
    ".atom",
)
COPY_CHUNK = 1024 * 1024
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


# -- indicator wording ------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorInfo:
    id: str
    title: str
    description: str
    strength: str


@cache
def indicator_infos() -> dict[str, IndicatorInfo]:
    """The indicator rules' titles by id (the classifier's words are one more "indicator")."""
    from tiphub.online.indicators import indicator_catalogue

    found = {
        rule.id: IndicatorInfo(rule.id, rule.title, rule.description, rule.strength)
        for rule in indicator_catalogue()
    }
    found.setdefault(
        CLASSIFIER_INDICATOR,
        IndicatorInfo(
            CLASSIFIER_INDICATOR,
            "Classifier: wording like known deceptive ads",
            "The words that raised the classifier's probability most.",
            "medium",
        ),
    )
    return found


def indicator_title(indicator_id: str) -> str:
    info = indicator_infos().get(indicator_id)
    return info.title if info is not None else indicator_id


# -- highlighting: escape first, then mark ----------------------------------------------------


def _spans(text: str, words: Iterable[str]) -> list[tuple[int, int]]:
    """Where the words occur in the text (any case), overlapping occurrences merged."""
    wanted = sorted(
        {word.strip() for word in words if word and word.strip()}, key=len, reverse=True
    )
    if not wanted:
        return []
    pattern = re.compile("|".join(re.escape(word) for word in wanted), re.IGNORECASE)
    merged: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        if end == start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlighted(text: str, words: Iterable[str]) -> Markup:
    """The text as safe HTML with every occurrence of the words in ``<mark>``: each piece of
    the ad is escaped on its own, so nothing of the ad can open or close an element."""
    pieces: list[str] = []
    position = 0
    for start, end in _spans(text, words):
        pieces.append(str(escape(text[position:start])))
        pieces.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    pieces.append(str(escape(text[position:])))
    return Markup("".join(pieces))


def excerpts(text: str, words: Sequence[str]) -> list[Markup]:
    """For each evidence word, the stretch of the ad around its first occurrence, marked."""
    found = []
    for word in words:
        spans = _spans(text, [word])
        if not spans:
            continue
        start, end = spans[0]
        left, right = max(0, start - EXCERPT_CHARS), min(len(text), end + EXCERPT_CHARS)
        snippet = highlighted(" ".join(text[left:right].split()), [word])
        found.append(
            Markup("{}{}{}").format(
                "… " if left else "", snippet, " …" if right < len(text) else ""
            )
        )
    return found


# -- the review queue -------------------------------------------------------------------------


def _score_filter(text: str) -> tuple[float | None, str | None]:
    """A minimum score typed as 0.7, 0,7 or 70 %; or why it is not one."""
    cleaned = text.strip().rstrip("%").strip().replace(",", ".")
    if not cleaned:
        return None, None
    try:
        if len(cleaned) > MAX_FILTER_CHARS:
            raise ValueError(cleaned)
        value = float(cleaned)
    except ValueError:
        return None, N_("Enter the lowest score as a number between 0 and 1.")
    if not math.isfinite(value) or value < 0:
        return None, N_("Enter the lowest score as a number between 0 and 1.")
    if value > 1:
        value = value / 100 if value <= 100 else 2.0
    if value > 1:
        return None, N_("Enter the lowest score as a number between 0 and 1.")
    return value, None


def _queue_order(ad: hub.StoredAd) -> tuple[int, float, str]:
    # Undecided ads first, the likeliest at the top.
    return (0 if ad.review_status == "new" else 1, -(ad.score or 0.0), ad.ad_id)


def _cluster_rows(
    clusters: Sequence[hub.StoredCluster], ads: Sequence[hub.StoredAd]
) -> list[dict[str, Any]]:
    flagged = {ad.ad_id for ad in ads if ad.flagged}
    rows = [
        {
            "id": cluster.id,
            "size": len(cluster.ad_ids),
            "flagged": sum(1 for ad_id in cluster.ad_ids if ad_id in flagged),
            "contacts": len(cluster.contacts),
            "template": _preview(cluster.template),
        }
        for cluster in clusters
    ]
    return sorted(rows, key=lambda row: (-row["flagged"], -row["size"], row["id"]))


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TEMPLATE_PREVIEW_CHARS else flat[: TEMPLATE_PREVIEW_CHARS - 1] + "…"


def _ad_row(ad: hub.StoredAd) -> dict[str, Any]:
    return {
        "ad": ad,
        "status_label": STATUS_LABELS.get(ad.review_status, ad.review_status),
        "badge": STATUS_BADGES.get(ad.review_status, "followup"),
        "indicators": [(hit.id, indicator_title(hit.id)) for hit in ad.indicators],
        "title": _preview(ad.title or ad.text),
    }


@router.get("/online", response_class=HTMLResponse)
def online_queue(
    request: Request,
    principal: Annotated[Principal, Depends(requires("online:read"))],
    status: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = "",
    min_score: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = "",
    indicator: Annotated[list[str] | None, Query()] = None,
    show: Annotated[str, Query(max_length=MAX_FILTER_CHARS)] = "flagged",
) -> HTMLResponse:
    engine = engine_of(request)
    wanted_status = status if status in REVIEW_STATUSES else None
    flagged_only = show != "all"
    lowest, score_error = _score_filter(min_score)
    # The flagged ads are filtered in the database; every ad only when asked for.
    flagged_ads = hub.stored_ads(engine, principal, flagged_only=True)
    candidates = flagged_ads if flagged_only else hub.stored_ads(engine, principal)
    catalogue = indicator_infos()
    known = {hit.id for ad in candidates for hit in ad.indicators}
    chosen = [
        code
        for code in (indicator or [])[:MAX_INDICATOR_FILTERS]
        if code in catalogue or code in known
    ]
    matching = [
        ad
        for ad in candidates
        if (wanted_status is None or ad.review_status == wanted_status)
        and (lowest is None or (ad.score is not None and ad.score >= lowest))
        and all(any(hit.id == code for hit in ad.indicators) for code in chosen)
    ]
    matching.sort(key=_queue_order)
    options = sorted(set(catalogue) | known, key=lambda code: indicator_title(code).casefold())
    return render_page(
        request,
        "pages/online_queue.html",
        N_("Online ads to review"),
        principal,
        status_code=422 if score_error else 200,
        ads=[_ad_row(ad) for ad in matching[:QUEUE_LENGTH]],
        matching=len(matching),
        flagged_total=len(flagged_ads),
        clusters=_cluster_rows(hub.stored_clusters(engine, principal), flagged_ads),
        statuses=[(code, STATUS_LABELS[code]) for code in REVIEW_STATUSES],
        indicator_options=[(code, indicator_title(code)) for code in options],
        filters={
            "status": wanted_status or "",
            "min_score": min_score,
            "indicator": chosen,
            "show": "all" if not flagged_only else "flagged",
        },
        score_error=score_error,
        can_ingest=principal.can("online:ingest"),
    )


# -- one ad -----------------------------------------------------------------------------------


def _handover_rows(found: Iterable[hub.Handover]) -> list[dict[str, Any]]:
    return [
        {
            "handover": item,
            "label": HANDOVER_DONE.get(item.kind, item.kind),
        }
        for item in sorted(found, key=lambda item: item.created_at, reverse=True)
    ]


def _render_ad(
    request: Request,
    principal: Principal,
    ad: hub.StoredAd,
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    engine = engine_of(request)
    words = [word for hit in ad.indicators for word in hit.evidence]
    full_text = "\n\n".join(part for part in (ad.title, ad.text) if part)
    indicators = [
        {
            "id": hit.id,
            "info": indicator_infos().get(hit.id),
            "title": indicator_title(hit.id),
            "evidence": list(hit.evidence),
            "excerpts": excerpts(full_text, hit.evidence),
        }
        for hit in ad.indicators
    ]
    handed = [item for item in hub.handovers(engine, principal) if item.row_id == ad.row_id]
    return render_page(
        request,
        "pages/online_ad.html",
        N_("Online ad"),
        principal,
        status_code=status_code,
        ad=ad,
        row=_ad_row(ad),
        marked_text=highlighted(ad.text, words),
        marked_title=highlighted(ad.title or "", words),
        indicators=indicators,
        destination=country_name(ad.destination_country) if ad.destination_country else "",
        decisions=list(DECISION_LABELS.items()),
        handover_kinds=list(HANDOVER_LABELS.items()),
        handovers=_handover_rows(handed),
        custody=[
            {
                "at": event.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "actor": event.actor,
                "action": event.action,
                "detail": event.detail,
            }
            for event in hub.custody_chain(engine, principal, ad.row_id)
        ],
        can_review=principal.can("online:review"),
        messages=[("error", gettext(request_locale(request), problem))] if problem else [],
    )


@router.get("/online/ads/{id}", response_class=HTMLResponse)
def online_ad(
    request: Request,
    id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("online:read"))],
) -> HTMLResponse:
    return _render_ad(request, principal, hub.get_ad(engine_of(request), principal, id))


def _note(text: str) -> str | None:
    cleaned = text.strip()
    if len(cleaned) > MAX_NOTE_CHARS:
        raise ProblemError(422, f"the note is too long (at most {MAX_NOTE_CHARS:,} characters)")
    return cleaned or None


@router.post("/online/ads/{id}/decision")
def online_ad_decide(
    request: Request,
    id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("online:review"))],
    decision: Annotated[str, Form(max_length=MAX_FILTER_CHARS)] = "",
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS * 2)] = "",
) -> Response:
    engine = engine_of(request)
    ad = hub.get_ad(engine, principal, id)
    if decision not in hub.REVIEW_DECISIONS:
        return _render_ad(request, principal, ad, N_("Choose confirmed, dismissed or unsure."), 422)
    hub.review_ad(engine, principal, ad.row_id, decision, _note(note))
    return RedirectResponse(f"/online/ads/{ad.row_id}#review-heading", status_code=303)


@router.post("/online/ads/{id}/handover")
def online_ad_handover(
    request: Request,
    id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("online:review"))],
    kind: Annotated[str, Form(max_length=MAX_FILTER_CHARS)] = "",
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS * 2)] = "",
) -> Response:
    engine = engine_of(request)
    ad = hub.get_ad(engine, principal, id)
    if kind not in hub.HANDOVER_KINDS:
        return _render_ad(request, principal, ad, N_("Choose whom to hand the ad over to."), 422)
    try:
        hub.hand_over(engine, principal, kind=kind, row_id=ad.row_id, note=_note(note))
    except ValueError as refused:
        return _render_ad(request, principal, hub.get_ad(engine, principal, id), str(refused), 409)
    return RedirectResponse(f"/online/ads/{ad.row_id}#handovers-heading", status_code=303)


# -- one cluster ------------------------------------------------------------------------------


def _cluster(request: Request, principal: Principal, cluster_id: str) -> hub.StoredCluster:
    for cluster in hub.stored_clusters(engine_of(request), principal):
        if cluster.id == cluster_id:
            return cluster
    raise NotFoundError("no such cluster")


def _render_cluster(
    request: Request,
    principal: Principal,
    cluster: hub.StoredCluster,
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    engine = engine_of(request)
    members = set(cluster.ad_ids)
    ads = sorted(
        (ad for ad in hub.stored_ads(engine, principal) if ad.ad_id in members),
        key=_queue_order,
    )
    handed = [item for item in hub.handovers(engine, principal) if item.cluster_id == cluster.id]
    return render_page(
        request,
        "pages/online_cluster.html",
        N_("Template cluster"),
        principal,
        status_code=status_code,
        cluster=cluster,
        ads=[_ad_row(ad) for ad in ads],
        flagged=sum(1 for ad in ads if ad.flagged),
        handover_kinds=list(HANDOVER_LABELS.items()),
        handovers=_handover_rows(handed),
        can_review=principal.can("online:review"),
        messages=[("error", gettext(request_locale(request), problem))] if problem else [],
    )


@router.get("/online/clusters/{id}", response_class=HTMLResponse)
def online_cluster(
    request: Request,
    id: Annotated[str, PathPart(max_length=hub.CLUSTER_ID_LENGTH, pattern=CLUSTER_ID_PATTERN)],
    principal: Annotated[Principal, Depends(requires("online:read"))],
) -> HTMLResponse:
    return _render_cluster(request, principal, _cluster(request, principal, id))


@router.post("/online/clusters/{id}/handover")
def online_cluster_handover(
    request: Request,
    id: Annotated[str, PathPart(max_length=hub.CLUSTER_ID_LENGTH, pattern=CLUSTER_ID_PATTERN)],
    principal: Annotated[Principal, Depends(requires("online:review"))],
    kind: Annotated[str, Form(max_length=MAX_FILTER_CHARS)] = "",
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS * 2)] = "",
) -> Response:
    cluster = _cluster(request, principal, id)
    if kind not in hub.HANDOVER_KINDS:
        return _render_cluster(
            request, principal, cluster, N_("Choose whom to hand the cluster over to."), 422
        )
    try:
        hub.hand_over(
            engine_of(request), principal, kind=kind, cluster_id=cluster.id, note=_note(note)
        )
    except ValueError as refused:
        return _render_cluster(request, principal, cluster, str(refused), 409)
    return RedirectResponse(f"/online/clusters/{cluster.id}#handovers-heading", status_code=303)


@router.get("/online/handovers/{id}/request.txt")
def online_handover_text(
    request: Request,
    id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("online:read"))],
) -> Response:
    """A takedown request as a text file, to send to the platform as it stands."""
    for item in hub.handovers(engine_of(request), principal):
        if item.id == id and item.text is not None:
            return Response(
                item.text,
                media_type="text/plain; charset=utf-8",
                headers={
                    "Content-Disposition": (
                        f'attachment; filename="takedown-request-{str(item.id)[:8]}.txt"'
                    )
                },
            )
    raise NotFoundError("no such takedown request")


# -- weekly statistics ------------------------------------------------------------------------

CHART_WIDTH = 640
CHART_HEIGHT = 220
CHART_LEFT = 64
CHART_RIGHT = 12
CHART_TOP = 12
CHART_BOTTOM = 46
LINE_SERIES = 6
BAR_COUNT = 10
BAR_HEIGHT = 18
BAR_GAP = 6
BAR_LABEL_WIDTH = 280
BAR_LABEL_CHARS = 40
# Colour-blind-safe (Okabe–Ito), dark enough on white for thin lines.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    points: str  # SVG polyline points
    markers: list[tuple[float, float, int]]  # x, y, flags


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    bottom: float
    right: float
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    series: list[Series]


@dataclass(frozen=True)
class BarRow:
    label: str
    flags: int
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_width: int
    label_chars: int
    bars: list[BarRow]


@dataclass
class DimensionView:
    id: str
    title: str
    weeks: list[str]
    # (value's label, flags per week in the order of ``weeks``, total)
    table: list[tuple[str, list[int], int]]
    line: LineChart | None = None
    bars: BarChart | None = None


def _value_label(dimension: str, value: str) -> str:
    if dimension == "indicator":
        return indicator_title(value)
    if dimension == "destination" and len(value) == 2 and value.isalpha():
        return f"{country_name(value.upper())} ({value.upper()})"
    return value


def _nice_top(largest: int) -> int:
    """The y axis's top: the largest count rounded up to 1, 2 or 5 times a power of ten."""
    if largest <= 5:
        return max(largest, 1)
    power = int(10 ** math.floor(math.log10(largest)))
    for step in (1, 2, 5, 10):
        if largest <= step * power:
            return step * power
    return 10 * power


def line_chart(weeks: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> LineChart:
    """Flags per week, one line per value; coordinates in the SVG's own units."""
    plot_width = CHART_WIDTH - CHART_LEFT - CHART_RIGHT
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    bottom = CHART_TOP + plot_height
    top = _nice_top(max((max(counts, default=0) for _, counts in series), default=0))

    def x_of(index: int) -> float:
        if len(weeks) == 1:
            return CHART_LEFT + plot_width / 2
        return round(CHART_LEFT + plot_width * index / (len(weeks) - 1), 1)

    def y_of(count: int) -> float:
        return round(bottom - plot_height * count / top, 1)

    # At most about eight week labels, so that they never overlap.
    every = max(1, math.ceil(len(weeks) / 8))
    x_ticks = [Tick(x_of(i), week) for i, week in enumerate(weeks) if i % every == 0]
    # Gridlines at whole numbers, evenly spaced: top is at most 5, or 1, 2 or 5 × 10ⁿ.
    steps = top if top <= 5 else (4 if top % 4 == 0 else 5)
    y_ticks = [Tick(y_of(top * i // steps), str(top * i // steps)) for i in range(steps + 1)]
    drawn = []
    for number, (label, counts) in enumerate(series):
        markers = [(x_of(i), y_of(count), count) for i, count in enumerate(counts)]
        drawn.append(
            Series(
                label=label,
                colour=PALETTE[number % len(PALETTE)],
                points=" ".join(f"{x},{y}" for x, y, _ in markers),
                markers=markers,
            )
        )
    return LineChart(
        CHART_WIDTH,
        CHART_HEIGHT,
        CHART_LEFT,
        bottom,
        CHART_WIDTH - CHART_RIGHT,
        x_ticks,
        y_ticks,
        drawn,
    )


def bar_chart(totals: Sequence[tuple[str, int]]) -> BarChart:
    largest = max((flags for _, flags in totals), default=0) or 1
    room = CHART_WIDTH - BAR_LABEL_WIDTH - 50
    bars = [
        BarRow(label, flags, index * (BAR_HEIGHT + BAR_GAP), round(room * flags / largest, 1))
        for index, (label, flags) in enumerate(totals)
    ]
    height = max(1, len(bars)) * (BAR_HEIGHT + BAR_GAP)
    return BarChart(CHART_WIDTH, height, BAR_LABEL_WIDTH, BAR_LABEL_CHARS, bars)


def dimension_views(rows: Sequence[dict[str, Any]]) -> list[DimensionView]:
    """Per dimension: the table of flags per value and week, the weekly lines of the most
    flagged values, and the bars of every value's total (the largest ten)."""
    weeks = sorted({str(row["week"]) for row in rows})
    views = []
    for dimension, title in DIMENSIONS:
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for row in rows:
            if row["dimension"] == dimension:
                value = str(row["value"])
                counts[value][str(row["week"])] = counts[value].get(str(row["week"]), 0) + int(
                    row["flags"]
                )
        ranked = sorted(counts, key=lambda value: (-sum(counts[value].values()), value))
        table = [
            (
                _value_label(dimension, value),
                [counts[value].get(week, 0) for week in weeks],
                sum(counts[value].values()),
            )
            for value in ranked
        ]
        view = DimensionView(dimension, title, weeks, table)
        if table:
            view.line = line_chart(
                weeks, [(label, per_week) for label, per_week, _ in table[:LINE_SERIES]]
            )
            view.bars = bar_chart([(label, total) for label, _, total in table[:BAR_COUNT]])
        views.append(view)
    return views


@router.get("/online/statistics", response_class=HTMLResponse)
def online_statistics(
    request: Request, principal: Annotated[Principal, Depends(requires("online:read"))]
) -> HTMLResponse:
    rows = hub.weekly_statistics(engine_of(request), principal)
    return render_page(
        request,
        "pages/online_statistics.html",
        N_("Online flags by week"),
        principal,
        views=dimension_views(rows),
        has_rows=bool(rows),
    )


# -- upload -----------------------------------------------------------------------------------


def _upload_name(filename: str | None) -> str:
    """The uploaded file's own name, reduced to safe characters, with a suffix the reader
    knows (the reader tells formats apart by it)."""
    name = _UNSAFE_NAME.sub("_", Path(filename or "").name).strip("._") or "upload"
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        name += ".csv"
    return name[-120:]


def _render_ingest(
    request: Request, principal: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render_page(
        request,
        "pages/online_ingest.html",
        N_("Add online ads"),
        principal,
        status_code=status_code,
        **context,
    )


@router.get("/online/ingest", response_class=HTMLResponse)
def online_ingest_form(
    request: Request, principal: Annotated[Principal, Depends(requires("online:ingest"))]
) -> HTMLResponse:
    return _render_ingest(request, principal)


def _problem_rows(problems: Sequence[Problem], name: str) -> list[dict[str, Any]]:
    return [
        {"file": name, "row": problem.row, "field": problem.field, "message": problem.message}
        for problem in problems
    ]


@router.post("/online/ingest", response_class=HTMLResponse)
def online_ingest(
    request: Request,
    principal: Annotated[Principal, Depends(requires("online:ingest"))],
    file: Annotated[UploadFile | None, File()] = None,
    screen: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    from tiphub.online.ingest import read_inputs

    if principal.organisation is None:
        return _render_ingest(
            request, principal, 400, error=N_("Only a member of an organisation adds ads here.")
        )
    if file is None or not file.filename:
        return _render_ingest(request, principal, 422, error=N_("Choose a file of ads."))
    name = _upload_name(file.filename)
    folder = Path(tempfile.mkdtemp(prefix="online-", dir=uploads_root()))
    try:
        path = folder / name
        with path.open("xb") as handle:
            shutil.copyfileobj(file.file, handle, COPY_CHUNK)
        path.chmod(0o600)
        read = read_inputs([path])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    warnings = _problem_rows(read.warnings, name)
    if read.errors:
        return _render_ingest(
            request,
            principal,
            422,
            error=N_("The file has errors; nothing was stored."),
            errors=_problem_rows(read.errors, name),
            warnings=warnings,
        )
    # The ads remember the name the user gave the file, not the temporary copy's place.
    ads = [dataclasses.replace(ad, source=name) for ad in read.ads]
    engine = engine_of(request)
    try:
        outcome = hub.ingest_ads(engine, principal, ads)
    except hub.IngestError as refused:
        return _render_ingest(
            request,
            principal,
            422,
            error=N_("The file has errors; nothing was stored."),
            errors=_problem_rows(refused.problems, name),
            warnings=warnings,
        )
    except ValueError as refused:
        return _render_ingest(request, principal, 422, error=str(refused), warnings=warnings)
    screened = None
    if screen and outcome.stored:
        from tiphub.online.pipeline import screen_stored

        screened = screen_stored(engine, principal)
    return _render_ingest(
        request,
        principal,
        outcome=outcome,
        warnings=warnings + _problem_rows(outcome.changed, name),
        screened=screened,
    )
