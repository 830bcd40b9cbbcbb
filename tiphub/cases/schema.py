"""tiphub's exchange format: one JSON document per case (JSON Lines on disk).

The models validate every value against the code lists, so anything that reaches the
store is already on the standard. ``case_json_schema()`` publishes the format.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from tiphub.cases.roles import VICTIM_ROLES as VICTIM_ROLES
from tiphub.standard.codelists import codelist, normalise_country, normalise_language

SCHEMA_VERSION: Final = "tiphub-case/1"
EARLIEST_DATE = dt.date(1900, 1, 1)


def _code(list_name: str) -> AfterValidator:
    # The list's own method, bound once: validation calls it for every code of every case.
    return AfterValidator(codelist(list_name).normalise)


def _empty_list() -> Any:
    """An empty list, made afresh per record (pydantic deep-copies a literal ``[]`` default
    for every record it validates); the published schema still says it defaults to []."""
    return Field(default_factory=list, json_schema_extra={"default": []})


_today: tuple[float, dt.date] = (0.0, EARLIEST_DATE)


def today() -> dt.date:
    """Today's date, asked of the clock at most once a second: an import checks a dozen
    dates per case, and ``date.today()`` costs more than the rest of the check."""
    global _today
    now = time.monotonic()
    if now - _today[0] >= 1.0:
        _today = (now, dt.date.today())
    return _today[1]


def _not_future(value: dt.date | None) -> dt.date | None:
    if value is not None and not EARLIEST_DATE <= value <= today():
        raise ValueError("the date is outside 1900-01-01..today")
    return value


Country = Annotated[
    str,
    AfterValidator(normalise_country),
    WithJsonSchema(
        {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"}
    ),
]
Language = Annotated[
    str,
    AfterValidator(normalise_language),
    WithJsonSchema({"type": "string", "pattern": "^[a-z]{3}$", "description": "ISO 639-2/T"}),
]
PastDate = Annotated[dt.date, AfterValidator(_not_future)]
ShortText = Annotated[str, Field(min_length=1, max_length=1_000)]
LongText = Annotated[str, Field(min_length=1, max_length=100_000)]
ExternalId = Annotated[str, Field(min_length=1, max_length=200)]


def Code(list_name: str) -> Any:  # noqa: N802 - reads as a type in annotations
    codes = list(codelist(list_name).codes)
    schema = {"type": "string", "enum": codes, "description": f"code list {list_name}"}
    return Annotated[str, _code(list_name), WithJsonSchema(schema)]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Identifier(Record):
    kind: Code("identifier_kind")  # type: ignore[valid-type]
    value: ShortText
    issuing_country: Country | None = None


class PersonRecord(Record):
    """A person as one organisation knows them. Identity fields are stored apart."""

    external_id: ExternalId
    # identity
    salutation: ShortText | None = None
    first_name: ShortText | None = None
    middle_name: ShortText | None = None
    family_name: ShortText | None = None
    title: ShortText | None = None
    birth_date: PastDate | None = None
    email: ShortText | None = None
    home_phone: ShortText | None = None
    mobile_phone: ShortText | None = None
    mailing_street: ShortText | None = None
    mailing_city: ShortText | None = None
    mailing_state: ShortText | None = None
    mailing_postal_code: ShortText | None = None
    mailing_country: Country | None = None
    mailing_latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    mailing_longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    identifiers: list[Identifier] = _empty_list()
    # facts
    gender: Code("gender") | None = None  # type: ignore[valid-type]
    citizenship: list[Country] = _empty_list()
    primary_language: Language | None = None
    secondary_language: Language | None = None
    marital_status: Code("marital_status") | None = None  # type: ignore[valid-type]
    education: Code("education") | None = None  # type: ignore[valid-type]
    number_of_children: Annotated[int, Field(ge=0, le=40)] | None = None
    deceased: bool | None = None


class StatusAssertion(Record):
    """One organisation's dated view of whether a person is a victim of trafficking."""

    status: Code("trafficking_status")  # type: ignore[valid-type]
    decided_by_type: Code("decision_making_org") | None = None  # type: ignore[valid-type]
    asserted_by: ShortText | None = None
    asserted_on: PastDate | None = None


