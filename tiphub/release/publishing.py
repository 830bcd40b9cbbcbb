"""Releases in the hub: the privacy budget ledger, and draft → approved → published.

An analyst builds a release from the de-identified view of their organisation's cases; the
(ε, δ) it spends is taken from the dataset's budget in the same transaction that stores it,
and a release that would overspend is refused before anything is computed. A supervisor
who did not build it approves it; it is then published on the public data page, and from
then on nothing about it can change. Every step is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from tiphub.cases import audit
from tiphub.cases.access import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    Principal,
)
from tiphub.release.api import ReleaseRequest, make_release
from tiphub.release.bundle import PUBLIC_FILES, Bundle
from tiphub.release.table import ReleaseRefusedError, ReleaseTable, table_from_rows
from tiphub.store import models as m
from tiphub.store.db import insert_if_absent
from tiphub.store.models import new_id, table_of, utcnow

DEFAULT_EPSILON_TOTAL = 10.0
DEFAULT_DELTA_TOTAL = 1e-5
STATUSES = ("draft", "approved", "published")


class BudgetExhaustedError(ReleaseRefusedError):
    """The release would spend more than is left of its dataset's privacy budget."""


@dataclass(frozen=True)
class Budget:
    dataset: str
    epsilon_total: float
    delta_total: float
    epsilon_spent: float
    delta_spent: float
    releases: int

    @property
    def epsilon_left(self) -> float:
        return max(0.0, self.epsilon_total - self.epsilon_spent)

    @property
    def delta_left(self) -> float:
        return max(0.0, self.delta_total - self.delta_spent)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "epsilon_total": self.epsilon_total,
            "delta_total": self.delta_total,
            "epsilon_spent": self.epsilon_spent,
            "delta_spent": self.delta_spent,
            "epsilon_left": self.epsilon_left,
            "delta_left": self.delta_left,
            "releases": self.releases,
        }


@dataclass(frozen=True)
class ReleaseInfo:
    id: uuid.UUID
    dataset: str
    title: str
    method: str
    parameters: dict[str, Any]
    epsilon_spent: float
    delta_spent: float
    rows: int
    status: str
    summary: dict[str, Any]
    created_by: str
    created_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    published_at: dt.datetime | None
    bundle_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "dataset": self.dataset,
            "title": self.title,
            "method": self.method,
            "parameters": self.parameters,
            "epsilon_spent": self.epsilon_spent,
            "delta_spent": self.delta_spent,
            "rows": self.rows,
            "status": self.status,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "approved_by": self.approved_by,
            "approved_at": self.approved_at.isoformat() if self.approved_at else None,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "bundle_sha256": self.bundle_sha256,
        }


_BUDGET = table_of(m.PrivacyBudget)
_RELEASE = table_of(m.DataRelease)
_INFO_COLUMNS = [column for column in _RELEASE.c if column.name != "bundle"]

# --- the ledger ------------------------------------------------------------------------


def _budget(connection: Connection, dataset: str) -> Budget | None:
    row = connection.execute(select(_BUDGET).where(_BUDGET.c.dataset == dataset)).first()
    if row is None:
        return None
    spent = connection.execute(
        select(
            func.coalesce(func.sum(_RELEASE.c.epsilon_spent), 0.0),
            func.coalesce(func.sum(_RELEASE.c.delta_spent), 0.0),
            func.count(_RELEASE.c.id),
        ).where(_RELEASE.c.dataset == dataset)
    ).one()
    return Budget(
        dataset, row.epsilon_total, row.delta_total, float(spent[0]), float(spent[1]), int(spent[2])
    )


def budget_of(engine: Engine, dataset: str) -> Budget | None:
    with engine.connect() as connection:
        return _budget(connection, dataset)


def budgets(engine: Engine) -> list[Budget]:
    with engine.connect() as connection:
        names = connection.execute(select(_BUDGET.c.dataset).order_by(_BUDGET.c.dataset)).scalars()
        found = [_budget(connection, name) for name in list(names)]
    return [budget for budget in found if budget is not None]


