"""Statistics: the organisation's victims in tables with bar charts, and a population estimate.

The estimate reads a capture-history CSV (one column per list, 0/1, and a count column) and
runs the stepwise log-linear model; the robustness report compares the log-linear methods
and is kept in a private temporary file that only its author may open.
"""

from __future__ import annotations

import csv
import io
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from tiphub.cases import audit
from tiphub.cases.access import NotFoundError, Principal
from tiphub.cases.chain import CSV_COLUMNS, chain_statistics
from tiphub.cases.summary import AGE_BAND_ORDER, age_band_label, organisation_summary
from tiphub.files import write_private_text
from tiphub.web.pages import render_page
from tiphub.web.routers.pages_imports import uploads_root
from tiphub.web.security import engine_of, requires

router = APIRouter()
TEMPLATE = "pages/statistics_summary.html"
TITLE = "Statistics"
MAX_CAPTURE_BYTES = 2 * 1024 * 1024
# Web requests wait for the answer: keep the work small (no bootstrap, log-linear methods).
ESTIMATE_SECONDS = 30.0
REPORT_METHODS = ("main", "stepwise", "aic-stepwise")
REPORT_HOURS = 2
# The report is the estimate package's own page, with its own <style>: allowed for it alone.
REPORT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)


@dataclass(frozen=True)
class _Report:
    username: str
    path: Path
    created: float


_REPORTS: dict[str, _Report] = {}
_REPORTS_LOCK = threading.Lock()


def _keep_report(username: str, html: str) -> str:
    token = secrets.token_urlsafe(24)
    path = uploads_root() / f"robustness-{token}.html"
    write_private_text(path, html)
    with _REPORTS_LOCK:
        now = time.time()
        for old_token, old in list(_REPORTS.items()):
            if now - old.created > REPORT_HOURS * 3600 or old.username == username:
                old.path.unlink(missing_ok=True)
                del _REPORTS[old_token]
        _REPORTS[token] = _Report(username, path, now)
    return token


def _bars(counts: dict[str, int], order: list[str] | None = None) -> list[dict[str, Any]]:
    items = (
        [(key, counts[key]) for key in order if counts.get(key)] if order else list(counts.items())
    )
    largest = max((count for _, count in items), default=0)
    total = sum(count for _, count in items)
    return [
        {
            "label": label,
            "count": count,
            "width": round(100 * count / largest, 1) if largest else 0,
            "share": round(100 * count / total, 1) if total else 0,
        }
        for label, count in items
    ]


def _chain_context(request: Request, principal: Principal, year: int | None) -> dict[str, Any]:
    chain = chain_statistics(engine_of(request), principal, year=year).to_dict()
    steps = chain["funnel"]["steps"]
    largest = max((step["count"] for step in steps), default=0)
    funnel = [
        {
            **step,
            "width": round(100 * step["count"] / largest, 1) if largest else 0,
            "share": None
            if step["share_of_previous"] is None
            else round(100 * step["share_of_previous"], 1),
        }
        for step in steps
    ]
    # One row per interval and mechanism over every organisation and year: the chart; the
    # breakdown by organisation and year is in the CSV.
    overall = [row for row in chain["times"] if row["organisation"] is None and row["year"] is None]
    longest = max((row["p90_days"] or 0 for row in overall), default=0)
    times = [
        {
            **row,
            "median_width": round(100 * (row["median_days"] or 0) / longest, 1) if longest else 0,
            "p90_width": round(100 * (row["p90_days"] or 0) / longest, 1) if longest else 0,
        }
        for row in overall
    ]
    return {
        "chain": chain,
        "funnel": funnel,
        "times": times,
        "chain_year": year,
    }


def _summary_context(request: Request, principal: Principal) -> dict[str, Any]:
    summary = organisation_summary(engine_of(request), principal).to_dict()
    return {
        "summary": summary,
        "by_exploitation_type": _bars(summary["by_exploitation_type"]),
        "by_sex": _bars(summary["by_sex"]),
        "by_age_band": [
            {**bar, "label": age_band_label(bar["label"])}
            for bar in _bars(summary["by_age_band"], AGE_BAND_ORDER)
        ],
        "routes": summary["top_country_pairs"],
    }


@router.get("/statistics", response_class=HTMLResponse)
def statistics_page(
    request: Request,
    principal: Annotated[Principal, Depends(requires("statistics:read"))],
    year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
) -> HTMLResponse:
    return render_page(
        request,
        TEMPLATE,
        TITLE,
        principal,
        **_summary_context(request, principal),
        **_chain_context(request, principal, year),
    )


@router.get("/statistics/chain.csv")
def chain_csv(
    request: Request,
    principal: Annotated[Principal, Depends(requires("statistics:read"))],
    year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
) -> Response:
    """The whole chain as one long CSV: funnel, drop-out, times, overdue, law enforcement."""
    rows = chain_statistics(engine_of(request), principal, year=year).to_csv_rows()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    audit.record_now(
        engine_of(request),
        principal,
        "statistics.export",
        details={"table": "chain", "rows": len(rows), "year": year},
    )
    name = f"tiphub-chain-{year or 'all'}.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/statistics/estimate", response_class=HTMLResponse)
def run_estimate(
    request: Request,
    principal: Annotated[Principal, Depends(requires("statistics:read"))],
    file: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    from tiphub.estimate.api import estimate
    from tiphub.estimate.report import robustness

    context = _summary_context(request, principal)
    data = file.file.read(MAX_CAPTURE_BYTES + 1) if file is not None else b""
    problem: str | None = None
    result: Any = None
    report_token: str | None = None
    if not data:
        problem = "choose a capture-history CSV file"
    elif len(data) > MAX_CAPTURE_BYTES:
        problem = "the capture-history file is larger than 2 MiB"
    else:
        try:
            from tiphub.estimate.table import read_capture_csv

            text = data.decode("utf-8-sig")
            table = read_capture_csv("capture-histories.csv", text=text)[()]
            # The robustness report below compares the methods; no alternatives twice.
            result = estimate(
                table, "stepwise", time_limit=ESTIMATE_SECONDS, alternatives=False
            )
            report = robustness(
                table,
                methods=REPORT_METHODS,
                variant_methods=("stepwise",),
                time_limit=ESTIMATE_SECONDS,
            )
            report_token = _keep_report(principal.username, report.to_html())
        except UnicodeDecodeError:
            problem = "the file is not UTF-8 text"
        except (ValueError, ArithmeticError) as error:
            # The estimate package's messages name rows and columns, never a cell's content.
            problem = str(error) or "the estimate could not be computed from this file"
    audit.record_now(
        engine_of(request),
        principal,
        "estimate.run",
        outcome="ok" if result is not None else "refused",
        details={"method": "stepwise", "lists": len(result.lists) if result is not None else 0},
    )
    interval = result.interval_95 if result is not None else None
    return render_page(
        request,
        TEMPLATE,
        TITLE,
        principal,
        status_code=200 if result is not None else 422,
        estimate=result,
        interval=interval,
        estimate_problem=problem,
        report_token=report_token,
        **context,
        **_chain_context(request, principal, None),
    )


@router.get("/statistics/reports/{token}")
def robustness_report(
    token: str, principal: Annotated[Principal, Depends(requires("statistics:read"))]
) -> Response:
    with _REPORTS_LOCK:
        kept = _REPORTS.get(token)
    if kept is None or kept.username != principal.username or not kept.path.exists():
        raise NotFoundError("no such report")
    return Response(
        kept.path.read_text("utf-8"),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_POLICY},
    )
