"""CTDC rows (Global Synthetic Dataset 2024 and Global Dataset) from small synthetic cases."""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Any

import pytest

from tiphub.cases.canonical import case_document
from tiphub.cases.schema import CaseRecord
from tiphub.exchange import ctdc
from tiphub.standard.codelists import codelist


def _codebook() -> list[dict[str, str]]:
    text = (
        resources.files("tiphub.standard")
        .joinpath("data", "ctdc_variables.csv")
        .read_text(encoding="utf-8")
    )
    return list(csv.DictReader(io.StringIO(text)))


def _victim(
    person_id: str = "v1", *, victim: dict[str, Any] | None = None, **person: Any
) -> dict[str, Any]:
    return {
        "role": "Victim",
        "person": {"external_id": person_id, "gender": "Feminine", **person},
        "victim": {
            "trafficking_status": [{"status": "ActualVictimOfTrafficking"}],
            **(victim or {}),
        },
    }


def _document(*participants: dict[str, Any], **case: Any) -> dict[str, Any]:
    record = CaseRecord.model_validate(
        {
            "external_id": "c1",
            "organisation": "ngo-test",
            "participants": list(participants) or [_victim()],
            **case,
        }
    )
    return case_document(record)


def _synthetic(*participants: dict[str, Any], **case: Any) -> dict[str, str]:
    rows = ctdc.synthetic_rows(_document(*participants, **case))
    assert len(rows) == 1
    return rows[0]


def _global(*participants: dict[str, Any], **case: Any) -> dict[str, str]:
    rows = ctdc.global_rows(_document(*participants, **case))
    assert len(rows) == 1
    return rows[0]


# --- columns -----------------------------------------------------------------------------


def test_columns_follow_the_codebook() -> None:
    rows = _codebook()
    synthetic = [
        r["variable"]
        for r in rows
        if r["dataset"].startswith("CTDC Global Synthetic") and "(removed)" not in r["variable"]
    ]
    global_ = [r["variable"] for r in rows if r["dataset"].startswith("CTDC Global Dataset")]
    assert len(ctdc.SYNTHETIC_COLUMNS) == 27
    assert len(ctdc.GLOBAL_COLUMNS) == 63
    assert synthetic == ctdc.SYNTHETIC_COLUMNS
    assert global_ == ctdc.GLOBAL_COLUMNS
    assert ctdc.SYNTHETIC_COLUMNS[:3] == ["yearOfRegistration", "gender", "ageBroad"]
    assert ctdc.GLOBAL_COLUMNS[-1] == "recruiterRelationUnknown"


def test_rows_have_exactly_the_columns_in_order() -> None:
    document = _document(_victim(birth_date="1990-01-01"), opened_on="2020-01-01")
    assert list(ctdc.synthetic_rows(document)[0]) == ctdc.SYNTHETIC_COLUMNS
    assert list(ctdc.global_rows(document)[0]) == ctdc.GLOBAL_COLUMNS
    assert all(isinstance(v, str) for v in ctdc.global_rows(document)[0].values())


# --- the mapping table -------------------------------------------------------------------


def test_flag_table_uses_only_real_codes_and_columns() -> None:
    lists = {
        ctdc.MEANS: set(codelist("means_of_control").codes),
        ctdc.EXPLOITATION: set(codelist("exploitation_type").codes),
        ctdc.LABOUR: set(codelist("industry").codes) | set(codelist("exploitation_type").codes),
        ctdc.SEX: set(codelist("sex_exploitation_type").codes),
        ctdc.RELATION: set(codelist("relationship_to_trafficker").codes),
    }
    columns = set(ctdc.SYNTHETIC_COLUMNS) | set(ctdc.GLOBAL_COLUMNS)
    for group, flags in ctdc.FLAGS.items():
        for column, codes in flags.items():
            assert column in columns, column
            assert codes <= lists[group], (column, codes - lists[group])


