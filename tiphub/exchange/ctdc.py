"""CTDC rows from tiphub case documents: one row per victim of a case.

Two layouts of the Counter-Trafficking Data Collaborative (CTDC) are produced, both
described in the packaged codebook table ``tiphub/standard/data/ctdc_variables.csv``
(its ``htcds_equivalent`` column is the mapping specification):

* the **Global Synthetic Dataset 2024** (``synthetic_rows``, 27 columns): flags are
  ``"1"`` when present and empty (NULL) otherwise, countries are ISO alpha-3;
* the **Global Dataset** (codebook v6 / 2018 dictionary, ``global_rows``, 63 columns):
  flags are ``1``/``0`` when the group of facts was recorded and ``-99`` when it was not,
  countries are ISO alpha-2.

Input is a canonical case document (``tiphub.cases.canonical.case_document``): dates are
ISO strings and absent values are absent keys. Every victim (a participant with a
``victim`` context) gives one row; other participants give none.

The flag mapping is one table, ``FLAGS``: for each group of facts, each CTDC flag column
and the tiphub codes that set it. Where the codebook is silent, tiphub's choices are
commented in the table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from tiphub.standard.codelists import codelist, country_alpha3

# --- the codebook ------------------------------------------------------------------------

_SYNTHETIC_DATASET = "CTDC Global Synthetic"
_GLOBAL_DATASET = "CTDC Global Dataset"


def _read_variables() -> list[dict[str, str]]:
    text = (
        resources.files("tiphub.standard")
        .joinpath("data", "ctdc_variables.csv")
        .read_text(encoding="utf-8")
    )
    return list(csv.DictReader(io.StringIO(text)))


VARIABLES: list[dict[str, str]] = _read_variables()

SYNTHETIC_COLUMNS: list[str] = [
    row["variable"]
    for row in VARIABLES
    if row["dataset"].startswith(_SYNTHETIC_DATASET) and not row["variable"].startswith("(removed)")
]
GLOBAL_COLUMNS: list[str] = [
    row["variable"] for row in VARIABLES if row["dataset"].startswith(_GLOBAL_DATASET)
]

# --- values ------------------------------------------------------------------------------

MISSING = "-99"  # Global Dataset; the synthetic dataset leaves the cell empty (NULL)
DATASOURCE = "Case Management"
UNKNOWN_CITIZENSHIP = "ZZ"  # codebook v6 (the 2018 dictionary uses "00")

_AGE_BANDS: tuple[str, ...] = (
    ("0--8",) * 9
    + ("9--17",) * 9
    + ("18--20",) * 3
    + ("21--23",) * 3
    + ("24--26",) * 3
    + ("27--29",) * 3
    + ("30--38",) * 9
    + ("39--47",) * 9
)
_OLDEST_BAND = "48+"


def age_band(age: int | None) -> str | None:
    """The CTDC broad age band of an age in completed years (``None`` if unknown)."""
    if age is None or age < 0:
        return None
    return _AGE_BANDS[age] if age < len(_AGE_BANDS) else _OLDEST_BAND


def _majority(age: int | None) -> str:
    if age is None or age < 0:
        return MISSING
    return "Minor" if age < 18 else "Adult"


def _months_band(months: int | None) -> str:
    if months is None or months < 0:
        return ""
    if months <= 12:
        return "0--12 (0-1 yr)"
    if months <= 24:
        return "13--24 (1-2 yrs)"
    return "25+ (2+ yrs)"


_TRANS = "Trans/Transgender/NonConforming"
SYNTHETIC_GENDER = {
    "Feminine": "Woman",
    "Masculine": "Man",
    "TransgenderFeminine": _TRANS,
    "TransgenderMasculine": _TRANS,
    "NonConforming": _TRANS,
    # NonSpecifiedUnknown: NULL
}
GLOBAL_GENDER = {
    "Feminine": "Female",
    "Masculine": "Male",
    "TransgenderFeminine": "Transgender/NonConforming",
    "TransgenderMasculine": "Transgender/NonConforming",
    "NonConforming": "Transgender/NonConforming",
    "NonSpecifiedUnknown": "Unknown",
}

RECRUITER_RELATIONSHIP = {
    "Familial": "Family/Relative",
    "Acquainted": "Friend/Acquaintance",
    "Unaquainted": "Other",
}
RECRUITER_NOT_SPECIFIED = "Not Specified"

# --- the flag table ----------------------------------------------------------------------

# Groups of facts. A victim's "observed" codes per group are matched against each flag.
MEANS = "means"  # victim.means_of_control
EXPLOITATION = "exploitation"  # victim.exploitation_types
LABOUR = "labour"  # victim.industry + labour-like exploitation types, if exploited in labour
SEX = "sex"  # victim.sex_exploitation_types, if sexually exploited
RELATION = "relation"  # victim.relationship_to_trafficker

# Exploitation types that make a labour sector (typeOfLabour*) meaningful.
LABOUR_EXPLOITATION = frozenset(
    {"ForcedLabour", "ChildLabour", "ForcedBegging", "ForcedCriminality"}
)
SEXUAL_EXPLOITATION = "SexualExploitation"

_MAPPED_INDUSTRIES = {
    "A_AgricultureForestryAndFishing",
    "B_MiningAndQuarrying",
    "C_Manufacturing",
    "F_Construction",
    "G_WholesaleAndRetailTradeRepairOfMotorVehicles",
    "H_TransportationAndStorage",
    "I_AccommodationAndFoodServiceActivities",
    "T_ActivitiesOfHouseholdsAsEmployers",
}
_OTHER_INDUSTRIES = frozenset(codelist("industry").codes) - _MAPPED_INDUSTRIES


def _f(*codes: str) -> frozenset[str]:
    return frozenset(codes)


# CTDC flag column -> the tiphub codes that set it, per group. Columns of both datasets
# share one entry where the name and meaning are the same.
FLAGS: dict[str, dict[str, frozenset[str]]] = {
    MEANS: {
        # Global Dataset
        "meansOfControlDebtBondage": _f("DebtBondage"),
        "meansOfControlTakesEarnings": _f("TakesEarnings"),
        "meansOfControlRestrictsFinancialAccess": _f("RestrictsFinancialAccess"),
        "meansOfControlThreats": _f("PhysicalThreats", "ThreatensChildrenFamily"),
        "meansOfControlPsychologicalAbuse": _f("PsychologicalAbuse"),
        "meansOfControlPhysicalAbuse": _f("PhysicalAbuse"),
        "meansOfControlSexualAbuse": _f("SexualAbuse"),
        "meansOfControlFalsePromises": _f("FalsePromises"),
        "meansOfControlPsychoactiveSubstances": _f("PsychoactiveSubstance"),
        "meansOfControlRestrictsMovement": _f("RestrictsMovement"),  # tiphub extension code
        "meansOfControlRestrictsMedicalCare": _f("RestrictsMedicalCare"),
        "meansOfControlExcessiveWorkingHours": _f("ExcessiveWorkingHours"),
        "meansOfControlUsesChildren": _f("ThreatensChildrenFamily"),
        "meansOfControlThreatOfLawEnforcement": _f("ThreatsLawEnforcement"),
        "meansOfControlWithholdsNecessities": _f("WithholdsNecessities"),
        "meansOfControlWithholdsDocuments": _f("WithholdsDocuments"),
        "meansOfControlOther": _f("Other"),
        # Global Synthetic Dataset (merged categories; "Other" is no longer exported)
        "meansDebtBondageEarnings": _f("DebtBondage", "TakesEarnings"),
        "meansThreats": _f("PhysicalThreats", "ThreatensChildrenFamily", "ThreatsLawEnforcement"),
        "meansAbusePsyPhySex": _f("PsychologicalAbuse", "PhysicalAbuse", "SexualAbuse"),
        "meansFalsePromises": _f("FalsePromises"),
        "meansDrugsAlcohol": _f("PsychoactiveSubstance"),
        "meansDenyBasicNeeds": _f(
            "RestrictsFinancialAccess",
            "RestrictsMovement",
            "RestrictsMedicalCare",
            "WithholdsNecessities",
        ),
        "meansExcessiveWorkHours": _f("ExcessiveWorkingHours"),
        "meansWithholdDocs": _f("WithholdsDocuments"),
    },
    EXPLOITATION: {
        # tiphub: child labour and forced begging are labour exploitation (CTDC counts
        # begging as a sector of forced labour).
        "isForcedLabour": _f("ForcedLabour", "ChildLabour", "ForcedBegging"),
        "isSexualExploit": _f(SEXUAL_EXPLOITATION),
        # tiphub: every remaining HTCDS type and the ForcedCriminality extension are "other",
        # so that each exploitation type lands in exactly one of the three parent flags.
        "isOtherExploit": _f(
            "Other",
            "ForcedMarriage",
            "ForcedMilitaryByNonStateActors",
            "OrganRemoval",
            "Servitude",
            "ForcedAdoption",
            "Surrogacy",
            "ForcedCriminality",
        ),
        "isForcedMarriage": _f("ForcedMarriage"),
        "isForcedMilitary": _f("ForcedMilitaryByNonStateActors"),
        "isOrganRemoval": _f("OrganRemoval"),
        "isSlaveryAndPractices": _f("Servitude"),
        # isSexAndLabour is isForcedLabour and isSexualExploit (see _exploitation_flags)
    },
    LABOUR: {
        "typeOfLabourAgriculture": _f("A_AgricultureForestryAndFishing"),
        # ISIC A division 03; tiphub records the section only, which goes to Agriculture.
        "typeOfLabourAquafarming": _f(),
        "typeOfLabourBegging": _f("ForcedBegging"),
        "typeOfLabourConstruction": _f("F_Construction"),
        "typeOfLabourDomesticWork": _f("T_ActivitiesOfHouseholdsAsEmployers"),
        "typeOfLabourHospitality": _f("I_AccommodationAndFoodServiceActivities"),
        "typeOfLabourIllicitActivities": _f("ForcedCriminality"),
        "typeOfLabourManufacturing": _f("C_Manufacturing"),
        "typeOfLabourMiningOrDrilling": _f("B_MiningAndQuarrying"),
        "typeOfLabourPeddling": _f("G_WholesaleAndRetailTradeRepairOfMotorVehicles"),
        "typeOfLabourTransportation": _f("H_TransportationAndStorage"),
        "typeOfLabourOther": _OTHER_INDUSTRIES,
    },
    SEX: {
        "typeOfSexProstitution": _f("Prostitution"),
        "typeOfSexPornography": _f("Pornography"),
        "typeOfSexRemoteInteractiveServices": _f("RemoteInteractiveServices"),
        "typeOfSexPrivateSexualServices": _f("PrivateSexualServices"),
    },
    RELATION: {
        "recruiterRelationIntimatePartner": _f(),  # HTCDS cannot tell a partner apart
        "recruiterRelationFriend": _f("Acquainted"),
        "recruiterRelationFamily": _f("Familial"),
        "recruiterRelationOther": _f("Unaquainted"),
    },
}

# "Not specified" flags of the Global Dataset, set when the group was not recorded.
NOT_SPECIFIED = {
    MEANS: "meansOfControlNotSpecified",
    LABOUR: "typeOfLabourNotSpecified",
    RELATION: "recruiterRelationUnknown",
}

# Labels of the Global Dataset's ";"-joined columns (values of variables.csv).
MEANS_LABELS = {
    "meansOfControlDebtBondage": "Debt bondage",
    "meansOfControlTakesEarnings": "Takes/Withholds Earnings",
    "meansOfControlRestrictsFinancialAccess": "Restricts access to finances",
    "meansOfControlThreats": "Threats to individual or others",
    "meansOfControlPsychologicalAbuse": "Psychological abuse",
    "meansOfControlPhysicalAbuse": "Physical abuse",
    "meansOfControlSexualAbuse": "Sexual abuse",
    "meansOfControlFalsePromises": "False promises/deception",
    "meansOfControlPsychoactiveSubstances": "Use of psychoactive substances",
    "meansOfControlRestrictsMovement": "Denied freedom of movement/kept in isolation",
    "meansOfControlRestrictsMedicalCare": "Limits/restricts medical services",
    "meansOfControlExcessiveWorkingHours": "Excessive working hours",
    "meansOfControlUsesChildren": "Restricts access to/manipulates children",
    "meansOfControlThreatOfLawEnforcement": "Threat of action by law enforcement",
    "meansOfControlWithholdsNecessities": "Withholds/denies basic necessities",
    "meansOfControlWithholdsDocuments": "Withholds/Destroys Important Documents",
    "meansOfControlOther": "Other",
    "meansOfControlNotSpecified": "Not Specified",
}
EXPLOITATION_LABELS = {
    "isForcedLabour": "Forced labour and/or services",
    "isSexualExploit": "Sexual exploitation",
    "isOtherExploit": "Other",
}


def _labels_after_colon(prefix: str) -> dict[str, str]:
    """typeOfLabour*/typeOfSex* labels: the codebook label after "Type of ...: "."""
    return {
        row["variable"]: row["label"].split(": ", 1)[1]
        for row in VARIABLES
        if row["dataset"].startswith(_GLOBAL_DATASET)
        and row["variable"].startswith(prefix)
        and not row["variable"].endswith("Concatenated")
    }


LABOUR_LABELS = _labels_after_colon("typeOfLabour")
SEX_LABELS = _labels_after_colon("typeOfSex")

CONCATENATED = {
    MEANS: ("meansOfControlConcatenated", MEANS_LABELS),
    EXPLOITATION: ("typeOfExploitConcatenated", EXPLOITATION_LABELS),
    LABOUR: ("typeOfLabourConcatenated", LABOUR_LABELS),
    SEX: ("typeOfSexConcatenated", SEX_LABELS),
}


def _flags_for(columns: list[str]) -> dict[str, tuple[tuple[str, frozenset[str]], ...]]:
    return {
        group: tuple((column, mapping[column]) for column in columns if column in mapping)
        for group, mapping in FLAGS.items()
    }


_SYNTHETIC_FLAGS = _flags_for(SYNTHETIC_COLUMNS)
_GLOBAL_FLAGS = _flags_for(GLOBAL_COLUMNS)
_LABOUR_CODES = frozenset(code for codes in FLAGS[LABOUR].values() for code in codes)
_EMPTY: frozenset[str] = frozenset()

# --- facts of one victim -----------------------------------------------------------------


@dataclass(slots=True)
class VictimFacts:
    """What one victim's CTDC row is derived from (codes, ISO dates, alpha-2 countries)."""

    registered_on: str | None
    age: int | None
    age_when_trafficked: int | None
    gender: str | None
    citizenship: str | None
    exploitation_country: str | None
    trafficked_months: int | None
    groups: dict[str, frozenset[str]]
    relationship: str | None