class VictimContext(Record):
    trafficking_status: Annotated[list[StatusAssertion], Field(min_length=1)]
    recruitment_methods: list[Code("recruitment_method")] = _empty_list()  # type: ignore[valid-type]
    recruitment_websites: list[Code("website")] = _empty_list()  # type: ignore[valid-type]
    location_of_recruitment: ShortText | None = None
    means_of_control: list[Code("means_of_control")] = _empty_list()  # type: ignore[valid-type]
    exploitation_types: list[Code("exploitation_type")] = _empty_list()  # type: ignore[valid-type]
    sex_exploitation_types: list[Code("sex_exploitation_type")] = _empty_list()  # type: ignore[valid-type]
    industry: Code("industry") | None = None  # type: ignore[valid-type]
    location_of_exploitation: ShortText | None = None
    exploitation_websites: list[Code("website")] = _empty_list()  # type: ignore[valid-type]
    age_when_trafficked: Annotated[int, Field(ge=0, le=120)] | None = None
    relationship_to_trafficker: Code("relationship_to_trafficker") | None = None  # type: ignore[valid-type]
    vulnerabilities: list[Code("vulnerability")] = _empty_list()  # type: ignore[valid-type]


class PerpetratorContext(Record):
    kind: Code("perpetrator_kind") = "Individual"  # type: ignore[valid-type]
    roles: list[Code("perpetrator_role")] = _empty_list()  # type: ignore[valid-type]
    role_details: LongText | None = None
    company_name: ShortText | None = None
    sex: Code("sex") | None = None  # type: ignore[valid-type]
    age_band: Code("age_band") | None = None  # type: ignore[valid-type]
    nationality: list[Country] = _empty_list()


class Participant(Record):
    role: Code("participant_role")  # type: ignore[valid-type]
    person: PersonRecord
    victim: VictimContext | None = None
    perpetrator: PerpetratorContext | None = None

    @model_validator(mode="after")
    def _context_matches_role(self) -> Participant:
        if self.victim is not None and self.role not in VICTIM_ROLES:
            raise ValueError(f"a {self.role} cannot carry a victim context")
        if self.role in VICTIM_ROLES:
            if self.victim is None:
                raise ValueError("a victim needs a victim context with a trafficking status")
            if self.person.gender is None:
                raise ValueError("gender is a core field for victims (use NonSpecifiedUnknown)")
        if self.perpetrator is not None and self.role not in {"Perpetrator", "Employer"}:
            raise ValueError(f"a {self.role} cannot carry a perpetrator context")
        return self


class TraffickingEvent(Record):
    type: Code("event_type")  # type: ignore[valid-type]
    person_external_id: ExternalId | None = None
    country: Country | None = None
    state: ShortText | None = None
    city: ShortText | None = None
    street: ShortText | None = None
    postal_code: ShortText | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    started_on: PastDate | None = None
    ended_on: PastDate | None = None
    description: LongText | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> TraffickingEvent:
        if self.started_on and self.ended_on and self.ended_on < self.started_on:
            raise ValueError("ended_on is before started_on")
        return self


class ConsentRecord(Record):
    person_external_id: ExternalId
    purpose: Code("consent_purpose")  # type: ignore[valid-type]
    given: bool
    recorded_on: PastDate | None = None
    recorded_by: ShortText | None = None


Slug = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class Referral(Record):
    """A referral in or out; to a national referral mechanism (``mechanism`` names the
    workflow, ``stage`` where the person stands in it) or to a service provider."""

    direction: Code("referral_direction")  # type: ignore[valid-type]
    person_external_id: ExternalId | None = None
    reference: Slug | None = None
    mechanism: Slug | None = None
    stage: Slug | None = None
    stage_entered_on: PastDate | None = None
    due_on: dt.date | None = None
    provider: ShortText | None = None
    decline_reason: LongText | None = None
    responded_on: PastDate | None = None
    from_organisation: ShortText | None = None
    to_organisation: ShortText | None = None
    referred_on: PastDate | None = None
    reason: Code("referral_reason") | None = None  # type: ignore[valid-type]
    details: LongText | None = None
    services: list[Code("service_type")] = _empty_list()  # type: ignore[valid-type]
    status: Code("referral_status") | None = None  # type: ignore[valid-type]
    referring_case_worker: ShortText | None = None
    referred_case_worker: ShortText | None = None