def test_every_code_reaches_a_flag() -> None:
    means = ctdc.FLAGS[ctdc.MEANS]
    for code in codelist("means_of_control").codes:
        assert any(code in means[c] for c in ctdc.GLOBAL_COLUMNS if c in means), code
        if code != "Other":  # the synthetic dataset dropped meansOfControlOther
            assert any(code in means[c] for c in ctdc.SYNTHETIC_COLUMNS if c in means), code
    parents = ("isForcedLabour", "isSexualExploit", "isOtherExploit")
    for code in codelist("exploitation_type").codes:
        hits = [p for p in parents if code in ctdc.FLAGS[ctdc.EXPLOITATION][p]]
        assert len(hits) == 1, (code, hits)
    labour = ctdc.FLAGS[ctdc.LABOUR]
    for code in codelist("industry").codes:
        assert sum(code in codes for codes in labour.values()) == 1, code


def test_concatenation_labels_come_from_the_codebook() -> None:
    values = {
        r["variable"]: r["values"]
        for r in _codebook()
        if r["dataset"].startswith("CTDC Global Dataset")
    }
    means = values["meansOfControlConcatenated"].split(": ", 1)[1].split("|")
    assert set(ctdc.MEANS_LABELS.values()) <= set(means)
    assert set(ctdc.EXPLOITATION_LABELS.values()) == set(
        values["typeOfExploitConcatenated"].split("|")
    )
    assert set(ctdc.SEX_LABELS.values()) == set(values["typeOfSexConcatenated"].split("|"))
    assert ctdc.LABOUR_LABELS["typeOfLabourBegging"] == "Begging"
    assert ctdc.LABOUR_LABELS["typeOfLabourNotSpecified"] == "Not specified"


# --- victims -----------------------------------------------------------------------------


def test_one_row_per_victim_and_none_for_perpetrators() -> None:
    perpetrator = {
        "role": "Perpetrator",
        "person": {"external_id": "x1", "birth_date": "1970-01-01"},
        "perpetrator": {"kind": "Individual"},
    }
    witness = {"role": "Witness", "person": {"external_id": "w1"}}
    presumed = _victim("v2", gender="Masculine")
    presumed["role"] = "PresumedVictim"
    document = _document(_victim("v1"), perpetrator, witness, presumed)
    synthetic = ctdc.synthetic_rows(document)
    global_ = ctdc.global_rows(document)
    assert [r["gender"] for r in synthetic] == ["Woman", "Man"]
    assert [r["gender"] for r in global_] == ["Female", "Male"]


def test_document_without_victims_gives_no_rows() -> None:
    perpetrator = {"role": "Perpetrator", "person": {"external_id": "x1"}}
    document = _document(perpetrator)
    assert ctdc.synthetic_rows(document) == []
    assert ctdc.global_rows(document) == []


# --- registration year and age -----------------------------------------------------------


def test_seventeen_year_old_is_a_minor_in_band_9_17() -> None:
    victim = _victim(birth_date="2003-06-15")
    # 2021-03-01: 17 years, 8 months old
    assert _synthetic(victim, opened_on="2021-03-01")["ageBroad"] == "9--17"
    row = _global(victim, opened_on="2021-03-01")
    assert (row["ageBroad"], row["majorityStatus"]) == ("9--17", "Minor")
    assert row["yearOfRegistration"] == "2021"


def test_eighteenth_birthday_on_the_registration_day_is_an_adult() -> None:
    victim = _victim(birth_date="2002-03-01")
    assert _synthetic(victim, opened_on="2020-03-01")["ageBroad"] == "18--20"
    row = _global(victim, opened_on="2020-03-01")
    assert (row["ageBroad"], row["majorityStatus"]) == ("18--20", "Adult")
    day_before = _global(victim, opened_on="2020-02-29")
    assert (day_before["ageBroad"], day_before["majorityStatus"]) == ("9--17", "Minor")


def test_leap_day_birthday() -> None:
    victim = _victim(birth_date="2004-02-29")
    assert _global(victim, opened_on="2022-02-28")["majorityStatus"] == "Minor"
    assert _global(victim, opened_on="2022-03-01")["majorityStatus"] == "Adult"


def test_missing_birth_date_is_null_or_minus_99() -> None:
    assert _synthetic(_victim(), opened_on="2020-01-01")["ageBroad"] == ""
    row = _global(_victim(), opened_on="2020-01-01")
    assert (row["ageBroad"], row["majorityStatus"]) == ("-99", "-99")


