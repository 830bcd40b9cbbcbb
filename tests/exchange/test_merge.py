"""A flat file (HTCDS CSV/XLSX, XLSForm) updates a stored case; it never strips it down.

The cases are the synthetic demo data, stored and read back as canonical documents, plus
one factory-built case holding what the demo never generates (a witness, identifiers of
other kinds, a transit without country, an event without a person, several consents).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests import factories
from tiphub.cases.api import CaseStore
from tiphub.cases.canonical import case_document, content_hash
from tiphub.cases.persistence import iter_case_documents
from tiphub.cases.schema import CaseRecord
from tiphub.demo.loader import load_demo
from tiphub.exchange import htcds
from tiphub.exchange.exporter import export
from tiphub.exchange.merge import MergeError, merge_flat_case, removed_by_replace
from tiphub.exchange.sources import iter_csv
from tiphub.exchange.spreadsheet import restore

Document = dict[str, Any]
Row = dict[str, Any]
Edit = Callable[[Document], tuple[list[Row], Document] | None]

# Passed to the merge, so a test running over midnight still agrees with itself.
TODAY = dt.date.today()
SEEDS = (1, 7, 2024)
FLAT_EVENT_TYPES = ("Recruitment", "Transit", "Exploitation")


# --- data -----------------------------------------------------------------------------------


def rich_case() -> Document:
    """What the demo never generates: other roles, identifier kinds, odd events."""
    victim = factories.victim(
        "p1",
        mobile_phone="+40 721 000 111",
        mailing_latitude=44.43,
        mailing_longitude=26.1,
        identifiers=[
            {"kind": "Passport", "value": "RO1234567", "issuing_country": "RO"},
            {"kind": "NationalId", "value": "2990402123456", "issuing_country": "RO"},
            {"kind": "CaseNumber", "value": "POL-2024-17"},
        ],
    )
    victim["victim"]["trafficking_status"].append(
        {
            "status": "ActualVictimOfTrafficking",
            "decided_by_type": "Police",
            "asserted_by": "ro-police",
            "asserted_on": "2024-05-10",
        }
    )
    victim["victim"]["means_of_control"].append("RestrictsMovement")
    second = factories.victim("p2", first_name="Ioana", family_name="Stan", gender="Feminine")
    perpetrator = {
        "role": "Perpetrator",
        "person": {"external_id": "x1", "first_name": "Marius", "gender": "Masculine"},
        "perpetrator": {"kind": "Individual", "roles": ["RecruiterOrIntermediary"]},
    }
    witness = {"role": "Witness", "person": {"external_id": "w1", "first_name": "Elena"}}
    document = factories.case("rich-1", organisation="ngo-east")
    document["participants"] = [victim, perpetrator, second, witness]
    document["events"][1:1] = [
        {
            "type": "Transit",
            "person_external_id": "p1",
            "country": "HU",
            "started_on": "2023-06-20",
        },
        {"type": "Transit", "person_external_id": "p1", "city": "Vienna"},
        {
            "type": "Transit",
            "person_external_id": "p1",
            "country": "AT",
            "started_on": "2023-06-25",
        },
    ]
    document["events"] += [
        {"type": "Identification", "person_external_id": "p1", "country": "DE"},
        {"type": "Recruitment", "country": "RO", "description": "Recruited as a group."},
        {"type": "Exploitation", "person_external_id": "p1", "country": "NL"},
    ]
    document["consents"] += [
        {"person_external_id": "p1", "purpose": "Interview", "given": True},
        {"person_external_id": "p1", "purpose": "Research", "given": False},
        {
            "person_external_id": "p1",
            "purpose": "DataProcessing",
            "given": False,
            "recorded_on": "2023-01-01",
        },
    ]
    document["referrals"] = [
        {
            "direction": "Incoming",
            "from_organisation": "police-ro",
            "to_organisation": "ngo-east",
            "referred_on": "2024-02-28",
            "services": ["Accommodation", "Legal"],
            "status": "Accepted",
        },
        {"direction": "Outgoing", "from_organisation": "ngo-east", "to_organisation": "shelter-a"},
        {
            "direction": "Outgoing",
            "from_organisation": "ngo-east",
            "to_organisation": "legal-aid",
            "referred_on": "2024-04-01",
        },
    ]
    document["support_plans"] = [
        {"person_external_id": "p1", "type": "Legal", "objectives": "Residence permit."}
    ]
    document["notes"] = [
        {"text": "Met at the shelter.", "author": "cw-1", "written_on": "2024-03-02"}
    ]
    document["identification_decisions"] = [
        {
            "person_external_id": "p1",
            "decision_type": "PreliminaryIdentification",
            "outcome": "Positive",
            "decided_on": "2024-03-01",
        }
    ]
    document["criminal_proceedings"] = [
        {"perpetrator_external_id": "x1", "stage": "Investigation", "charges": ["Art. 210"]}
    ]
    return document


def stored_documents(engine: Engine) -> list[Document]:
    with engine.connect() as connection:
        return list(iter_case_documents(connection))


def demo_documents(engine: Engine, cases: int, seed: int) -> list[Document]:
    load_demo(engine, cases, seed, None)
    return stored_documents(engine)


@pytest.fixture
def documents(engine: Engine) -> list[Document]:
    load_demo(engine, 120, 7, None)
    CaseStore(engine).save(rich_case())
    return stored_documents(engine)


@pytest.fixture
def rich(documents: list[Document]) -> Document:
    return next(d for d in documents if d["external_id"] == "rich-1")


# --- helpers --------------------------------------------------------------------------------


def parsed_rows(document: Document, columns: list[str] | None = None) -> list[Row]:
    """The exporter's rows, parsed as the importer parses each cell."""
    return [
        {name: htcds.COLUMNS[name].parse(cells[name]) for name in (columns or htcds.HEADER)}
        for cells in htcds.case_rows(document)
    ]


