"""Referrals between organisations: the inbox and outbox, and deciding on or ending a referral."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from tiphub.cases import sharing
from tiphub.cases.access import READABLE_SHARE_STATES, Principal
from tiphub.web.forms import N_
from tiphub.web.pages import render_page
from tiphub.web.routers.pages_auth import safe_next
from tiphub.web.routers.pages_cases import SECTION_LABELS, STATE_LABELS
from tiphub.web.security import SubmittedForm, engine_of, requires

router = APIRouter(tags=["pages"], include_in_schema=False)

BASIS_LABELS = {
    "consent": N_("Consent"),
    "child_protection": N_("Child protection"),
    "court_order": N_("Court order"),
}
WITHDRAWABLE_STATES = ("pending", "accepted", "completed")


@router.get("/referrals")
def referral_lists(
    request: Request, principal: Annotated[Principal, Depends(requires("case:read"))]
) -> Response:
    engine = engine_of(request)
    return render_page(
        request,
        "pages/referrals_list.html",
        N_("Referrals"),
        principal,
        incoming=sharing.inbox(engine, principal),
        outgoing=sharing.outbox(engine, principal),
        section_labels=SECTION_LABELS,
        state_labels=STATE_LABELS,
        basis_labels=BASIS_LABELS,
        readable_states=READABLE_SHARE_STATES,
        withdrawable_states=WITHDRAWABLE_STATES,
        can_decide=principal.can("referral:decide"),
        can_withdraw=principal.can("referral:withdraw"),
    )


def _back(form: FormData) -> Response:
    return RedirectResponse(safe_next(form.get("next"), "/referrals"), status_code=303)


# Declared before the decision route so that ".../withdraw" is never read as a decision.
@router.post("/referrals/{share_id}/withdraw")
def withdraw_referral(
    request: Request,
    share_id: uuid.UUID,
    principal: Annotated[Principal, Depends(requires("referral:withdraw"))],
    form: SubmittedForm,
) -> Response:
    sharing.withdraw(engine_of(request), principal, share_id)
    return _back(form)


@router.post("/referrals/{share_id}/{decision}")
def decide_referral(
    request: Request,
    share_id: uuid.UUID,
    decision: Literal["accept", "decline", "complete"],
    principal: Annotated[Principal, Depends(requires("referral:decide"))],
    form: SubmittedForm,
) -> Response:
    sharing.decide(engine_of(request), principal, share_id, decision)
    return _back(form)
