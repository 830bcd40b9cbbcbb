"""The auditor's view of the audit log: filter, page back in time, verify the hash chain."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from tiphub.cases import audit
from tiphub.cases.access import Principal
from tiphub.web.pages import render_page
from tiphub.web.security import engine_of, requires

router = APIRouter()
TEMPLATE = "pages/audit_log.html"
TITLE = "Audit log"
PAGE_SIZE = 50


def _entries_context(
    request: Request,
    principal: Principal,
    actor: str,
    action: str,
    flagged: bool,
    before: int | None,
) -> dict[str, Any]:
    filters = audit.AuditFilter(
        actor=actor.strip() or None, action=action.strip() or None, flagged_only=flagged
    )
    entries = audit.browse(engine_of(request), principal, filters, PAGE_SIZE, before)
    next_url = None
    if len(entries) == PAGE_SIZE:
        query = {"actor": actor, "action": action, "before": entries[-1]["sequence"]}
        if flagged:
            query["flagged"] = "yes"
        next_url = "/audit?" + urlencode({k: v for k, v in query.items() if v not in ("", None)})
    return {
        "entries": entries,
        "filters": {"actor": actor, "action": action, "flagged": flagged},
        "next_url": next_url,
        "first_url": "/audit" if before is not None else None,
    }


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    principal: Annotated[Principal, Depends(requires("audit:read"))],
    actor: Annotated[str, Query(max_length=200)] = "",
    action: Annotated[str, Query(max_length=60)] = "",
    flagged: Annotated[str, Query(max_length=5)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> HTMLResponse:
    context = _entries_context(request, principal, actor, action, flagged == "yes", before)
    return render_page(request, TEMPLATE, TITLE, principal, **context)


@router.post("/audit/verify", response_class=HTMLResponse)
def verify_chain(
    request: Request, principal: Annotated[Principal, Depends(requires("audit:read"))]
) -> HTMLResponse:
    engine = engine_of(request)
    verification = audit.verify(engine)
    # Recorded after the check, so the check reads the chain as it was.
    audit.record_now(
        engine,
        principal,
        "audit.verify",
        outcome="ok" if verification.intact else "broken",
        details={"entries": verification.entries, "first_broken": verification.first_broken},
    )
    context = _entries_context(request, principal, "", "", False, None)
    return render_page(request, TEMPLATE, TITLE, principal, verification=verification, **context)