def set_budget(
    engine: Engine, principal: Principal, dataset: str, epsilon: float, delta: float
) -> Budget:
    """Declare a dataset's total budget; refused once anything has been spent from it."""
    if not epsilon > 0:
        raise ReleaseRefusedError("a privacy budget needs a total ε > 0")
    if not 0 <= delta < 1:
        raise ReleaseRefusedError("a privacy budget's total δ must be at least 0 and below 1")
    with engine.begin() as connection:
        current = _ensure_budget(connection, principal, dataset, epsilon, delta)
        if current.releases:
            raise ConflictError(
                f"the budget of {dataset} is fixed: {current.releases} release(s) already "
                "spent from it"
            )
        connection.execute(
            update(_BUDGET)
            .where(_BUDGET.c.dataset == dataset)
            .values(epsilon_total=epsilon, delta_total=delta)
        )
        audit.record(
            connection,
            principal,
            "release.budget",
            "privacy_budget",
            dataset,
            details={"epsilon": f"{epsilon:g}", "delta": f"{delta:g}"},
        )
        budget = _budget(connection, dataset)
    assert budget is not None
    return budget


def _locked_budget(connection: Connection, dataset: str) -> Budget | None:
    # The no-op UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) first, so
    # two releases can never both spend the last of a budget.
    connection.execute(
        update(_BUDGET).where(_BUDGET.c.dataset == dataset).values(dataset=_BUDGET.c.dataset)
    )
    return _budget(connection, dataset)


def _ensure_budget(
    connection: Connection,
    principal: Principal,
    dataset: str,
    epsilon: float = DEFAULT_EPSILON_TOTAL,
    delta: float = DEFAULT_DELTA_TOTAL,
) -> Budget:
    """The dataset's budget, locked; created with these totals if it has none. Two first
    releases of a new dataset may race here: the second one's INSERT does nothing."""
    connection.execute(
        insert_if_absent(connection, _BUDGET, ["dataset"]).values(
            dataset=dataset,
            epsilon_total=epsilon,
            delta_total=delta,
            created_by=principal.username,
            created_at=utcnow(),
        )
    )
    budget = _locked_budget(connection, dataset)
    assert budget is not None
    return budget


def check_affordable(budget: Budget | None, request: ReleaseRequest) -> None:
    epsilon, delta = request.cost
    if budget is None or (epsilon == 0 and delta == 0):
        if budget is None and (
            epsilon > DEFAULT_EPSILON_TOTAL + 1e-12 or delta > DEFAULT_DELTA_TOTAL + 1e-18
        ):
            raise BudgetExhaustedError(
                f"this release asks for ε = {epsilon:g}, δ = {delta:g}; a new dataset's budget "
                f"is ε = {DEFAULT_EPSILON_TOTAL:g}, δ = {DEFAULT_DELTA_TOTAL:g} "
                "(see: tiphub release budget)"
            )
        return
    if epsilon > budget.epsilon_left + 1e-12 or delta > budget.delta_left + 1e-18:
        raise BudgetExhaustedError(
            f"the privacy budget of {budget.dataset} cannot pay for this release: it asks for "
            f"ε = {epsilon:g}, δ = {delta:g}; left: ε = {budget.epsilon_left:g}, "
            f"δ = {budget.delta_left:g} of ε = {budget.epsilon_total:g}, "
            f"δ = {budget.delta_total:g} ({budget.releases} release(s) so far)"
        )