def _years_between(earlier: str, later: str) -> int | None:
    """Completed years between two ISO dates (strings compare as dates)."""
    years = int(later[:4]) - int(earlier[:4]) - (later[5:10] < earlier[5:10])
    return years if years >= 0 else None


def _months_between(earlier: str, later: str) -> int | None:
    months = (
        (int(later[:4]) - int(earlier[:4])) * 12
        + int(later[5:7])
        - int(earlier[5:7])
        - (later[8:10] < earlier[8:10])
    )
    return months if months >= 0 else None


def _earliest(items: Iterable[dict[str, Any]], key: str) -> str | None:
    dates = [item[key] for item in items if key in item]
    return min(dates) if dates else None


def _first(items: Iterable[dict[str, Any]], *keys: str) -> dict[str, Any] | None:
    for item in items:
        for key in keys:
            if key not in item:
                break
        else:
            return item
    return None


def _own(events: list[dict[str, Any]], person: str) -> list[dict[str, Any]]:
    return [event for event in events if event.get("person_external_id") == person]


def victim_facts(document: dict[str, Any]) -> list[VictimFacts]:
    """The facts behind each victim's row, in participant order."""
    case_registered = document.get("opened_on") or _earliest(
        (r for r in document.get("referrals", ()) if r.get("direction") == "Incoming"),
        "referred_on",
    )
    events = document.get("events", ())
    exploitation = [event for event in events if event.get("type") == "Exploitation"]
    identification = [event for event in events if event.get("type") == "Identification"]

    facts: list[VictimFacts] = []
    for participant in document.get("participants", ()):
        victim = participant.get("victim")
        if victim is None:
            continue
        person = participant.get("person", {})
        person_id = person.get("external_id")

        registered = case_registered or _earliest(
            victim.get("trafficking_status", ()), "asserted_on"
        )
        birth = person.get("birth_date")
        age = _years_between(birth, registered) if birth and registered else None

        # the victim's own Exploitation events first, then any of the case
        own = _own(exploitation, person_id) if exploitation else exploitation
        place = _first(own, "country") or _first(exploitation, "country")
        if place is None and identification:
            place = _first(_own(identification, person_id), "country") or _first(
                identification, "country"
            )
        period = _first(own, "started_on", "ended_on") or _first(
            exploitation, "started_on", "ended_on"
        )

        types = frozenset(victim.get("exploitation_types", ()))
        labour = _EMPTY
        if not types.isdisjoint(LABOUR_EXPLOITATION):
            industry = victim.get("industry")
            labour = types | {industry} if industry else types
        sex = (
            frozenset(victim.get("sex_exploitation_types", ()))
            if SEXUAL_EXPLOITATION in types
            else _EMPTY
        )
        relationship = victim.get("relationship_to_trafficker")
        citizenship = person.get("citizenship")

        facts.append(
            VictimFacts(
                registered_on=registered,
                age=age,
                age_when_trafficked=victim.get("age_when_trafficked"),
                gender=person.get("gender"),
                citizenship=citizenship[0] if citizenship else None,
                exploitation_country=place["country"] if place else None,
                trafficked_months=(
                    _months_between(period["started_on"], period["ended_on"]) if period else None
                ),
                groups={
                    MEANS: frozenset(victim.get("means_of_control", ())),
                    EXPLOITATION: types,
                    LABOUR: labour,
                    SEX: sex,
                    RELATION: frozenset((relationship,)) if relationship else _EMPTY,
                },
                relationship=relationship,
            )
        )
    return facts


