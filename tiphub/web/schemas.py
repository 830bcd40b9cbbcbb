"""Request and response bodies of the REST API.

Requests forbid unknown fields (a typo must not be silently dropped: 422 instead); responses
carry only what the domain already filtered for the caller's role.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tiphub.cases.access import SHARE_SECTIONS
from tiphub.cases.accounts import MAX_PASSWORD_LENGTH
from tiphub.cases.api import CaseSummary, CaseView
from tiphub.cases.schema import (
    CaseRecord,
    ConsentRecord,
    CriminalProceeding,
    IdentificationDecision,
    Note,
    Participant,
    Referral,
    SupportPlan,
    TraffickingEvent,
)
from tiphub.cases.sharing import ShareInfo
from tiphub.exchange.exporter import FORMATS as EXPORT_FORMATS
from tiphub.exchange.importer import FORMATS as IMPORT_FORMATS
from tiphub.web.problems import ProblemError

ShareSection = Literal[
    "identity",
    "victim",
    "events",
    "consents",
    "referrals",
    "support_plans",
    "notes",
    "identification_decisions",
    "criminal_proceedings",
    "perpetrators",
]
assert set(ShareSection.__args__) == set(SHARE_SECTIONS)  # type: ignore[attr-defined]
ExportFormat = Literal["htcds-csv", "htcds-xlsx", "jsonl", "ctdc", "ctdc-global"]
assert set(ExportFormat.__args__) == set(EXPORT_FORMATS)  # type: ignore[attr-defined]
ImportFormat = Literal["htcds-csv", "htcds-xlsx", "jsonl", "xlsform"]
assert set(ImportFormat.__args__) == set(IMPORT_FORMATS)  # type: ignore[attr-defined]
MIN_PASSPHRASE_LENGTH = 12


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


def invalid_input(error: ValidationError, detail: str = "the case is not valid") -> ProblemError:
    """A domain validation error as a 422 problem: where and what, never the value."""
    return ProblemError(
        422,
        detail,
        errors=[
            {"location": [str(part) for part in item.get("loc", ())], "problem": item["msg"]}
            for item in error.errors(include_input=False, include_url=False)
        ],
    )


# -- cases ------------------------------------------------------------------------------------


class CaseCreate(CaseRecord):
    """A case document; ``organisation`` may be left out (it is the caller's)."""

    organisation: Annotated[str, Field(min_length=1, max_length=100)] | None = None  # type: ignore[assignment]


class CasePatch(Request):
    """Top-level fields to replace; a field left out keeps its value."""

    status: Annotated[str, Field(max_length=60)] | None = None
    reason_for_closure: Annotated[str, Field(min_length=1, max_length=100_000)] | None = None
    case_owner: Annotated[str, Field(min_length=1, max_length=1_000)] | None = None
    opened_on: dt.date | None = None
    participants: list[Participant] | None = None
    events: list[TraffickingEvent] | None = None
    consents: list[ConsentRecord] | None = None
    referrals: list[Referral] | None = None
    support_plans: list[SupportPlan] | None = None
    notes: list[Note] | None = None
    identification_decisions: list[IdentificationDecision] | None = None
    criminal_proceedings: list[CriminalProceeding] | None = None


class CaseItem(BaseModel):
    id: uuid.UUID
    organisation: str
    external_id: str
    status: str | None
    opened_on: dt.date | None
    updated_at: dt.datetime
    version: int
    shared_with_us: bool

    @classmethod
    def of(cls, summary: CaseSummary) -> CaseItem:
        return cls(**vars(summary))


class CaseSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: Annotated[str, Field(min_length=1, max_length=200)]
    status: Annotated[str | None, Field(max_length=60)] = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str | None, Field(max_length=100)] = None


class CaseList(BaseModel):
    items: list[CaseItem]
    next_cursor: str | None


class CaseOut(BaseModel):
    id: uuid.UUID
    organisation: str
    version: int
    editable: bool
    shared_sections: list[str] | None
    identity_visible: bool
    # Organisations that share with the caller's and hold one of this case's people too.
    matches_elsewhere: list[str]
    case: dict[str, Any]

    @classmethod
    def of(cls, view: CaseView) -> CaseOut:
        return cls(
            id=view.id,
            organisation=view.organisation,
            version=view.version,
            editable=view.editable,
            shared_sections=None if view.shared_sections is None else list(view.shared_sections),
            identity_visible=view.identity_visible,
            matches_elsewhere=list(view.matches_elsewhere),
            case=view.document,
        )


class VersionOut(BaseModel):
    version: int
    operation: str
    changed_by: str
    changed_at: dt.datetime
    changed_fields: list[str]
    data: dict[str, Any]


# -- referrals --------------------------------------------------------------------------------


class ReferralCreate(Request):
    case_id: uuid.UUID
    to_organisation: Annotated[str, Field(min_length=1, max_length=100)]
    sections: Annotated[list[ShareSection], Field(min_length=1, max_length=len(SHARE_SECTIONS))]
    basis: Literal["consent", "child_protection", "court_order"] = "consent"
    override_reason: Annotated[str, Field(max_length=2_000)] | None = None


class ReferralOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    case_external_id: str
    from_organisation: str
    to_organisation: str
    sections: list[str]
    basis: str
    state: str
    created_by: str
    created_at: dt.datetime
    flagged: bool

    @classmethod
    def of(cls, share: ShareInfo) -> ReferralOut:
        return cls(**{**vars(share), "sections": list(share.sections)})


class ReferralList(BaseModel):
    items: list[ReferralOut]


# -- imports and exports ----------------------------------------------------------------------


class ImportIssueOut(BaseModel):
    row: int | None
    column: str | None
    reason: str


class ImportReport(BaseModel):
    ok: bool
    format: str
    cases: int
    rows: int
    created: int
    updated: int
    unchanged: int
    issues: list[ImportIssueOut]


class ExportRequest(Request):
    format: ExportFormat = "jsonl"
    include_identity: bool = False
    passphrase: Annotated[str, Field(max_length=1_000)] | None = None


class ExportOut(BaseModel):
    id: str
    expires_at: dt.datetime
    download: str


# -- audit ------------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    sequence: int
    at: dt.datetime
    actor: str
    organisation: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    outcome: str
    source: str
    details: dict[str, Any]
    flagged: bool
    entry_hash: str


class AuditList(BaseModel):
    items: list[AuditEntryOut]
    next_before: int | None


# -- users ------------------------------------------------------------------------------------


class UserCreate(Request):
    username: Annotated[str, Field(min_length=1, max_length=200)]
    roles: Annotated[
        list[Annotated[str, Field(max_length=100)]], Field(min_length=1, max_length=20)
    ]
    team: Annotated[str, Field(max_length=200)] | None = None
    display_name: Annotated[str, Field(max_length=200)] = ""
    password: Annotated[str, Field(max_length=MAX_PASSWORD_LENGTH)]


class UserOut(BaseModel):
    username: str
    organisation: str
    roles: list[str]
    team: str | None
    display_name: str
    disabled: bool
    has_totp: bool
    locked: bool


class UserList(BaseModel):
    items: list[UserOut]


# -- statistics -------------------------------------------------------------------------------


class CountryPair(BaseModel):
    origin: str
    destination: str
    victims: int


class SummaryOut(BaseModel):
    """Counts of one organisation's records; small counts are exact (see the README)."""

    organisation: str
    cases: int
    victims: int
    by_exploitation_type: dict[str, int]
    by_sex: dict[str, int]
    by_age_band: dict[str, int]
    top_country_pairs: list[CountryPair]