def test_registration_falls_back_to_incoming_referral_then_status() -> None:
    victim = _victim(
        birth_date="2000-12-31",
        victim={
            "trafficking_status": [
                {"status": "ActualVictimOfTrafficking", "asserted_on": "2015-05-05"}
            ]
        },
    )
    referrals = [
        {"direction": "Outgoing", "referred_on": "2010-01-01"},
        {"direction": "Incoming", "referred_on": "2019-06-01"},
        {"direction": "Incoming", "referred_on": "2018-02-01"},
    ]
    row = _global(victim, referrals=referrals)
    assert (row["yearOfRegistration"], row["ageBroad"]) == ("2018", "9--17")
    row = _synthetic(victim)
    assert (row["yearOfRegistration"], row["ageBroad"]) == ("2015", "9--17")
    assert _global(_victim())["yearOfRegistration"] == "-99"
    assert _synthetic(_victim())["yearOfRegistration"] == ""


def test_majority_when_trafficked() -> None:
    row = _global(_victim(victim={"age_when_trafficked": 15}), opened_on="2020-01-01")
    assert (row["majorityStatusAtExploit"], row["majorityEntry"]) == ("Minor", "Minor")
    row = _global(_victim(), opened_on="2020-01-01")
    assert (row["majorityStatusAtExploit"], row["majorityEntry"]) == ("-99", "-99")


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (None, None), (-1, None), (0, "0--8"), (8, "0--8"), (9, "9--17"), (17, "9--17"),
        (18, "18--20"), (20, "18--20"), (21, "21--23"), (26, "24--26"), (27, "27--29"),
        (29, "27--29"), (30, "30--38"), (38, "30--38"), (39, "39--47"), (47, "39--47"),
        (48, "48+"), (110, "48+"),
    ],
)  # fmt: skip
def test_age_band(age: int | None, band: str | None) -> None:
    assert ctdc.age_band(age) == band


# --- gender, citizenship, country --------------------------------------------------------


@pytest.mark.parametrize(
    ("gender", "synthetic", "global_"),
    [
        ("Feminine", "Woman", "Female"),
        ("Masculine", "Man", "Male"),
        ("TransgenderFeminine", "Trans/Transgender/NonConforming", "Transgender/NonConforming"),
        ("NonConforming", "Trans/Transgender/NonConforming", "Transgender/NonConforming"),
        ("NonSpecifiedUnknown", "", "Unknown"),
    ],
)
def test_gender(gender: str, synthetic: str, global_: str) -> None:
    assert _synthetic(_victim(gender=gender))["gender"] == synthetic
    assert _global(_victim(gender=gender))["gender"] == global_


def test_citizenship_alpha3_in_synthetic_alpha2_in_global() -> None:
    victim = _victim(citizenship=["RO", "MD"])
    assert _synthetic(victim)["citizenship"] == "ROU"
    assert _global(victim)["citizenship"] == "RO"
    assert _synthetic(_victim())["citizenship"] == ""
    assert _global(_victim())["citizenship"] == "ZZ"


def test_country_of_exploitation_prefers_the_victims_own_event() -> None:
    events = [
        {"type": "Recruitment", "person_external_id": "v1", "country": "RO"},
        {"type": "Identification", "person_external_id": "v1", "country": "FR"},
        {"type": "Exploitation", "person_external_id": "v2", "country": "IT"},
        {"type": "Exploitation", "person_external_id": "v1", "country": "GB"},
    ]
    rows = ctdc.synthetic_rows(
        _document(_victim("v1"), _victim("v2"), _victim("v3"), events=events)
    )
    assert [r["CountryOfExploitation"] for r in rows] == ["GBR", "ITA", "ITA"]
    rows = ctdc.global_rows(_document(_victim("v1"), _victim("v2"), events=events))
    assert [r["CountryOfExploitation"] for r in rows] == ["GB", "IT"]


def test_country_of_exploitation_falls_back_to_identification() -> None:
    events = [
        {"type": "Exploitation", "person_external_id": "v1"},
        {"type": "Identification", "country": "ES"},
    ]
    assert _synthetic(events=events)["CountryOfExploitation"] == "ESP"
    assert _global(events=events)["CountryOfExploitation"] == "ES"
    assert _synthetic()["CountryOfExploitation"] == ""
    assert _global()["CountryOfExploitation"] == "-99"


