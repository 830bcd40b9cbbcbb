"""The audit log for auditors: newest first, filtered, paged by sequence number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from tiphub.cases import audit
from tiphub.cases.access import Principal
from tiphub.web.schemas import AuditEntryOut, AuditList
from tiphub.web.security import engine_of, requires

router = APIRouter(tags=["audit"])


@router.get("/audit")
def browse_audit(
    request: Request,
    principal: Annotated[Principal, Depends(requires("audit:read"))],
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    flagged: bool = False,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditList:
    entries = audit.browse(
        engine_of(request),
        principal,
        audit.AuditFilter(actor=actor, action=action, flagged_only=flagged),
        limit=limit,
        before=before,
    )
    items = [AuditEntryOut.model_validate(entry) for entry in entries]
    next_before = items[-1].sequence if len(items) == limit else None
    return AuditList(items=items, next_before=next_before)