def merged(document: Document, rows: list[Row], today: dt.date = TODAY) -> Document:
    result = merge_flat_case(document, rows, document["organisation"], today=today)
    # Valid, and canonical as stored documents are: no nulls, no empty lists, ISO dates.
    assert case_document(CaseRecord.model_validate(result)) == result
    return result


def canonical_hash(document: Document) -> str:
    return content_hash(case_document(CaseRecord.model_validate(document)))


def victims(document: Document) -> list[Document]:
    return [p for p in document["participants"] if p.get("victim") is not None]


def person_events(document: Document, person_id: str, kind: str) -> list[Document]:
    return [
        e
        for e in document.get("events", [])
        if e.get("person_external_id") == person_id and e["type"] == kind
    ]


def shown_status(victim: Document) -> Document:
    """The assertion a flat export shows: the newest by date, the later one on a tie."""
    assertions: list[Document] = victim["victim"]["trafficking_status"]
    newest = max(range(len(assertions)), key=lambda i: (assertions[i].get("asserted_on") or "", i))
    return assertions[newest]


def untouched(document: Document) -> dict[str, Any]:
    """Everything a flat file can never change."""
    return {
        "non_victims": [p for p in document["participants"] if p.get("victim") is None],
        "notes": document.get("notes"),
        "support_plans": document.get("support_plans"),
        "criminal_proceedings": document.get("criminal_proceedings"),
        "identification_decisions": document.get("identification_decisions"),
        "other_events": [
            e
            for e in document.get("events", [])
            if e["type"] not in FLAT_EVENT_TYPES or e.get("person_external_id") is None
        ],
        "other_identifiers": [
            i
            for p in document["participants"]
            for i in p["person"].get("identifiers", [])
            if i["kind"] != "NationalId"
        ],
        "older_statuses": [
            [a for a in v["victim"]["trafficking_status"] if a is not shown_status(v)]
            for v in victims(document)
        ],
    }


def set_case_cell(rows: list[Row], name: str, value: Any) -> None:
    # A case-level cell repeats on every row of the case.
    for row in rows:
        row[name] = value


def check_edit(
    documents: list[Document], edit: Edit, minimum: int, shows_edit: bool = True
) -> None:
    """Apply ``edit`` to every document it fits; the merge must give exactly its expectation."""
    applied = 0
    for document in documents:
        change = edit(document)
        if change is None:
            continue
        rows, expected = change
        assert expected != document, "the edit must change something"
        result = merged(document, rows)
        assert result == expected, document["external_id"]
        assert untouched(result) == untouched(document)
        if shows_edit:
            # A re-export shows what the file said, and re-importing it changes nothing more.
            assert parsed_rows(result, list(rows[0])) == rows
        assert merged(result, parsed_rows(result)) == result
        applied += 1
    assert applied >= minimum


def first_victim(document: Document) -> Document:
    return victims(document)[0]


def other(value: Any, *choices: Any) -> Any:
    return next(choice for choice in choices if choice != value)


# --- the demo holds every section -------------------------------------------------------------


