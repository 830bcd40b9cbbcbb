"""Detect online over the REST API: the screened ads, a reviewer's decision, hand-overs,
template clusters and the weekly statistics.

The keys are the command line's (``tiphub online review list --json``, ``clusters --json``,
``stats --json``): an ad carries ``ad_id``, ``score``, ``flagged``, ``indicators``
(``[{"id", "evidence"}]``) and ``cluster_id``, with ``row_id`` naming it in the hub. An ad
or cluster outside the caller's organisation is 404, as one that does not exist. Storage,
scope and the audit trail are the domain's (``tiphub.online.hub``).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tiphub.cases.access import NotFoundError, Principal
from tiphub.online import hub
from tiphub.web.problems import ProblemError
from tiphub.web.security import engine_of, requires

router = APIRouter(tags=["online"])

MAX_LIMIT = 10_000
Status = Literal["new", "confirmed", "dismissed", "unsure"]
Decision = Literal["confirmed", "dismissed", "unsure"]
HandoverKind = Literal["screening", "police", "labour_inspectorate", "takedown"]
assert set(Status.__args__) == set(hub.REVIEW_STATUSES)  # type: ignore[attr-defined]
assert set(Decision.__args__) == set(hub.REVIEW_DECISIONS)  # type: ignore[attr-defined]
assert set(HandoverKind.__args__) == set(hub.HANDOVER_KINDS)  # type: ignore[attr-defined]
Note = Annotated[str, Field(max_length=hub.NOTE_LENGTH)]
# Control characters are never part of an id (PostgreSQL refuses NUL in text).
CLUSTER_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
ClusterId = Annotated[
    str, Field(min_length=1, max_length=hub.CLUSTER_ID_LENGTH, pattern=CLUSTER_ID_PATTERN)
]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Decision
    note: Note | None = None


class HandoverIn(BaseModel):
    """One ad (``row_id``) or one cluster (``cluster_id``), never both."""

    model_config = ConfigDict(extra="forbid")
    kind: HandoverKind
    row_id: uuid.UUID | None = None
    cluster_id: ClusterId | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def one_subject(self) -> HandoverIn:
        if (self.row_id is None) == (self.cluster_id is None):
            raise ValueError("name one ad (row_id) or one cluster (cluster_id)")
        return self


def _refused(error: ValueError) -> ProblemError:
    return ProblemError(422, str(error) or "the request was refused")


@router.get("/online/ads")
def online_ads(
    request: Request,
    principal: Annotated[Principal, Depends(requires("online:read"))],
    flagged: Annotated[bool, Query(description="Flagged ads only, highest score first.")] = False,
    status: Annotated[Status | None, Query(description="A review status.")] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT)] = None,
) -> dict[str, Any]:
    found = hub.stored_ads(
        engine_of(request), principal, flagged_only=flagged, status=status, limit=limit
    )
    return {"ads": [ad.to_dict() for ad in found]}


@router.get("/online/ads/{id}")
def online_ad(
    request: Request,
    id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("online:read"))],
) -> dict[str, Any]:
    return hub.get_ad(engine_of(request), principal, id).to_dict()


@router.post("/online/ads/{id}/decision")
def online_ad_decision(
    request: Request,
    id: uuid.UUID,
    body: DecisionIn,
    principal: Annotated[Principal, Depends(requires("online:review"))],
) -> dict[str, Any]:
    try:
        ad = hub.review_ad(engine_of(request), principal, id, body.decision, body.note)
    except ValueError as refused:
        raise _refused(refused) from None
    return ad.to_dict()


@router.get("/online/handovers")
def online_handovers(
    request: Request, principal: Annotated[Principal, Depends(requires("online:read"))]
) -> dict[str, Any]:
    return {"handovers": [item.to_dict() for item in hub.handovers(engine_of(request), principal)]}


@router.post("/online/handovers", status_code=201)
def online_handover(
    request: Request,
    body: HandoverIn,
    principal: Annotated[Principal, Depends(requires("online:review"))],
) -> dict[str, Any]:
    try:
        made = hub.hand_over(
            engine_of(request),
            principal,
            kind=body.kind,
            row_id=body.row_id,
            cluster_id=body.cluster_id,
            note=body.note,
        )
    except ValueError as refused:
        raise _refused(refused) from None
    return made.to_dict()


@router.get("/online/clusters")
def online_clusters(
    request: Request, principal: Annotated[Principal, Depends(requires("online:read"))]
) -> dict[str, Any]:
    found = sorted(
        hub.stored_clusters(engine_of(request), principal),
        key=lambda cluster: (-len(cluster.ad_ids), cluster.id),
    )
    return {"clusters": [cluster.to_dict() for cluster in found]}


@router.get("/online/clusters/{id}")
def online_cluster(
    request: Request,
    id: Annotated[str, Path(max_length=hub.CLUSTER_ID_LENGTH, pattern=CLUSTER_ID_PATTERN)],
    principal: Annotated[Principal, Depends(requires("online:read"))],
) -> dict[str, Any]:
    for cluster in hub.stored_clusters(engine_of(request), principal):
        if cluster.id == id:
            return cluster.to_dict()
    raise NotFoundError("no such cluster")


@router.get("/online/statistics")
def online_statistics(
    request: Request, principal: Annotated[Principal, Depends(requires("online:read"))]
) -> dict[str, Any]:
    """Flagged ads per ISO week by indicator, sector and destination country."""
    return {"weeks": hub.weekly_statistics(engine_of(request), principal)}