@pytest.mark.parametrize(
    ("started", "ended", "band"),
    [
        ("2020-01-15", "2021-01-15", "0--12 (0-1 yr)"),  # 12 months
        ("2020-01-15", "2021-02-14", "0--12 (0-1 yr)"),  # 12 months and 30 days
        ("2020-01-15", "2021-02-15", "13--24 (1-2 yrs)"),  # 13 months
        ("2020-01-15", "2022-01-15", "13--24 (1-2 yrs)"),  # 24 months
        ("2020-01-15", "2022-02-15", "25+ (2+ yrs)"),  # 25 months
    ],
)
def test_trafficking_months(started: str, ended: str, band: str) -> None:
    events = [
        {
            "type": "Exploitation",
            "person_external_id": "v1",
            "started_on": started,
            "ended_on": ended,
        }
    ]
    assert _synthetic(events=events)["traffickMonths"] == band


def test_trafficking_months_missing_without_an_end() -> None:
    events = [{"type": "Exploitation", "person_external_id": "v1", "started_on": "2020-01-15"}]
    assert _synthetic(events=events)["traffickMonths"] == ""


# --- means of control --------------------------------------------------------------------


def test_debt_bondage_sets_the_merged_synthetic_flag() -> None:
    row = _synthetic(_victim(victim={"means_of_control": ["DebtBondage"]}))
    assert row["meansDebtBondageEarnings"] == "1"
    others = [
        c
        for c in ctdc.SYNTHETIC_COLUMNS
        if c.startswith("means") and c != "meansDebtBondageEarnings"
    ]
    assert all(row[c] == "" for c in others)


def test_restricts_movement_extension() -> None:
    victim = _victim(victim={"means_of_control": ["RestrictsMovement"]})
    assert _synthetic(victim)["meansDenyBasicNeeds"] == "1"
    row = _global(victim)
    assert row["meansOfControlRestrictsMovement"] == "1"
    assert row["meansOfControlDebtBondage"] == "0"
    assert row["meansOfControlNotSpecified"] == "0"
    assert row["meansOfControlConcatenated"] == "Denied freedom of movement/kept in isolation"


def test_no_means_recorded() -> None:
    synthetic = _synthetic()
    assert all(synthetic[c] == "" for c in ctdc.SYNTHETIC_COLUMNS if c.startswith("means"))
    row = _global()
    flags = [c for c in ctdc.GLOBAL_COLUMNS if c.startswith("meansOfControl")]
    assert len(flags) == 19
    assert {
        row[c]
        for c in flags
        if c not in ("meansOfControlNotSpecified", "meansOfControlConcatenated")
    } == {"-99"}
    assert row["meansOfControlNotSpecified"] == "1"
    assert row["meansOfControlConcatenated"] == "Not Specified"


def test_means_concatenated_alphabetically() -> None:
    victim = _victim(
        victim={
            "means_of_control": ["WithholdsDocuments", "DebtBondage", "ThreatensChildrenFamily"]
        }
    )
    row = _global(victim)
    assert row["meansOfControlConcatenated"] == (
        "Debt bondage;Restricts access to/manipulates children;"
        "Threats to individual or others;Withholds/Destroys Important Documents"
    )
    assert (row["meansOfControlThreats"], row["meansOfControlUsesChildren"]) == ("1", "1")
    assert _synthetic(victim)["meansThreats"] == "1"


# --- exploitation ------------------------------------------------------------------------


def test_forced_criminality_is_other_exploitation_and_illicit_labour() -> None:
    victim = _victim(victim={"exploitation_types": ["ForcedCriminality"]})
    synthetic = _synthetic(victim)
    assert (
        synthetic["isOtherExploit"],
        synthetic["isForcedLabour"],
        synthetic["isSexualExploit"],
    ) == ("1", "", "")
    row = _global(victim)
    assert (row["isOtherExploit"], row["isForcedLabour"], row["isSexAndLabour"]) == ("1", "0", "0")
    assert row["typeOfExploitConcatenated"] == "Other"
    assert row["typeOfLabourIllicitActivities"] == "1"
    assert row["typeOfLabourConstruction"] == "0"
    assert row["typeOfLabourNotSpecified"] == "0"
    assert row["typeOfLabourConcatenated"] == "Illicit activities"