def test_the_cases_hold_every_section(documents: list[Document]) -> None:
    def count(predicate: Callable[[Document], bool]) -> int:
        return sum(1 for d in documents if predicate(d))

    assert count(lambda d: any(p["role"] == "Perpetrator" for p in d["participants"])) >= 20
    assert count(lambda d: any(p["role"] == "Witness" for p in d["participants"])) >= 1
    for section in (
        "notes",
        "support_plans",
        "criminal_proceedings",
        "identification_decisions",
        "referrals",
    ):
        assert sum(1 for d in documents if d.get(section)) >= 5, section
    assert count(lambda d: len(d["events"]) >= 4) >= 50
    assert count(lambda d: len(d["consents"]) >= 2) >= 50
    assert count(lambda d: len(victims(d)) >= 2) >= 3
    assert (
        count(lambda d: any(len(v["victim"]["trafficking_status"]) > 1 for v in victims(d))) >= 20
    )
    assert (
        count(
            lambda d: (
                len(person_events(d, first_victim(d)["person"]["external_id"], "Transit")) >= 2
            )
        )
        >= 5
    )
    assert (
        count(lambda d: sum(r["direction"] == "Outgoing" for r in d.get("referrals", [])) >= 2) >= 5
    )
    assert count(lambda d: any(r["direction"] == "Incoming" for r in d.get("referrals", []))) >= 10
    assert (
        count(
            lambda d: any(
                i["kind"] == "NationalId"
                for v in victims(d)
                for i in v["person"].get("identifiers", [])
            )
        )
        >= 5
    )


# --- 1. an unchanged export changes nothing ---------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_unchanged_export_merges_to_the_stored_case(engine: Engine, seed: int) -> None:
    documents = demo_documents(engine, 80, seed)
    CaseStore(engine).save(rich_case())
    documents = stored_documents(engine)
    for document in documents:
        result = merged(document, parsed_rows(document))
        assert result == document, document["external_id"]
        assert canonical_hash(result) == canonical_hash(document)


def test_unchanged_csv_file_merges_to_the_stored_cases(
    documents: list[Document], engine: Engine, tmp_path: Path
) -> None:
    # Through a real file: CSV quoting and formula neutralisation (phone numbers with '+').
    path = tmp_path / "export.csv"
    export(path, "htcds-csv", engine=engine)
    header, lines = iter_csv(path)
    by_case: dict[str, list[Row]] = {}
    for line in lines:
        row = {
            name: htcds.COLUMNS[name].parse(restore(value)) for name, value in line.values.items()
        }
        by_case.setdefault(row["tip_CaseId"], []).append(row)
    assert header == htcds.HEADER
    assert any(
        v["person"].get("mobile_phone", "").startswith("+") for d in documents for v in victims(d)
    )
    stored = {d["external_id"]: d for d in documents if victims(d)}
    assert by_case.keys() == stored.keys()
    for case_id, rows in by_case.items():
        assert merged(stored[case_id], rows) == stored[case_id]


# --- 2. columns the file lacks are kept --------------------------------------------------------


@pytest.mark.parametrize(
    "columns",
    [
        ["tip_CaseId", "tip_PersonId", "prs_Gender", "vic_TraffickingStatus"],
        ["tip_CaseId", "tip_PersonId"],
        ["tip_CaseId", "tip_PersonId", "cas_Status", "cas_ReferredOrganisation"],
        # A plain HTCDS file: none of tiphub's own columns but the identifiers.
        ["tip_CaseId", "tip_PersonId", *(c for c in htcds.HEADER if not c.startswith("tip_"))],
    ],
)
def test_a_subset_of_columns_changes_nothing(documents: list[Document], columns: list[str]) -> None:
    for document in documents:
        rows = parsed_rows(document, columns)
        if not rows:
            continue
        result = merged(document, rows)
        assert result == document, document["external_id"]
        assert canonical_hash(result) == canonical_hash(document)


# --- 3. single-cell edits change exactly that --------------------------------------------------