@cache
def _alpha3(alpha_2: str) -> str:
    return country_alpha3(alpha_2)


# --- rows --------------------------------------------------------------------------------


def synthetic_rows(document: dict[str, Any]) -> list[dict[str, str]]:
    """Rows of the CTDC Global Synthetic Dataset 2024 layout ("" for NULL)."""
    rows = []
    for facts in victim_facts(document):
        row = dict.fromkeys(SYNTHETIC_COLUMNS, "")
        row["yearOfRegistration"] = facts.registered_on[:4] if facts.registered_on else ""
        row["gender"] = SYNTHETIC_GENDER.get(facts.gender or "", "")
        row["ageBroad"] = age_band(facts.age) or ""
        row["citizenship"] = _alpha3(facts.citizenship) if facts.citizenship else ""
        country = facts.exploitation_country
        row["CountryOfExploitation"] = _alpha3(country) if country else ""
        row["traffickMonths"] = _months_band(facts.trafficked_months)
        groups = facts.groups
        for group, flags in _SYNTHETIC_FLAGS.items():
            observed = groups[group]
            if observed:
                for column, codes in flags:
                    if not codes.isdisjoint(observed):
                        row[column] = "1"
        rows.append(row)
    return rows


def _concatenate(row: dict[str, str], group: str) -> None:
    column, labels = CONCATENATED[group]
    positive = sorted((labels[flag] for flag in labels if row.get(flag) == "1"), key=str.casefold)
    row[column] = ";".join(positive) if positive else MISSING