def record_release(
    engine: Engine,
    principal: Principal,
    dataset: str,
    request: ReleaseRequest,
    table: ReleaseTable,
    organisation_id: uuid.UUID | None = None,
) -> tuple[ReleaseInfo, Bundle]:
    """Check the budget, make the release, and store it with its spend in one transaction."""
    check_affordable(budget_of(engine, dataset), request)
    bundle = make_release(table, request)
    epsilon, delta = request.cost
    with engine.begin() as connection:
        budget = _ensure_budget(connection, principal, dataset)
        check_affordable(budget, request)
        release_id = new_id()
        connection.execute(
            insert(_RELEASE).values(
                id=release_id,
                organisation_id=organisation_id,
                dataset=dataset,
                title=request.title,
                method=request.method,
                parameters=bundle.privacy,
                epsilon_spent=epsilon,
                delta_spent=delta,
                rows=table.n_rows,
                status="draft",
                summary=bundle.metrics,
                bundle=bundle.to_zip(),
                bundle_sha256=bundle.sha256(),
                created_by=principal.username,
                created_at=utcnow(),
            )
        )
        audit.record(
            connection,
            principal,
            "release.build",
            "data_release",
            release_id,
            details={
                "dataset": dataset,
                "method": request.method,
                "epsilon": f"{epsilon:g}",
                "delta": f"{delta:g}",
                "k": request.k,
                "max_combination": request.max_length,
            },
        )
        info = _info(connection, release_id)
    return info, bundle


# --- the hub workflow --------------------------------------------------------------------


def hub_dataset(principal: Principal) -> str:
    return f"hub:{principal.organisation or 'all'}:ctdc"


def hub_table(engine: Engine, principal: Principal) -> ReleaseTable:
    """The de-identified CTDC rows of the cases in the principal's organisation."""
    from tiphub.cases.persistence import iter_case_documents
    from tiphub.exchange.ctdc import synthetic_rows

    if not principal.operator and principal.scope != "organisation":
        raise PermissionDeniedError("a release needs an organisation-wide role")
    with engine.connect() as connection:
        # Identity is read only for the age band (from the date of birth); the CTDC rows
        # carry no identifying field.
        rows = [
            row
            for document in iter_case_documents(
                connection, organisation=principal.organisation, include_identity=True
            )
            for row in synthetic_rows(document)
        ]
    return table_from_rows(rows, source=f"the cases of {principal.organisation or 'the hub'}")


def build_hub_release(engine: Engine, principal: Principal, request: ReleaseRequest) -> ReleaseInfo:
    principal.require("release:build")
    if request.approved_by is not None:
        raise ReleaseRefusedError("a release is approved in the hub, not when it is built")
    table = hub_table(engine, principal)
    info, _ = record_release(
        engine,
        principal,
        hub_dataset(principal),
        request,
        table,
        organisation_id=principal.organisation_id,
    )
    return info


def _info(connection: Connection, release_id: uuid.UUID) -> ReleaseInfo:
    row = connection.execute(select(*_INFO_COLUMNS).where(_RELEASE.c.id == release_id)).one()
    return ReleaseInfo(
        row.id,
        row.dataset,
        row.title,
        row.method,
        dict(row.parameters),
        row.epsilon_spent,
        row.delta_spent,
        row.rows,
        row.status,
        dict(row.summary),
        row.created_by,
        row.created_at,
        row.approved_by,
        row.approved_at,
        row.published_at,
        row.bundle_sha256,
    )


def _scoped(principal: Principal) -> Any:
    if principal.operator:
        return _RELEASE.c.id.is_not(None)
    return _RELEASE.c.organisation_id == principal.organisation_id


def _can_see(principal: Principal) -> bool:
    return principal.can("release:build") or principal.can("release:approve")


def list_releases(engine: Engine, principal: Principal) -> list[ReleaseInfo]:
    if not _can_see(principal):
        raise PermissionDeniedError("your role does not work with releases")
    with engine.connect() as connection:
        ids = connection.execute(
            select(_RELEASE.c.id).where(_scoped(principal)).order_by(_RELEASE.c.created_at.desc())
        ).scalars()
        return [_info(connection, release_id) for release_id in list(ids)]


def get_release(engine: Engine, principal: Principal, release_id: uuid.UUID) -> ReleaseInfo:
    if not _can_see(principal):
        raise PermissionDeniedError("your role does not work with releases")
    with engine.connect() as connection:
        found = connection.execute(
            select(_RELEASE.c.id).where(_RELEASE.c.id == release_id, _scoped(principal))
        ).first()
        if found is None:
            raise NotFoundError("no such release")
        return _info(connection, release_id)


