"""The linkage clerical review queue: pairs of the reviewer's own organisation's records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tiphub.cases import audit
from tiphub.cases.access import NotFoundError, Principal
from tiphub.linkage import review
from tiphub.web.pages import render_page
from tiphub.web.problems import ProblemError
from tiphub.web.security import engine_of, requires

router = APIRouter()
QUEUE_LENGTH = 50


def _own_item(request: Request, principal: Principal, item_id: int) -> review.ReviewItem:
    """The item, if both its records are the principal's organisation's; else not found."""
    try:
        item = review.get(engine_of(request), item_id)
    except review.ReviewError:
        raise NotFoundError("no such review item") from None
    slug = principal.organisation
    if slug is None or item.left_list != slug or item.right_list != slug:
        raise NotFoundError("no such review item")
    return item


def _comparison_rows(item: review.ReviewItem) -> list[dict[str, Any]]:
    """One row per field: both values, and how the linker weighed their agreement."""
    evidence = {str(entry.get("field")): entry for entry in item.explanation}
    fields = list(item.left_values)
    fields += [name for name in item.right_values if name not in item.left_values]
    fields += [name for name in evidence if name not in fields]
    rows = []
    for name in fields:
        entry = evidence.get(name, {})
        weight = entry.get("weight")
        rows.append(
            {
                "field": name,
                "left": _shown(item.left_values.get(name)),
                "right": _shown(item.right_values.get(name)),
                "level": "" if entry.get("level") is None else str(entry.get("level")),
                "weight": None if weight is None else float(weight),
            }
        )
    return rows


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_shown(part) for part in value)
    return " ".join(str(value).split())


@router.get("/review", response_class=HTMLResponse)
def review_queue(
    request: Request, principal: Annotated[Principal, Depends(requires("linkage:review"))]
) -> HTMLResponse:
    items: list[review.ReviewItem] = []
    if principal.organisation is not None:
        items = review.items_for_organisation(
            engine_of(request), principal.organisation, limit=QUEUE_LENGTH
        )
    return render_page(request, "pages/review_queue.html", "Linkage review", principal, items=items)


@router.get("/review/{item_id}", response_class=HTMLResponse)
def review_item(
    request: Request,
    item_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Annotated[Principal, Depends(requires("linkage:review"))],
) -> HTMLResponse:
    item = _own_item(request, principal, item_id)
    return render_page(
        request,
        "pages/review_item.html",
        "Review a possible match",
        principal,
        item=item,
        rows=_comparison_rows(item),
        decisions=review.DECISIONS,
    )


@router.post("/review/{item_id}")
def decide_item(
    request: Request,
    item_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Annotated[Principal, Depends(requires("linkage:review"))],
    decision: Annotated[str, Form()] = "",
) -> Response:
    item = _own_item(request, principal, item_id)
    if decision not in review.DECISIONS:
        raise ProblemError(422, "choose match, not a match or unsure")
    engine = engine_of(request)
    review.decide(engine, item.id, decision, reviewer=principal.username)
    audit.record_now(
        engine,
        principal,
        "linkage.review",
        resource_type="review_item",
        resource_id=item.id,
        details={"item": item.id, "decision": decision},
    )
    assert principal.organisation is not None  # _own_item checked it
    remaining = review.items_for_organisation(engine, principal.organisation, limit=1)
    target = f"/review/{remaining[0].id}" if remaining else "/review"
    return RedirectResponse(target, status_code=303)
