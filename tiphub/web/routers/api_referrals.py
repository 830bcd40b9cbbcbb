"""Referrals: share a case with another organisation by consent or documented legal basis.

The receiving organisation sees only the shared sections until the referral is declined or
withdrawn; refusals (no consent, unknown section, missing override reason) are 422 problems,
a decision that does not fit the referral's state is 409.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from tiphub.cases import sharing
from tiphub.cases.access import Principal
from tiphub.web.problems import ProblemError
from tiphub.web.schemas import ReferralCreate, ReferralList, ReferralOut
from tiphub.web.security import engine_of, requires

router = APIRouter(tags=["referrals"])


@router.post("/referrals", status_code=201)
def create_referral(
    body: ReferralCreate,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("referral:create"))],
) -> ReferralOut:
    try:
        share = sharing.refer(
            engine_of(request),
            principal,
            body.case_id,
            body.to_organisation,
            body.sections,
            body.basis,
            body.override_reason,
        )
    except sharing.SharingError as error:
        raise ProblemError(422, str(error)) from None
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{share.id}"
    return ReferralOut.of(share)


@router.get("/referrals")
def list_referrals(
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
    box: Annotated[Literal["inbox", "outbox"], Query()] = "inbox",
) -> ReferralList:
    found = (sharing.inbox if box == "inbox" else sharing.outbox)(engine_of(request), principal)
    return ReferralList(items=[ReferralOut.of(share) for share in found])


@router.get("/referrals/{referral_id}")
def read_referral(
    referral_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(requires("case:read"))],
) -> ReferralOut:
    return ReferralOut.of(sharing.get_share(engine_of(request), principal, referral_id))


def _decide(
    request: Request, principal: Principal, referral_id: uuid.UUID, decision: str
) -> ReferralOut:
    return ReferralOut.of(sharing.decide(engine_of(request), principal, referral_id, decision))


@router.post("/referrals/{referral_id}/accept")
def accept_referral(
    referral_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(requires("referral:decide"))],
) -> ReferralOut:
    return _decide(request, principal, referral_id, "accept")


@router.post("/referrals/{referral_id}/decline")
def decline_referral(
    referral_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(requires("referral:decide"))],
) -> ReferralOut:
    return _decide(request, principal, referral_id, "decline")


@router.post("/referrals/{referral_id}/complete")
def complete_referral(
    referral_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(requires("referral:decide"))],
) -> ReferralOut:
    return _decide(request, principal, referral_id, "complete")


@router.post("/referrals/{referral_id}/withdraw")
def withdraw_referral(
    referral_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, Depends(requires("referral:withdraw"))],
) -> ReferralOut:
    return ReferralOut.of(sharing.withdraw(engine_of(request), principal, referral_id))