def test_first_name(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows:
            return None
        rows[0]["prs_FirstName"] = "Zofia"
        expected = copy.deepcopy(document)
        first_victim(expected)["person"]["first_name"] = "Zofia"
        return rows, expected

    check_edit(documents, edit, minimum=100)


def test_gender(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows:
            return None
        gender = other(rows[0]["prs_Gender"], "NonConforming", "Feminine")
        rows[0]["prs_Gender"] = gender
        expected = copy.deepcopy(document)
        first_victim(expected)["person"]["gender"] = gender
        return rows, expected

    check_edit(documents, edit, minimum=100)


def test_emptied_cells_remove_the_values(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows or rows[0]["prs_Birthdate"] is None or not rows[0]["vic_Vulnerabilities"]:
            return None
        rows[0]["prs_Birthdate"] = None
        rows[0]["vic_Vulnerabilities"] = []
        expected = copy.deepcopy(document)
        del first_victim(expected)["person"]["birth_date"]
        del first_victim(expected)["victim"]["vulnerabilities"]
        return rows, expected

    check_edit(documents, edit, minimum=20)


def test_multi_select_is_replaced_whole(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows:
            return None
        new = other(rows[0]["vic_Vulnerabilities"], ["Poverty", "Migration"], ["Addiction"])
        rows[0]["vic_Vulnerabilities"] = new
        expected = copy.deepcopy(document)
        first_victim(expected)["victim"]["vulnerabilities"] = new
        return rows, expected

    check_edit(documents, edit, minimum=100)


PLAIN_HTCDS = ["tip_CaseId", "tip_PersonId", *(c for c in htcds.HEADER if not c.startswith("tip_"))]


def test_htcds_column_edit_keeps_extension_codes(documents: list[Document]) -> None:
    # vic_MethodsOfControl shows RestrictsMovement as "Other"; editing it in a plain HTCDS
    # file must neither lose the edit nor turn RestrictsMovement into Other.
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document, PLAIN_HTCDS)
        if not rows:
            return None
        means = first_victim(document)["victim"].get("means_of_control", [])
        if "RestrictsMovement" not in means or "SexualAbuse" in means:
            return None
        rows[0]["vic_MethodsOfControl"] = [*rows[0]["vic_MethodsOfControl"], "SexualAbuse"]
        expected = copy.deepcopy(document)
        first_victim(expected)["victim"]["means_of_control"] = [*means, "SexualAbuse"]
        return rows, expected

    check_edit(documents, edit, minimum=20)


def test_tip_column_edit_wins_over_an_unchanged_htcds_column(rich: Document) -> None:
    rows = parsed_rows(rich)
    rows[0]["tip_MethodsOfControl"] = ["RestrictsMovement"]
    result = merged(rich, rows)
    assert first_victim(result)["victim"]["means_of_control"] == ["RestrictsMovement"]
    rows = parsed_rows(rich)
    rows[0]["vic_TypeOfExploitation"] = ["ForcedLabour"]  # tip_ column present, unchanged
    result = merged(rich, rows)
    assert first_victim(result)["victim"]["exploitation_types"] == ["ForcedLabour"]
    rows = parsed_rows(rich)
    # Both edited and at odds: the tip_ column is the truth, unless it was emptied.
    rows[0]["tip_MethodsOfControl"] = []
    rows[0]["vic_MethodsOfControl"] = ["DebtBondage"]
    result = merged(rich, rows)
    assert first_victim(result)["victim"]["means_of_control"] == ["DebtBondage"]
    rows[0]["tip_MethodsOfControl"] = ["TakesEarnings"]
    result = merged(rich, rows)
    assert first_victim(result)["victim"]["means_of_control"] == ["TakesEarnings"]


def test_recruitment_country(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows or rows[0]["tip_RecruitmentCountry"] is None:
            return None
        country = other(rows[0]["tip_RecruitmentCountry"], "MD", "AL")
        rows[0]["tip_RecruitmentCountry"] = country
        expected = copy.deepcopy(document)
        pid = first_victim(expected)["person"]["external_id"]
        person_events(expected, pid, "Recruitment")[0]["country"] = country
        return rows, expected

    check_edit(documents, edit, minimum=100)


def test_recruitment_country_for_a_person_without_recruitment(rich: Document) -> None:
    rows = parsed_rows(rich)
    assert rows[1]["tip_PersonId"] == "p2" and rows[1]["tip_RecruitmentCountry"] is None
    rows[1]["tip_RecruitmentCountry"] = "UA"
    expected = copy.deepcopy(rich)
    expected["events"].append({"type": "Recruitment", "person_external_id": "p2", "country": "UA"})
    assert merged(rich, rows) == expected


def transit_edit(
    change: Callable[[list[str]], list[str] | None],
    expect: Callable[[Document, list[Document], list[str]], None],
) -> Edit:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows:
            return None
        new = change(rows[0]["tip_TransitCountries"])
        if new is None:
            return None
        rows[0]["tip_TransitCountries"] = new
        expected = copy.deepcopy(document)
        pid = first_victim(expected)["person"]["external_id"]
        shown = [e for e in person_events(expected, pid, "Transit") if e.get("country")]
        expect(expected, shown, new)
        return rows, expected

    return edit


def test_transit_country_changed(documents: list[Document]) -> None:
    def change(countries: list[str]) -> list[str] | None:
        return [other(countries[0], "RS", "HU"), *countries[1:]] if countries else None

    def expect(expected: Document, shown: list[Document], new: list[str]) -> None:
        shown[0]["country"] = new[0]  # its dates stay

    check_edit(documents, transit_edit(change, expect), minimum=15)


def test_transit_country_appended(documents: list[Document]) -> None:
    def change(countries: list[str]) -> list[str] | None:
        return [*countries, "RS"] if countries and countries[-1] != "RS" else None

    def expect(expected: Document, shown: list[Document], new: list[str]) -> None:
        events = expected["events"]
        at = next(i for i, e in enumerate(events) if e is shown[-1]) + 1
        pid = shown[-1]["person_external_id"]
        events.insert(at, {"type": "Transit", "person_external_id": pid, "country": "RS"})

    check_edit(documents, transit_edit(change, expect), minimum=15)


def test_first_transit_country_removed_keeps_the_others_dates(documents: list[Document]) -> None:
    def change(countries: list[str]) -> list[str] | None:
        return countries[1:] if len(countries) >= 2 and countries[0] != countries[1] else None

    def expect(expected: Document, shown: list[Document], new: list[str]) -> None:
        expected["events"] = [e for e in expected["events"] if e is not shown[0]]

    check_edit(documents, transit_edit(change, expect), minimum=5)


def test_transit_countries_emptied(documents: list[Document]) -> None:
    def change(countries: list[str]) -> list[str] | None:
        return [] if countries else None

    def expect(expected: Document, shown: list[Document], new: list[str]) -> None:
        expected["events"] = [e for e in expected["events"] if not any(e is s for s in shown)]

    check_edit(documents, transit_edit(change, expect), minimum=15)


def test_transit_added_where_there_was_none(documents: list[Document]) -> None:
    def change(countries: list[str]) -> list[str] | None:
        return ["HU"] if not countries else None

    def expect(expected: Document, shown: list[Document], new: list[str]) -> None:
        pid = first_victim(expected)["person"]["external_id"]
        exploitation = person_events(expected, pid, "Exploitation")[0]
        events = expected["events"]
        at = next(i for i, e in enumerate(events) if e is exploitation)
        events.insert(at, {"type": "Transit", "person_external_id": pid, "country": "HU"})

    check_edit(documents, transit_edit(change, expect), minimum=50)


def test_rich_transits_keep_the_transit_without_country(rich: Document) -> None:
    rows = parsed_rows(rich)
    assert rows[0]["tip_TransitCountries"] == ["HU", "AT"]
    rows[0]["tip_TransitCountries"] = ["AT"]
    result = merged(rich, rows)
    transits = person_events(result, "p1", "Transit")
    assert transits == [
        {"type": "Transit", "person_external_id": "p1", "city": "Vienna"},
        {
            "type": "Transit",
            "person_external_id": "p1",
            "country": "AT",
            "started_on": "2023-06-25",
        },
    ]


def test_exploitation_dates(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows or rows[0]["tip_ExploitationCountry"] is None:
            return None
        rows[0]["tip_ExploitationStartedOn"] = dt.date(2020, 1, 2)
        rows[0]["tip_ExploitationEndedOn"] = dt.date(2020, 6, 30)
        expected = copy.deepcopy(document)
        pid = first_victim(expected)["person"]["external_id"]
        event = person_events(expected, pid, "Exploitation")[0]
        event["started_on"], event["ended_on"] = "2020-01-02", "2020-06-30"
        return rows, expected

    check_edit(documents, edit, minimum=100)


def test_consent_flip_appends_to_the_history(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows:
            return None
        given = not rows[0]["con_Consent"]
        rows[0]["con_Consent"] = given
        expected = copy.deepcopy(document)
        expected.setdefault("consents", []).append(
            {
                "person_external_id": rows[0]["tip_PersonId"],
                "purpose": "DataProcessing",
                "given": given,
                "recorded_on": TODAY.isoformat(),
            }
        )
        return rows, expected

    check_edit(documents, edit, minimum=100)


def test_consent_is_dated_today_by_default(rich: Document) -> None:
    rows = parsed_rows(rich)
    rows[0]["con_Consent"] = not rows[0]["con_Consent"]
    before = dt.date.today().isoformat()
    result = merge_flat_case(rich, rows, rich["organisation"])
    after = dt.date.today().isoformat()
    assert result["consents"][:-1] == rich["consents"]
    assert result["consents"][-1]["recorded_on"] in (before, after)


def test_emptied_consent_keeps_the_history(rich: Document) -> None:
    rows = parsed_rows(rich)
    rows[0]["con_Consent"] = None
    assert merged(rich, rows) == rich


def outgoing(document: Document) -> list[Document]:
    return [r for r in document.get("referrals", []) if r["direction"] == "Outgoing"]


def test_outgoing_referral_target_added(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows:
            return None
        targets = rows[0]["cas_ReferredOrganisation"]
        set_case_cell(
            rows, "cas_ReferredOrganisation", f"{targets}|ngo-new" if targets else "ngo-new"
        )
        expected = copy.deepcopy(document)
        expected.setdefault("referrals", []).append(
            {
                "direction": "Outgoing",
                "from_organisation": document["organisation"],
                "to_organisation": "ngo-new",
            }
        )
        return rows, expected

    check_edit(documents, edit, minimum=100)


def test_outgoing_referral_target_removed(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        targeted = [r for r in outgoing(document) if r.get("to_organisation")]
        if not rows or len(targeted) < 2:
            return None
        *kept, gone = rows[0]["cas_ReferredOrganisation"].split("|")
        set_case_cell(rows, "cas_ReferredOrganisation", "|".join(kept))
        expected = copy.deepcopy(document)
        last = [r for r in outgoing(expected) if r.get("to_organisation") == gone][-1]
        expected["referrals"] = [r for r in expected["referrals"] if r is not last]
        return rows, expected

    check_edit(documents, edit, minimum=5)


def test_first_outgoing_target_removed_keeps_the_other_referrals(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        targets = [r["to_organisation"] for r in outgoing(document) if r.get("to_organisation")]
        if not rows or len(targets) < 2 or targets[0] in targets[1:]:
            return None
        set_case_cell(rows, "cas_ReferredOrganisation", "|".join(targets[1:]))
        expected = copy.deepcopy(document)
        first = outgoing(expected)[0]
        expected["referrals"] = [r for r in expected["referrals"] if r is not first]
        return rows, expected

    # The details cells described the removed referral: the next one keeps its own details.
    check_edit(documents, edit, minimum=5, shows_edit=False)


def test_outgoing_details_change_the_first_outgoing_referral(rich: Document) -> None:
    rows = parsed_rows(rich)
    set_case_cell(rows, "cas_ReasonForOutgoingReferral", "Other")
    expected = copy.deepcopy(rich)
    outgoing(expected)[0]["reason"] = "Other"
    assert merged(rich, rows) == expected


def test_incoming_referral_date(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows:
            return None
        set_case_cell(rows, "cas_IncomingReferralDate", dt.date(2021, 2, 3))
        expected = copy.deepcopy(document)
        incoming = [r for r in expected.get("referrals", []) if r["direction"] == "Incoming"]
        if incoming:
            incoming[0]["referred_on"] = "2021-02-03"
        else:
            expected.setdefault("referrals", []).append(
                {
                    "direction": "Incoming",
                    "to_organisation": document["organisation"],
                    "referred_on": "2021-02-03",
                }
            )
        return rows, expected

    check_edit(documents, edit, minimum=100)


def test_case_status(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows:
            return None
        status = other(document.get("status"), "FollowUp", "Active")
        set_case_cell(rows, "cas_Status", status)
        expected = copy.deepcopy(document)
        expected["status"] = status
        return rows, expected

    check_edit(documents, edit, minimum=100)


def test_trafficking_status_replaces_the_shown_assertion(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows:
            return None
        status = other(
            rows[0]["vic_TraffickingStatus"],
            "NotAVictimOfTrafficking",
            "PossibleVictimOfTrafficking",
        )
        rows[0]["vic_TraffickingStatus"] = status
        expected = copy.deepcopy(document)
        shown_status(first_victim(expected))["status"] = status
        return rows, expected

    check_edit(documents, edit, minimum=100)


def test_status_without_role_column_moves_the_derived_role(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document, PLAIN_HTCDS)
        if not rows or first_victim(document)["role"] != "PresumedVictim":
            return None
        if rows[0]["vic_TraffickingStatus"] != "PossibleVictimOfTrafficking":
            return None
        rows[0]["vic_TraffickingStatus"] = "ActualVictimOfTrafficking"
        expected = copy.deepcopy(document)
        first_victim(expected)["role"] = "Victim"
        shown_status(first_victim(expected))["status"] = "ActualVictimOfTrafficking"
        return rows, expected

    check_edit(documents, edit, minimum=20)


def test_national_id(documents: list[Document]) -> None:
    def edit(document: Document) -> tuple[list[Row], Document] | None:
        rows = parsed_rows(document)
        if not rows:
            return None
        rows[0]["prs_IdentityNumber"] = "NEW-4711"
        expected = copy.deepcopy(document)
        person = first_victim(expected)["person"]
        national = [i for i in person.get("identifiers", []) if i["kind"] == "NationalId"]
        if national:
            national[0]["value"] = "NEW-4711"  # its issuing country stays
        else:
            person.setdefault("identifiers", []).append({"kind": "NationalId", "value": "NEW-4711"})
        return rows, expected

    check_edit(documents, edit, minimum=100)


def test_national_id_removed_keeps_other_identifiers(rich: Document) -> None:
    rows = parsed_rows(rich)
    rows[0]["prs_IdentityNumber"] = None
    expected = copy.deepcopy(rich)
    person = first_victim(expected)["person"]
    person["identifiers"] = [i for i in person["identifiers"] if i["kind"] != "NationalId"]
    result = merged(rich, rows)
    assert result == expected
    assert [i["kind"] for i in first_victim(result)["person"]["identifiers"]] == [
        "Passport",
        "CaseNumber",
    ]


def test_rich_case_keeps_what_the_format_cannot_carry(rich: Document) -> None:
    rows = parsed_rows(rich)
    rows[0]["prs_FirstName"] = "Ana-Maria"
    result = merged(rich, rows)
    person = first_victim(result)["person"]
    assert person["first_name"] == "Ana-Maria"
    assert (person["mailing_latitude"], person["mailing_longitude"]) == (44.43, 26.1)
    assert [p["role"] for p in result["participants"]] == [
        "PresumedVictim",
        "Perpetrator",
        "PresumedVictim",
        "Witness",
    ]
    assert len(first_victim(result)["victim"]["trafficking_status"]) == 2
    assert result["consents"] == rich["consents"]
    assert result["events"] == rich["events"]
    assert result["referrals"] == rich["referrals"]
    for section in ("support_plans", "notes", "identification_decisions", "criminal_proceedings"):
        assert result[section] == rich[section]


# --- 4. people added and people not in the file ----------------------------------------------


def test_a_new_victim_row_adds_the_person(documents: list[Document]) -> None:
    applied = 0
    for document in documents:
        rows = parsed_rows(document)
        if not rows:
            continue
        new = {
            **rows[0],
            "tip_PersonId": "new-person-1",
            "prs_FirstName": "Nadia",
            "prs_IdentityNumber": "ID-99",
            "tip_TransitCountries": ["HU", "AT"],
            "con_Consent": True,
        }
        result = merged(document, [*rows, new])
        assert result["participants"][:-1] == document["participants"]
        assert result["participants"][-1]["person"]["external_id"] == "new-person-1"
        assert parsed_rows(result)[-1] == new
        # The new person's events and consents are added after the stored ones.
        for section in ("events", "consents"):
            stored = document.get(section, [])
            assert result[section][: len(stored)] == stored
            assert {i["person_external_id"] for i in result[section][len(stored) :]} == {
                "new-person-1"
            }
        assert untouched(result)["non_victims"] == untouched(document)["non_victims"]
        assert {
            k: v for k, v in result.items() if k not in ("participants", "events", "consents")
        } == {k: v for k, v in document.items() if k not in ("participants", "events", "consents")}
        applied += 1
    assert applied >= 100


def test_a_victim_missing_from_the_file_is_kept(documents: list[Document]) -> None:
    applied = 0
    for document in documents:
        rows = parsed_rows(document)
        if len(rows) < 2:
            continue
        rows[0]["prs_FirstName"] = "Zofia"
        expected = copy.deepcopy(document)
        first_victim(expected)["person"]["first_name"] = "Zofia"
        result = merged(document, rows[:1])
        assert result == expected
        assert victims(result)[1:] == victims(document)[1:]
        applied += 1
    assert applied >= 5


def test_rows_that_cannot_merge_are_refused(rich: Document) -> None:
    rows = parsed_rows(rich)
    with pytest.raises(MergeError, match="without a victim context") as raised:
        merged(rich, [*rows, {**rows[0], "tip_PersonId": "x1"}])
    assert "x1" not in str(raised.value)  # IDs may be anything a user typed: never quoted
    with pytest.raises(MergeError, match="more than one row"):
        merged(rich, [rows[0], rows[0]])
    with pytest.raises(MergeError, match="another case"):
        merged(rich, [{**rows[0], "tip_CaseId": "other-case"}])


def test_no_rows_change_nothing(rich: Document) -> None:
    result = merged(rich, [])
    assert result == rich and result is not rich


def test_the_stored_document_is_not_changed(rich: Document) -> None:
    before = copy.deepcopy(rich)
    rows = parsed_rows(rich)
    rows[0]["tip_TransitCountries"] = ["RS"]
    rows[0]["con_Consent"] = True
    rows[0]["prs_IdentityNumber"] = None
    merged(rich, rows)
    assert rich == before


# --- 5. what a replace would delete -------------------------------------------------------------


def flat_rebuild(document: Document) -> Document:
    """The case as a plain (replacing) import of its flat export builds it."""
    rows = parsed_rows(document)
    case_values = {name: rows[0][name] for name in htcds.CASE_COLUMNS}
    return htcds.build_case(case_values, rows, document["organisation"])


@pytest.mark.parametrize("seed", SEEDS)
def test_removed_by_replace_counts_what_a_flat_rebuild_loses(engine: Engine, seed: int) -> None:
    documents = demo_documents(engine, 80, seed)
    totals: Counter[str] = Counter()
    for document in documents:
        # Facts of the demo data that the expectations below rely on.
        assert all("recorded_on" in c for c in document["consents"])
        assert all("status" in r for r in document.get("referrals", []))
        assert all(e.get("started_on") for e in document["events"])
        flat_victims = victims(document)
        expected = {
            "perpetrators": sum(p["role"] == "Perpetrator" for p in document["participants"]),
            "notes": len(document.get("notes", [])),
            "support_plans": len(document.get("support_plans", [])),
            "criminal_proceedings": len(document.get("criminal_proceedings", [])),
            "identification_decisions": len(document.get("identification_decisions", [])),
            # Flat consents and referrals carry no date resp. status: none survives as stored.
            "consents": len(document["consents"]),
            "referrals": len(document.get("referrals", [])),
            # Only an exploitation event without a place survives; others have a place or
            # a date the flat layout drops, or a type it cannot carry.
            "events": sum(
                1
                for e in document["events"]
                if not (e["type"] == "Exploitation" and "city" not in e)
            ),
            # Every demo identifier has an issuing country, which no column carries.
            "identifiers": sum(len(v["person"].get("identifiers", [])) for v in flat_victims),
            # Only the newest status assertion is carried.
            "status_assertions": sum(
                len(v["victim"]["trafficking_status"]) - 1 for v in flat_victims
            ),
        }
        expected = {name: count for name, count in expected.items() if count}
        counts = removed_by_replace(document, flat_rebuild(document))
        assert counts == expected, document["external_id"]
        totals.update(counts)
        assert removed_by_replace(document, document) == {}
        assert removed_by_replace(document, merged(document, parsed_rows(document))) == {}
    for section in ("perpetrators", "notes", "support_plans", "events", "consents", "referrals"):
        assert totals[section] > 0, section


def test_removed_by_replace_counts_hand_made_deletions(rich: Document) -> None:
    incoming = copy.deepcopy(rich)
    incoming["notes"] = []
    del incoming["criminal_proceedings"]
    incoming["events"] = incoming["events"][:-2]
    incoming["participants"] = [p for p in incoming["participants"] if p["role"] != "Witness"]
    incoming["participants"] = [p for p in incoming["participants"] if p["role"] != "Perpetrator"]
    person = first_victim(incoming)["person"]
    person["identifiers"][0]["value"] = "CHANGED"  # a changed identifier is the stored one lost
    person["first_name"] = "Changed"  # a changed field is not a deleted one
    del person["mailing_latitude"]
    del first_victim(incoming)["victim"]["means_of_control"]
    incoming["opened_on"] = None
    incoming["consents"] = incoming["consents"][:1]
    assert removed_by_replace(rich, incoming) == {
        "notes": 1,
        "criminal_proceedings": 1,
        "events": 2,
        "other_participants": 1,
        "perpetrators": 1,
        "identifiers": 1,
        "participant_fields": 2,
        "case_fields": 1,
        "consents": len(rich["consents"]) - 1,
    }


def test_emptied_items_go_only_when_nothing_else_is_left(rich: Document) -> None:
    document = copy.deepcopy(rich)
    document["events"].append({"type": "Recruitment", "person_external_id": "p2", "country": "MD"})
    rows = parsed_rows(document)
    rows[1]["tip_RecruitmentCountry"] = None  # the event held nothing but its country
    rows[0]["tip_RecruitmentCountry"] = None  # this one has a date too
    set_case_cell(rows, "cas_ReferringOrganisation", None)
    set_case_cell(rows, "cas_IncomingReferralDate", None)
    expected = copy.deepcopy(rich)
    del person_events(expected, "p1", "Recruitment")[0]["country"]
    incoming = expected["referrals"][0]
    del incoming["from_organisation"], incoming["referred_on"]  # services and status stay
    assert merged(document, rows) == expected


def test_a_section_emptied_disappears() -> None:
    document = case_document(
        CaseRecord.model_validate(
            factories.case(
                events=[{"type": "Recruitment", "person_external_id": "p1", "country": "RO"}],
                consents=[],
            )
        )
    )
    rows = parsed_rows(document)
    rows[0]["tip_RecruitmentCountry"] = None
    expected = {k: v for k, v in document.items() if k != "events"}
    assert merged(document, rows) == expected


def test_emptied_status_removes_the_shown_assertion_only(rich: Document) -> None:
    rows = parsed_rows(rich)
    rows[0]["vic_TraffickingStatus"] = None
    rows[0]["tip_TraffickingStatusBy"] = None
    rows[0]["tip_TraffickingStatusOn"] = None
    rows[0]["vic_TraffickingStatusDecisionMakingOrg"] = None
    expected = copy.deepcopy(rich)
    assertions = first_victim(expected)["victim"]["trafficking_status"]
    assertions.remove(shown_status(first_victim(expected)))
    assert len(assertions) == 1
    assert merged(rich, rows) == expected
