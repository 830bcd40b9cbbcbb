"""The HTCDS flat layout: one row per victim in a case, HTCDS field names as headers.

HTCDS has no case or person identifier and no room for tiphub's extensions, so tiphub
adds namespaced ``tip_`` columns; a file without them still imports (identifiers are
then derived from the row's content, so re-importing the same file changes nothing).
Multi-select values are pipe-separated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tiphub.standard.codelists import (
    codelist,
    normalise_country,
    normalise_language,
)

# Header spellings found in the HTCDS toolkit's own files, read as the standard's names.
HEADER_ALIASES = {
    "vic_TraffickinStatusDecisionMakingOrg": "vic_TraffickingStatusDecisionMakingOrg",
    "prs_First_Name": "prs_FirstName",
    "prs_Second_Name": "prs_SecondName",
    "vic_Methods_of_Control": "vic_MethodsOfControl",
}


class CellError(ValueError):
    pass


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_text(value: Any) -> str | None:
    return _text(value)


def parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if text is None:
        return None
    candidate = text[:10]
    try:
        return dt.date.fromisoformat(candidate)
    except ValueError:
        raise CellError("not a valid date (expected YYYY-MM-DD)") from None


# Counts in a case file (children, age) are small; a 5,000-digit "number" is an attack.
MAX_WHOLE_NUMBER = 1_000_000


def parse_int(value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return None
    if len(text) > 32:
        raise CellError("not a whole number")
    try:
        number = float(text)
    except ValueError:
        raise CellError("not a whole number") from None
    if not number.is_integer() or abs(number) > MAX_WHOLE_NUMBER:
        raise CellError(f"not a whole number of at most {MAX_WHOLE_NUMBER:,}")
    return int(number)


TRUE_WORDS = {"true", "yes", "y", "1", "checked"}
FALSE_WORDS = {"false", "no", "n", "0", "unchecked"}


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value)
    if text is None:
        return None
    lowered = text.casefold()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise CellError("not a yes/no value (use TRUE or FALSE)")


def _split(value: Any, separator: str | None) -> list[str]:
    text = _text(value)
    if text is None:
        return []
    parts = text.split(separator) if separator else text.split()
    return [part.strip() for part in parts if part.strip()]


@dataclass(frozen=True)
class CodeParser:
    """Reads a cell of one code list: one code, or several split by ``separator``.

    A class rather than a closure so that an import can tell which list a column uses.
    """

    list_name: str
    many: bool = False
    separator: str | None = "|"

    def parts(self, value: Any) -> list[str]:
        if not self.many:
            text = _text(value)
            return [] if text is None else [text]
        return _split(value, self.separator)

    def __call__(self, value: Any) -> Any:
        codes = codelist(self.list_name)
        if not self.many:
            text = _text(value)
            return None if text is None else codes.normalise(text)
        return [codes.normalise(part) for part in _split(value, self.separator)]


def code_parser(list_name: str) -> CodeParser:
    return CodeParser(list_name)


def codes_parser(list_name: str, separator: str | None = "|") -> CodeParser:
    return CodeParser(list_name, many=True, separator=separator)


def parse_country(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else normalise_country(text)


def parse_countries(value: Any) -> list[str]:
    return [normalise_country(part) for part in _split(value, "|")]


def parse_language(value: Any) -> str | None:
    text = _text(value)
    return None if text is None else normalise_language(text)


@dataclass(frozen=True)
class Column:
    name: str
    level: str  # "case" or "person"
    parse: Callable[[Any], Any]
    identity: bool = False  # masked in error reports


def _columns() -> list[Column]:
    case, person = "case", "person"
    text, date = parse_text, parse_date
    return [
        Column("tip_CaseId", case, text),
        Column("tip_Organisation", case, text),
        Column("tip_CaseOpenedOn", case, date),
        Column("cas_CaseOwner", case, text, identity=True),
        Column("cas_Status", case, code_parser("case_status")),
        Column("cas_ReasonForCaseClosure", case, text),
        Column("tip_PersonId", person, text),
        Column("tip_Role", person, code_parser("participant_role")),
        Column("prs_Salutation", person, text, identity=True),
        Column("prs_FirstName", person, text, identity=True),
        Column("prs_MiddleName", person, text, identity=True),
        Column("prs_SecondName", person, text, identity=True),
        Column("prs_Birthdate", person, date, identity=True),
        Column("prs_Gender", person, code_parser("gender")),
        Column("prs_Citizenship", person, parse_countries),
        Column("prs_PrimaryLanguage", person, parse_language),
        Column("prs_SecondaryLanguage", person, parse_language),
        Column("prs_MaritalStatus", person, code_parser("marital_status")),
        Column("prs_NumberOfChildren", person, parse_int),
        Column("prs_HighestLevelOfEducation", person, code_parser("education")),
        Column("prs_Deceased", person, parse_bool),
        Column("prs_IdentityNumber", person, text, identity=True),
        Column("prs_Title", person, text, identity=True),
        Column("prs_Email", person, text, identity=True),
        Column("prs_HomePhone", person, text, identity=True),
        Column("prs_MobilePhone", person, text, identity=True),
        Column("prs_MailingStreet", person, text, identity=True),
        Column("prs_MailingCity", person, text, identity=True),
        Column("prs_MailingState", person, text, identity=True),
        Column("prs_MailingPostalCode", person, text, identity=True),
        Column("prs_MailingCountry", person, parse_country),
        Column("con_Consent", person, parse_bool),
        Column("vic_TraffickingStatus", person, code_parser("trafficking_status")),
        Column(
            "vic_TraffickingStatusDecisionMakingOrg", person, code_parser("decision_making_org")
        ),
        Column("tip_TraffickingStatusBy", person, text),
        Column("tip_TraffickingStatusOn", person, date),
        Column("vic_RelationshipToTrafficker", person, code_parser("relationship_to_trafficker")),
        Column("vic_AgeWhenTrafficked", person, parse_int),
        Column("vic_RecruitmentWebsitesAndApps", person, codes_parser("website")),
        Column("vic_MethodOfRecruitment", person, codes_parser("recruitment_method")),
        Column("vic_LocationOfRecruitment", person, text),
        Column("vic_MethodsOfControl", person, codes_parser("means_of_control")),
        Column("tip_MethodsOfControl", person, codes_parser("means_of_control")),
        Column("vic_TypeOfExploitation", person, codes_parser("exploitation_type")),
        Column("tip_TypeOfExploitation", person, codes_parser("exploitation_type")),
        Column("vic_ForcedLabourIndustry", person, code_parser("industry")),
        Column("vic_TypeOfSexExploitation", person, codes_parser("sex_exploitation_type")),
        Column("vic_LocationOfExploitation", person, text),
        Column("vic_ExploitationWebsitesAndApps", person, codes_parser("website")),
        Column("vic_Vulnerabilities", person, codes_parser("vulnerability")),
        Column("tip_RecruitmentCountry", person, parse_country),
        Column("tip_TransitCountries", person, parse_countries),
        Column("tip_ExploitationCountry", person, parse_country),
        Column("tip_ExploitationStartedOn", person, date),
        Column("tip_ExploitationEndedOn", person, date),
        Column("cas_ReferringOrganisation", case, text),
        Column("cas_IncomingReferralDate", case, date),
        Column("cas_ReferringPrimaryCaseWorker", case, text, identity=True),
        Column("cas_ReasonForIncomingReferral", case, code_parser("referral_reason")),
        Column("cas_IncomingReferralDetails", case, text),
        Column("cas_ReferredOrganisation", case, text),
        Column("cas_ReferredPrimaryCaseWorker", case, text, identity=True),
        Column("cas_ReasonForOutgoingReferral", case, code_parser("referral_reason")),
        Column("cas_OutgoingReferralDate", case, date),
        Column("cas_OutgoingReferralDetails", case, text),
    ]


COLUMNS: dict[str, Column] = {column.name: column for column in _columns()}
HEADER = list(COLUMNS)
CASE_COLUMNS = [column.name for column in COLUMNS.values() if column.level == "case"]

# Extension codes have no HTCDS value: the vic_ column gets this, the tip_ column the truth.
HTCDS_FALLBACK = {
    "exploitation_type": {"ForcedCriminality": "Other"},
    "means_of_control": {"RestrictsMovement": "Other"},
}


def to_htcds_codes(list_name: str, codes: Iterable[str]) -> list[str]:
    fallback = HTCDS_FALLBACK[list_name]
    mapped: list[str] = []
    for code in codes:
        value = fallback.get(code, code)
        if value not in mapped:
            mapped.append(value)
    return mapped


def derived_id(*parts: Any) -> str:
    digest = hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=8).hexdigest()
    return f"row-{digest}"


def join(values: Iterable[str]) -> str:
    return "|".join(values)


def build_case(
    case_values: dict[str, Any], person_rows: list[dict[str, Any]], organisation: str
) -> dict[str, Any]:
    """A case document (to be validated) from parsed case-level and per-person values."""
    c = case_values
    participants: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    for p in person_rows:
        person_id = p["tip_PersonId"]
        identifiers = (
            [{"kind": "NationalId", "value": p["prs_IdentityNumber"]}]
            if p.get("prs_IdentityNumber")
            else []
        )
        person = {
            "external_id": person_id,
            "salutation": p.get("prs_Salutation"),
            "first_name": p.get("prs_FirstName"),
            "middle_name": p.get("prs_MiddleName"),
            "family_name": p.get("prs_SecondName"),
            "title": p.get("prs_Title"),
            "birth_date": p.get("prs_Birthdate"),
            "email": p.get("prs_Email"),
            "home_phone": p.get("prs_HomePhone"),
            "mobile_phone": p.get("prs_MobilePhone"),
            "mailing_street": p.get("prs_MailingStreet"),
            "mailing_city": p.get("prs_MailingCity"),
            "mailing_state": p.get("prs_MailingState"),
            "mailing_postal_code": p.get("prs_MailingPostalCode"),
            "mailing_country": p.get("prs_MailingCountry"),
            "identifiers": identifiers,
            "gender": p.get("prs_Gender"),
            "citizenship": p.get("prs_Citizenship") or [],
            "primary_language": p.get("prs_PrimaryLanguage"),
            "secondary_language": p.get("prs_SecondaryLanguage"),
            "marital_status": p.get("prs_MaritalStatus"),
            "education": p.get("prs_HighestLevelOfEducation"),
            "number_of_children": p.get("prs_NumberOfChildren"),
            "deceased": p.get("prs_Deceased"),
        }
        status = p.get("vic_TraffickingStatus")
        role = p.get("tip_Role") or (
            "Victim" if status == "ActualVictimOfTrafficking" else "PresumedVictim"
        )
        victim = None
        if status is not None or role in ("Victim", "PresumedVictim"):
            assertions = []
            if status is not None:
                assertions.append(
                    {
                        "status": status,
                        "decided_by_type": p.get("vic_TraffickingStatusDecisionMakingOrg"),
                        "asserted_by": p.get("tip_TraffickingStatusBy") or organisation,
                        "asserted_on": p.get("tip_TraffickingStatusOn"),
                    }
                )
            victim = {
                "trafficking_status": assertions,
                "recruitment_methods": p.get("vic_MethodOfRecruitment") or [],
                "recruitment_websites": p.get("vic_RecruitmentWebsitesAndApps") or [],
                "location_of_recruitment": p.get("vic_LocationOfRecruitment"),
                "means_of_control": p.get("tip_MethodsOfControl")
                or p.get("vic_MethodsOfControl")
                or [],
                "exploitation_types": p.get("tip_TypeOfExploitation")
                or p.get("vic_TypeOfExploitation")
                or [],
                "sex_exploitation_types": p.get("vic_TypeOfSexExploitation") or [],
                "industry": p.get("vic_ForcedLabourIndustry"),
                "location_of_exploitation": p.get("vic_LocationOfExploitation"),
                "exploitation_websites": p.get("vic_ExploitationWebsitesAndApps") or [],
                "age_when_trafficked": p.get("vic_AgeWhenTrafficked"),
                "relationship_to_trafficker": p.get("vic_RelationshipToTrafficker"),
                "vulnerabilities": p.get("vic_Vulnerabilities") or [],
            }
        participants.append({"role": role, "person": person, "victim": victim})
        if p.get("tip_RecruitmentCountry"):
            events.append(
                {
                    "type": "Recruitment",
                    "person_external_id": person_id,
                    "country": p["tip_RecruitmentCountry"],
                }
            )
        for country in p.get("tip_TransitCountries") or []:
            events.append({"type": "Transit", "person_external_id": person_id, "country": country})
        if (
            p.get("tip_ExploitationCountry")
            or p.get("tip_ExploitationStartedOn")
            or p.get("tip_ExploitationEndedOn")
        ):
            events.append(
                {
                    "type": "Exploitation",
                    "person_external_id": person_id,
                    "country": p.get("tip_ExploitationCountry"),
                    "started_on": p.get("tip_ExploitationStartedOn"),
                    "ended_on": p.get("tip_ExploitationEndedOn"),
                }
            )
        consent = p.get("con_Consent")
        if consent is not None:
            purposes = ("Interview", "DataProcessing") if consent else ("DataProcessing",)
            consents.extend(
                {"person_external_id": person_id, "purpose": purpose, "given": consent}
                for purpose in purposes
            )
    referrals: list[dict[str, Any]] = []
    incoming = [
        c.get(name)
        for name in (
            "cas_ReferringOrganisation",
            "cas_IncomingReferralDate",
            "cas_ReferringPrimaryCaseWorker",
            "cas_ReasonForIncomingReferral",
            "cas_IncomingReferralDetails",
        )
    ]
    if any(value is not None for value in incoming):
        referrals.append(
            {
                "direction": "Incoming",
                "from_organisation": c.get("cas_ReferringOrganisation"),
                "to_organisation": organisation,
                "referred_on": c.get("cas_IncomingReferralDate"),
                "reason": c.get("cas_ReasonForIncomingReferral"),
                "details": c.get("cas_IncomingReferralDetails"),
                "referring_case_worker": c.get("cas_ReferringPrimaryCaseWorker"),
            }
        )
    outgoing_targets = [
        part.strip()
        for part in (c.get("cas_ReferredOrganisation") or "").split("|")
        if part.strip()
    ]
    outgoing_other = [
        c.get(name)
        for name in (
            "cas_ReferredPrimaryCaseWorker",
            "cas_ReasonForOutgoingReferral",
            "cas_OutgoingReferralDate",
            "cas_OutgoingReferralDetails",
        )
    ]
    if outgoing_targets or any(value is not None for value in outgoing_other):
        for target in outgoing_targets or [None]:
            referrals.append(
                {
                    "direction": "Outgoing",
                    "from_organisation": organisation,
                    "to_organisation": target,
                    "referred_on": c.get("cas_OutgoingReferralDate"),
                    "reason": c.get("cas_ReasonForOutgoingReferral"),
                    "details": c.get("cas_OutgoingReferralDetails"),
                    "referred_case_worker": c.get("cas_ReferredPrimaryCaseWorker"),
                }
            )
    return {
        "external_id": c["tip_CaseId"],
        "organisation": organisation,
        "status": c.get("cas_Status"),
        "reason_for_closure": c.get("cas_ReasonForCaseClosure"),
        "case_owner": c.get("cas_CaseOwner"),
        "opened_on": c.get("tip_CaseOpenedOn"),
        "participants": participants,
        "events": events,
        "consents": consents,
        "referrals": referrals,
    }


# --- export -------------------------------------------------------------------------------


def _latest(items: list[dict[str, Any]], date_key: str) -> dict[str, Any] | None:
    if not items:
        return None
    # The newest dated entry wins; undated entries count as oldest, list order breaks ties.
    ranked = sorted(enumerate(items), key=lambda pair: (pair[1].get(date_key) or "", pair[0]))
    return ranked[-1][1]


def case_rows(document: dict[str, Any]) -> list[dict[str, str]]:
    """The HTCDS flat rows (one per victim) for one canonical case document."""
    org = document["organisation"]
    referrals = document.get("referrals", [])
    incoming: dict[str, Any] = next((r for r in referrals if r["direction"] == "Incoming"), {})
    outgoing = [r for r in referrals if r["direction"] == "Outgoing"]
    first_out = outgoing[0] if outgoing else {}
    case_cells = {
        "tip_CaseId": document["external_id"],
        "tip_Organisation": org,
        "tip_CaseOpenedOn": document.get("opened_on"),
        "cas_CaseOwner": document.get("case_owner"),
        "cas_Status": document.get("status"),
        "cas_ReasonForCaseClosure": document.get("reason_for_closure"),
        "cas_ReferringOrganisation": incoming.get("from_organisation"),
        "cas_IncomingReferralDate": incoming.get("referred_on"),
        "cas_ReferringPrimaryCaseWorker": incoming.get("referring_case_worker"),
        "cas_ReasonForIncomingReferral": incoming.get("reason"),
        "cas_IncomingReferralDetails": incoming.get("details"),
        "cas_ReferredOrganisation": join(
            r["to_organisation"] for r in outgoing if r.get("to_organisation")
        ),
        "cas_ReferredPrimaryCaseWorker": first_out.get("referred_case_worker"),
        "cas_ReasonForOutgoingReferral": first_out.get("reason"),
        "cas_OutgoingReferralDate": first_out.get("referred_on"),
        "cas_OutgoingReferralDetails": first_out.get("details"),
    }
    rows: list[dict[str, str]] = []
    for participant in document["participants"]:
        victim = participant.get("victim")
        if victim is None:
            continue
        person = participant["person"]
        person_id = person["external_id"]
        events = [e for e in document.get("events", []) if e.get("person_external_id") == person_id]
        recruitment: dict[str, Any] = next((e for e in events if e["type"] == "Recruitment"), {})
        exploitation: dict[str, Any] = next((e for e in events if e["type"] == "Exploitation"), {})
        consents = [c for c in document.get("consents", []) if c["person_external_id"] == person_id]
        processing = _latest(
            [c for c in consents if c["purpose"] == "DataProcessing"], "recorded_on"
        )
        status = _latest(victim.get("trafficking_status", []), "asserted_on") or {}
        national_id = next(
            (i["value"] for i in person.get("identifiers", []) if i["kind"] == "NationalId"), None
        )
        exploitation_types = victim.get("exploitation_types", [])
        means = victim.get("means_of_control", [])
        cells: dict[str, Any] = {
            **case_cells,
            "tip_PersonId": person_id,
            "tip_Role": participant["role"],
            "prs_Salutation": person.get("salutation"),
            "prs_FirstName": person.get("first_name"),
            "prs_MiddleName": person.get("middle_name"),
            "prs_SecondName": person.get("family_name"),
            "prs_Birthdate": person.get("birth_date"),
            "prs_Gender": person.get("gender"),
            "prs_Citizenship": join(person.get("citizenship", [])),
            "prs_PrimaryLanguage": person.get("primary_language"),
            "prs_SecondaryLanguage": person.get("secondary_language"),
            "prs_MaritalStatus": person.get("marital_status"),
            "prs_NumberOfChildren": person.get("number_of_children"),
            "prs_HighestLevelOfEducation": person.get("education"),
            "prs_Deceased": person.get("deceased"),
            "prs_IdentityNumber": national_id,
            "prs_Title": person.get("title"),
            "prs_Email": person.get("email"),
            "prs_HomePhone": person.get("home_phone"),
            "prs_MobilePhone": person.get("mobile_phone"),
            "prs_MailingStreet": person.get("mailing_street"),
            "prs_MailingCity": person.get("mailing_city"),
            "prs_MailingState": person.get("mailing_state"),
            "prs_MailingPostalCode": person.get("mailing_postal_code"),
            "prs_MailingCountry": person.get("mailing_country"),
            "con_Consent": None if processing is None else processing["given"],
            "vic_TraffickingStatus": status.get("status"),
            "vic_TraffickingStatusDecisionMakingOrg": status.get("decided_by_type"),
            "tip_TraffickingStatusBy": status.get("asserted_by"),
            "tip_TraffickingStatusOn": status.get("asserted_on"),
            "vic_RelationshipToTrafficker": victim.get("relationship_to_trafficker"),
            "vic_AgeWhenTrafficked": victim.get("age_when_trafficked"),
            "vic_RecruitmentWebsitesAndApps": join(victim.get("recruitment_websites", [])),
            "vic_MethodOfRecruitment": join(victim.get("recruitment_methods", [])),
            "vic_LocationOfRecruitment": victim.get("location_of_recruitment"),
            "vic_MethodsOfControl": join(to_htcds_codes("means_of_control", means)),
            "tip_MethodsOfControl": join(means),
            "vic_TypeOfExploitation": join(to_htcds_codes("exploitation_type", exploitation_types)),
            "tip_TypeOfExploitation": join(exploitation_types),
            "vic_ForcedLabourIndustry": victim.get("industry"),
            "vic_TypeOfSexExploitation": join(victim.get("sex_exploitation_types", [])),
            "vic_LocationOfExploitation": victim.get("location_of_exploitation"),
            "vic_ExploitationWebsitesAndApps": join(victim.get("exploitation_websites", [])),
            "vic_Vulnerabilities": join(victim.get("vulnerabilities", [])),
            "tip_RecruitmentCountry": recruitment.get("country"),
            "tip_TransitCountries": join(
                e["country"] for e in events if e["type"] == "Transit" and e.get("country")
            ),
            "tip_ExploitationCountry": exploitation.get("country"),
            "tip_ExploitationStartedOn": exploitation.get("started_on"),
            "tip_ExploitationEndedOn": exploitation.get("ended_on"),
        }
        rows.append({name: _cell_text(cells.get(name)) for name in HEADER})
    return rows


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)