def release_bundle(engine: Engine, principal: Principal, release_id: uuid.UUID) -> Bundle:
    """The whole bundle (review files included) for those who build or approve releases."""
    get_release(engine, principal, release_id)
    with engine.connect() as connection:
        data = connection.execute(
            select(_RELEASE.c.bundle).where(_RELEASE.c.id == release_id)
        ).scalar_one()
    return Bundle.from_zip(data)


def _move(
    engine: Engine,
    principal: Principal,
    release_id: uuid.UUID,
    permission: str,
    expected: str,
    new_status: str,
    action: str,
) -> ReleaseInfo:
    principal.require(permission)
    with engine.begin() as connection:
        row = connection.execute(
            select(_RELEASE.c.status, _RELEASE.c.created_by, _RELEASE.c.bundle)
            .where(_RELEASE.c.id == release_id, _scoped(principal))
            .with_for_update()
        ).first()
        if row is None:
            raise NotFoundError("no such release")
        if row.status != expected:
            raise ConflictError(f"the release is {row.status}, not {expected}")
        now = utcnow()
        values: dict[str, Any] = {"status": new_status}
        if new_status == "approved":
            if row.created_by == principal.username and not principal.operator:
                raise PermissionDeniedError("a release is approved by someone who did not build it")
            bundle = Bundle.from_zip(row.bundle).approved(public_approver(principal), now.date())
            values.update(
                approved_by=principal.username,
                approved_at=now,
                bundle=bundle.to_zip(),
                bundle_sha256=bundle.sha256(),
                parameters=bundle.privacy,
            )
        else:
            values["published_at"] = now
        connection.execute(update(_RELEASE).where(_RELEASE.c.id == release_id).values(**values))
        audit.record(connection, principal, action, "data_release", release_id)
        return _info(connection, release_id)


def public_approver(principal: Principal) -> str:
    """Who approved, as a published file says it: the role and organisation, never the
    person's user name (staff of anti-trafficking units can be targets too). The audit log
    and the hub's own pages keep the name."""
    role = next((name for name in principal.roles if name != "operator"), "operator")
    return f"{role}, {principal.organisation or 'the hub operator'}"


def approve_release(engine: Engine, principal: Principal, release_id: uuid.UUID) -> ReleaseInfo:
    return _move(
        engine, principal, release_id, "release:approve", "draft", "approved", "release.approve"
    )


def publish_release(engine: Engine, principal: Principal, release_id: uuid.UUID) -> ReleaseInfo:
    return _move(
        engine, principal, release_id, "release:approve", "approved", "published", "release.publish"
    )


# --- the public data page ----------------------------------------------------------------


def published_releases(engine: Engine) -> list[ReleaseInfo]:
    with engine.connect() as connection:
        ids = connection.execute(
            select(_RELEASE.c.id)
            .where(_RELEASE.c.status == "published")
            .order_by(_RELEASE.c.published_at.desc())
        ).scalars()
        return [_info(connection, release_id) for release_id in list(ids)]


def published_file(engine: Engine, release_id: uuid.UUID, name: str) -> bytes:
    """One public file of a published release (never the review files)."""
    if name not in PUBLIC_FILES:
        raise NotFoundError("no such file")
    with engine.connect() as connection:
        data = connection.execute(
            select(_RELEASE.c.bundle).where(
                _RELEASE.c.id == release_id, _RELEASE.c.status == "published"
            )
        ).scalar_one_or_none()
    if data is None:
        raise NotFoundError("no such release")
    files = Bundle.from_zip(data).public_files()
    if name not in files:
        raise NotFoundError("no such file")
    return files[name]


def file_dataset(content: bytes) -> str:
    """A file's dataset name: the same content is the same dataset, whatever its name."""
    return "file:sha256:" + hashlib.sha256(content).hexdigest()[:32]
