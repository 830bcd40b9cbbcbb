"""Aggregate figures of the caller's organisation: counts only, never a record.

Counts are exact integers, small ones included: the summary is shown only to roles with
statistics:read inside the organisation that holds the records, never published. Anyone
publishing them must suppress small cells first (e.g. with ``tiphub export --format ctdc``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from tiphub.cases import audit
from tiphub.cases.access import Principal
from tiphub.cases.summary import organisation_summary as figures_of
from tiphub.web.problems import ProblemError
from tiphub.web.schemas import CountryPair, SummaryOut
from tiphub.web.security import engine_of, requires

router = APIRouter(tags=["statistics"])


@router.get("/statistics/summary")
def organisation_summary(
    request: Request, principal: Annotated[Principal, Depends(requires("statistics:read"))]
) -> SummaryOut:
    if principal.organisation_id is None or principal.organisation is None:
        raise ProblemError(403, "the summary is per organisation; the operator uses the CLI")
    engine = engine_of(request)
    summary = figures_of(engine, principal).to_dict()
    audit.record_now(engine, principal, "statistics.summary")
    return SummaryOut(
        organisation=principal.organisation,
        cases=summary["cases"],
        victims=summary["victims"],
        by_exploitation_type=summary["by_exploitation_type"],
        by_sex=summary["by_sex"],
        by_age_band=summary["by_age_band"],
        top_country_pairs=[CountryPair(**pair) for pair in summary["top_country_pairs"]],
    )