def global_rows(document: dict[str, Any]) -> list[dict[str, str]]:
    """Rows of the CTDC Global Dataset layout (codebook v6; -99 for missing)."""
    rows = []
    for facts in victim_facts(document):
        row = dict.fromkeys(GLOBAL_COLUMNS, MISSING)
        row["yearOfRegistration"] = facts.registered_on[:4] if facts.registered_on else MISSING
        row["Datasource"] = DATASOURCE
        row["gender"] = GLOBAL_GENDER.get(facts.gender or "", MISSING)
        row["ageBroad"] = age_band(facts.age) or MISSING
        row["majorityStatus"] = _majority(facts.age)
        row["majorityStatusAtExploit"] = row["majorityEntry"] = _majority(facts.age_when_trafficked)
        row["citizenship"] = facts.citizenship or UNKNOWN_CITIZENSHIP
        row["CountryOfExploitation"] = facts.exploitation_country or MISSING

        groups = facts.groups
        for group, flags in _GLOBAL_FLAGS.items():
            observed = groups[group]
            if group == LABOUR:
                known = not observed.isdisjoint(_LABOUR_CODES)
                not_specified = "1" if observed and not known else ("0" if known else MISSING)
            else:
                known = bool(observed)
                not_specified = "0" if known else "1"
            if known:
                for column, codes in flags:
                    row[column] = "0" if codes.isdisjoint(observed) else "1"
            if group in NOT_SPECIFIED:
                row[NOT_SPECIFIED[group]] = not_specified
        if groups[EXPLOITATION]:
            both = row["isForcedLabour"] == "1" and row["isSexualExploit"] == "1"
            row["isSexAndLabour"] = "1" if both else "0"
        for group in CONCATENATED:
            _concatenate(row, group)
        # isAbduction: HTCDS records no abduction, so it stays -99.
        row["RecruiterRelationship"] = RECRUITER_RELATIONSHIP.get(
            facts.relationship or "", RECRUITER_NOT_SPECIFIED
        )
        rows.append(row)
    return rows