class ServiceProvision(Record):
    service: Code("service_type")  # type: ignore[valid-type]
    provider: ShortText | None = None
    started_on: PastDate | None = None
    ended_on: PastDate | None = None


class SupportPlan(Record):
    person_external_id: ExternalId | None = None
    type: Code("support_plan_type") | None = None  # type: ignore[valid-type]
    objectives: LongText | None = None
    action_plan: LongText | None = None
    planned_end_on: dt.date | None = None
    actual_end_on: PastDate | None = None
    services: list[ServiceProvision] = _empty_list()


class Note(Record):
    text: LongText
    author: ShortText | None = None
    written_on: PastDate | None = None


class IdentificationDecision(Record):
    person_external_id: ExternalId
    decision_type: Code("identification_decision_type")  # type: ignore[valid-type]
    outcome: Code("identification_outcome")  # type: ignore[valid-type]
    decided_by: ShortText | None = None
    decided_on: PastDate | None = None
    jurisdiction: Country | None = None
    grounds: LongText | None = None
    referral_reference: Slug | None = None


class CriminalProceeding(Record):
    perpetrator_external_id: ExternalId | None = None
    jurisdiction: Country | None = None
    stage: Code("proceeding_stage")  # type: ignore[valid-type]
    charges: list[ShortText] = _empty_list()
    opened_on: PastDate | None = None
    outcome: Code("proceeding_outcome") | None = None  # type: ignore[valid-type]
    outcome_on: PastDate | None = None
    sentence_months: Annotated[int, Field(ge=0, le=1_200)] | None = None
    victim_status: Code("victim_status_in_proceedings") | None = None  # type: ignore[valid-type]
    protection_measures: list[Code("protection_measure")] = _empty_list()  # type: ignore[valid-type]
    compensation_claimed: bool | None = None
    next_hearing_on: dt.date | None = None
    perpetrator_released_on: PastDate | None = None


class CaseRecord(Record):
    """A case as exchanged between organisations: lossless in JSON Lines."""

    schema_version: Literal["tiphub-case/1"] = SCHEMA_VERSION
    external_id: ExternalId
    organisation: Annotated[str, Field(min_length=1, max_length=100)]
    status: Code("case_status") | None = None  # type: ignore[valid-type]
    reason_for_closure: LongText | None = None
    case_owner: ShortText | None = None
    opened_on: PastDate | None = None
    participants: Annotated[list[Participant], Field(min_length=1)]
    events: list[TraffickingEvent] = _empty_list()
    consents: list[ConsentRecord] = _empty_list()
    referrals: list[Referral] = _empty_list()
    support_plans: list[SupportPlan] = _empty_list()
    notes: list[Note] = _empty_list()
    identification_decisions: list[IdentificationDecision] = _empty_list()
    criminal_proceedings: list[CriminalProceeding] = _empty_list()

    @model_validator(mode="after")
    def _references_resolve(self) -> CaseRecord:
        people = [p.person.external_id for p in self.participants]
        if len(set(people)) != len(people):
            raise ValueError("a person appears twice among the participants")
        known = set(people)
        references: list[tuple[str, str | None]] = [
            *(("events", e.person_external_id) for e in self.events),
            *(("consents", c.person_external_id) for c in self.consents),
            *(("referrals", r.person_external_id) for r in self.referrals),
            *(("support_plans", s.person_external_id) for s in self.support_plans),
            *(
                ("identification_decisions", d.person_external_id)
                for d in self.identification_decisions
            ),
            *(
                ("criminal_proceedings", c.perpetrator_external_id)
                for c in self.criminal_proceedings
            ),
        ]
        for section, reference in references:
            if reference is not None and reference not in known:
                raise ValueError(f"{section} refers to a person who is not a participant")
        return self

    def victims(self) -> list[Participant]:
        return [p for p in self.participants if p.role in VICTIM_ROLES]


def case_json_schema() -> dict[str, Any]:
    schema = CaseRecord.model_json_schema()
    schema["$id"] = "https://tiphub.example/schema/tiphub-case-1.json"
    schema["title"] = "tiphub case (exchange format tiphub-case/1)"
    return schema