def test_no_exploitation_recorded() -> None:
    row = _global()
    columns = [
        c for c in ctdc.GLOBAL_COLUMNS if c.startswith(("is", "typeOf")) and c != "isAbduction"
    ]
    assert {row[c] for c in columns} == {"-99"}
    assert row["isAbduction"] == "-99"


def test_labour_and_sex_together() -> None:
    victim = _victim(
        victim={
            "exploitation_types": ["SexualExploitation", "ForcedLabour"],
            "industry": "F_Construction",
            "sex_exploitation_types": ["Prostitution"],
        }
    )
    row = _global(victim)
    assert (row["isForcedLabour"], row["isSexualExploit"], row["isSexAndLabour"]) == ("1", "1", "1")
    assert row["typeOfExploitConcatenated"] == "Forced labour and/or services;Sexual exploitation"
    assert (row["typeOfLabourConstruction"], row["typeOfLabourOther"]) == ("1", "0")
    assert (row["typeOfSexProstitution"], row["typeOfSexPornography"]) == ("1", "0")
    assert row["typeOfSexConcatenated"] == "Prostitution"
    synthetic = _synthetic(victim)
    assert synthetic["typeOfLabourConstruction"] == "1"
    assert synthetic["typeOfSexProstitution"] == "1"
    assert synthetic["typeOfLabourAgriculture"] == ""


def test_labour_sector_needs_labour_exploitation() -> None:
    victim = _victim(
        victim={
            "exploitation_types": ["SexualExploitation"],
            "industry": "I_AccommodationAndFoodServiceActivities",
        }
    )
    assert _synthetic(victim)["typeOfLabourHospitality"] == ""
    row = _global(victim)
    assert row["typeOfLabourHospitality"] == row["typeOfLabourNotSpecified"] == "-99"
    assert row["typeOfSexProstitution"] == "-99"  # sexual exploitation, sub-type not recorded


def test_forced_labour_without_sector_is_not_specified() -> None:
    row = _global(_victim(victim={"exploitation_types": ["ForcedLabour"]}))
    assert row["typeOfLabourAgriculture"] == "-99"
    assert row["typeOfLabourNotSpecified"] == "1"
    assert row["typeOfLabourConcatenated"] == "Not specified"


def test_other_industry_and_begging() -> None:
    victim = _victim(
        victim={"exploitation_types": ["ForcedBegging"], "industry": "S_OtherServiceActivities"}
    )
    row = _global(victim)
    assert (row["typeOfLabourBegging"], row["typeOfLabourOther"], row["isForcedLabour"]) == (
        "1",
        "1",
        "1",
    )
    assert row["typeOfLabourConcatenated"] == "Begging;Other"


# --- recruiter relation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relationship", "flag", "label"),
    [
        ("Familial", "recruiterRelationFamily", "Family/Relative"),
        ("Acquainted", "recruiterRelationFriend", "Friend/Acquaintance"),
        ("Unaquainted", "recruiterRelationOther", "Other"),
    ],
)
def test_recruiter_relation(relationship: str, flag: str, label: str) -> None:
    victim = _victim(victim={"relationship_to_trafficker": relationship})
    relation = [c for c in ctdc.SYNTHETIC_COLUMNS if c.startswith("recruiterRelation")]
    synthetic = _synthetic(victim)
    assert {c: synthetic[c] for c in relation} == {c: "1" if c == flag else "" for c in relation}
    row = _global(victim)
    assert row[flag] == "1"
    assert row["recruiterRelationIntimatePartner"] == row["recruiterRelationUnknown"] == "0"
    assert row["RecruiterRelationship"] == label


def test_recruiter_relation_unknown() -> None:
    synthetic = _synthetic()
    assert all(
        synthetic[c] == "" for c in ctdc.SYNTHETIC_COLUMNS if c.startswith("recruiterRelation")
    )
    row = _global()
    assert row["recruiterRelationUnknown"] == "1"
    assert row["recruiterRelationFamily"] == row["recruiterRelationFriend"] == "-99"
    assert row["RecruiterRelationship"] == "Not Specified"


def test_datasource() -> None:
    assert _global()["Datasource"] == "Case Management"
