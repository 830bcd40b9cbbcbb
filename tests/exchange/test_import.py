from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from tiphub.exchange.importer import import_file
from tiphub.store import models as m

TOOLKIT = Path(__file__).resolve().parents[1] / "data" / "htcds"

HEADER = [
    "tip_CaseId",
    "tip_Organisation",
    "prs_FirstName",
    "prs_SecondName",
    "prs_Birthdate",
    "prs_Gender",
    "prs_Citizenship",
    "vic_TraffickingStatus",
    "vic_TypeOfExploitation",
    "vic_MethodsOfControl",
    "tip_ExploitationCountry",
    "con_Consent",
]
GOOD_ROWS = [
    [
        "c1",
        "ngo-east",
        "Ana",
        "Pop",
        "1999-04-02",
        "Feminine",
        "RO",
        "Possible victim of trafficking",
        "SexualExploitation|ForcedLabour",
        "DebtBondage |Threats",
        "DE",
        "TRUE",
    ],
    [
        "c1",
        "ngo-east",
        "Ion",
        "Pop",
        "1997-01-15",
        "Masculine",
        "RO|MD",
        "ActualVictimOfTrafficking",
        "ForcedLabour",
        "",
        "DE",
        "",
    ],
    [
        "c2",
        "ngo-east",
        "Mira",
        "Lee",
        "",
        "Feminine",
        "ROU",
        "PossibleVictimOfTrafficking",
        "ForcedCriminality",
        "RestrictsMovement",
        "GB",
        "FALSE",
    ],
]


def write_csv(
    path: Path, rows: list[list[str]], header: list[str] = HEADER, encoding: str = "utf-8"
) -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.execute(select(func.count()).select_from(model.__table__)).scalar_one()
            for model in (m.Case, m.Person, m.RecordVersion)
        )


def test_a_clean_file_imports_and_reimporting_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "cases.csv", GOOD_ROWS)
    first = import_file(path, engine=engine)
    assert first.ok, first.issues
    assert (first.cases, first.rows, first.counts.cases_created) == (2, 3, 2)
    before = counts(engine)
    assert before[:2] == (2, 3)
    again = import_file(path, engine=engine)
    assert again.ok and again.counts.cases_unchanged == 2 and again.counts.cases_created == 0
    assert counts(engine) == before


def test_a_changed_row_updates_its_case_and_adds_a_version(engine: Engine, tmp_path: Path) -> None:
    import_file(write_csv(tmp_path / "a.csv", GOOD_ROWS), engine=engine)
    changed = [row[:] for row in GOOD_ROWS]
    changed[2][8] = "ForcedLabour"
    result = import_file(write_csv(tmp_path / "b.csv", changed), engine=engine)
    assert result.ok and result.counts.cases_updated == 1 and result.counts.cases_unchanged == 1


def test_planted_errors_are_all_reported_and_nothing_is_written(
    engine: Engine, tmp_path: Path
) -> None:
    import_file(write_csv(tmp_path / "seed.csv", GOOD_ROWS[2:]), engine=engine)
    before = counts(engine)
    rows = [
        GOOD_ROWS[0],
        [
            "c3",
            "ngo-east",
            "Eva",
            "Nowak",
            "2023-02-30",
            "Feminine",
            "PL",
            "PossibleVictimOfTrafficking",
            "ForcedLabour",
            "",
            "",
            "",
        ],  # impossible date
        [
            "c4",
            "ngo-east",
            "Lin",
            "Tran",
            "",
            "Feminine",
            "VN",
            "Perhaps",
            "ForcedLabour",
            "",
            "",
            "",
        ],  # unknown code
        [
            "c5",
            "ngo-east",
            "Ola",
            "Ade",
            "",
            "",
            "NG",
            "PossibleVictimOfTrafficking",
            "ForcedLabour",
            "",
            "",
            "",
        ],  # missing core field
        [
            "c6",
            "ngo-east",
            "Tom",
            "Ray",
            "",
            "Masculine",
            "XQ",
            "PossibleVictimOfTrafficking",
            "ForcedLabour",
            "",
            "",
            "",
        ],  # unknown country
        [
            "c7",
            "ngo-east",
            "Kim",
            "Ha",
            "",
            "Feminine",
            "KR",
            "PossibleVictimOfTrafficking",
            "ForcedLabour",
            "",
            "",
            "maybe",
        ],  # not a yes/no
        [
            "c2",
            "ngo-east",
            "Mira",
            "Lee",
            "",
            "Feminine",
            "RO",
            "PossibleVictimOfTrafficking",
            "ForcedLabour",
            "",
            "",
            "",
        ],  # fine
        [
            "c1",
            "ngo-east",
            "Ana",
            "Pop",
            "",
            "Feminine",
            "RO",
            "PossibleVictimOfTrafficking",
            "ForcedLabour",
            "",
            "",
            "",
        ],  # a second victim of c1, rows apart: read with c1, not an error
    ]
    report = tmp_path / "report.csv"
    result = import_file(write_csv(tmp_path / "bad.csv", rows), engine=engine)
    result.write_report(report)
    assert not result.ok
    found = {(issue.row, issue.column) for issue in result.issues}
    assert (3, "prs_Birthdate") in found
    assert (4, "vic_TraffickingStatus") in found
    assert (5, "prs_Gender") in found
    assert (6, "prs_Citizenship") in found
    assert (7, "con_Consent") in found
    assert not any(row == 9 for row, _column in found)
    assert len(result.issues) == 5
    assert counts(engine) == before
    lines = list(csv.DictReader(report.open(encoding="utf-8")))
    assert len(lines) == 5 and {line["file"] for line in lines} == {"bad.csv"}
    unknown = next(line for line in lines if line["column"] == "vic_TraffickingStatus")
    assert "PossibleVictimOfTrafficking" in unknown["reason"]
    # No cell value is ever repeated (a name typed into a code column would be), and the
    # report is private to the user.
    assert {line["value"] for line in lines} == {"<withheld>", ""}
    assert "Perhaps" not in report.read_text(encoding="utf-8")
    assert report.stat().st_mode & 0o777 == 0o600


def test_unknown_column_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "extra.csv", [[*row, "x"] for row in GOOD_ROWS], header=[*HEADER, "prs_ShoeSize"]
    )
    result = import_file(path, engine=engine)
    assert [(i.row, i.column) for i in result.issues] == [(1, "prs_ShoeSize")]
    assert counts(engine)[0] == 0


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_bom_and_utf16_files_import(engine: Engine, tmp_path: Path, encoding: str) -> None:
    rows = [row[:] for row in GOOD_ROWS]
    rows[0][2] = "Ștefania"
    result = import_file(write_csv(tmp_path / "enc.csv", rows, encoding=encoding), engine=engine)
    assert result.ok, result.issues
    from tiphub.cases.api import CaseStore

    stored = CaseStore(engine).get("ngo-east", "c1")
    assert stored is not None and stored.participants[0].person.first_name == "Ștefania"


def test_undecodable_file_gets_a_clear_error(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "latin.csv",
        [
            [
                "c1",
                "ngo-east",
                "Ștefania",
                "Pop",
                "",
                "Feminine",
                "RO",
                "PossibleVictimOfTrafficking",
                "",
                "",
                "",
                "",
            ]
        ],
        encoding="utf-8",
    )
    path.write_bytes(path.read_bytes().replace("Ș".encode(), b"\xaa\xff"))
    result = import_file(path, engine=engine)
    assert not result.ok
    assert "not valid UTF-8" in result.issues[0].reason
    assert counts(engine)[0] == 0


def test_empty_file_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = import_file(path, engine=engine)
    assert not result.ok and "empty" in result.issues[0].reason
    header_only = write_csv(tmp_path / "header.csv", [])
    assert "no rows" in import_file(header_only, engine=engine).issues[0].reason


def test_a_10_mb_field_is_refused_without_harm(engine: Engine, tmp_path: Path) -> None:
    rows = [row[:] for row in GOOD_ROWS]
    rows[1][3] = "x" * 10_000_000
    result = import_file(write_csv(tmp_path / "huge.csv", rows), engine=engine)
    assert [(i.row, i.column) for i in result.issues] == [(3, "prs_SecondName")]
    assert "longer than" in result.issues[0].reason
    assert counts(engine)[0] == 0


def test_a_truncated_xlsx_is_refused(engine: Engine, tmp_path: Path) -> None:
    source = TOOLKIT / "htcds-excel-template-v2.0.xlsx"
    path = tmp_path / "cut.xlsx"
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    result = import_file(path, engine=engine)
    assert not result.ok and "XLSX" in result.issues[0].reason
    assert counts(engine)[0] == 0


def test_the_htcds_excel_template_is_read_as_it_is(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    shutil.copy(TOOLKIT / "htcds-excel-template-validation-v2.0.xlsx", path)
    workbook = load_workbook(path)
    sheet = workbook["Case Sheet"]
    names = [cell.value for cell in sheet[1]]
    labels = [cell.value for cell in sheet[2]]

    def put(row: int, field: str, value: str) -> None:
        column = names.index(field) + 1 if field in names else labels.index(field) + 1
        sheet.cell(row=row, column=column, value=value)

    put(3, "prs_FirstName", "Ana")
    put(3, "prs_Gender", "Feminine")
    put(3, "vic_TraffickingStatus", "Possible victim of trafficking")
    put(3, "vic_TraffickinStatusDecisionMakingOrg", "NGO")
    put(3, "vic_TypeOfExploitation", "Forced labour")
    put(3, "Reason for Outgoing Referral", "Other")
    put(3, "cas_ReferredOrganisation", "shelter-west")
    put(4, "prs_FirstName", "Ion")
    put(4, "prs_Gender", "Masculine")
    put(4, "vic_TraffickingStatus", "Actual victim of trafficking")
    workbook.save(path)
    result = import_file(path, organisation="ngo-east", engine=engine)
    assert result.ok, result.issues
    assert result.cases == 2
    from tiphub.cases.api import CaseStore

    cases = list(CaseStore(engine).iter_cases())
    ana = next(c for c in cases if c.participants[0].person.first_name == "Ana")
    assert ana.participants[0].victim.trafficking_status[0].decided_by_type == "NGO"  # type: ignore[union-attr]
    assert ana.referrals[0].reason == "Other"  # the template lacks this header; read from its label
    assert import_file(path, organisation="ngo-east", engine=engine).counts.cases_unchanged == 2


def test_odk_and_kobo_submissions_of_the_htcds_xlsform(engine: Engine, tmp_path: Path) -> None:
    odk = tmp_path / "odk.csv"
    write_csv(
        odk,
        [
            [
                "2024-01-01T10:00:00",
                "TRUE",
                "Ana",
                "Pop",
                "Feminine",
                "RO",
                "ThroughOnlineSocialNetworks AtWork",
                "PossibleVictimOfTrafficking",
                "DebtBondage FalsePromises",
                "ForcedLabour",
                "found via hotline",
                "uuid:1111",
            ]
        ],
        header=[
            "start",
            "con_Consent",
            "prs_First_Name",
            "prs_Second_Name",
            "prs_Gender",
            "prs_Citizenship",
            "vic_MethodOfRecruitment",
            "vic_TraffickingStatus",
            "vic_Methods_of_Control",
            "vic_TypeOfExploitation",
            "cas_ReasonForIncomingReferral",
            "meta/instanceID",
        ],
    )
    result = import_file(odk, fmt="xlsform", organisation="ngo-east", engine=engine)
    assert result.ok, result.issues
    kobo = tmp_path / "kobo.csv"
    write_csv(
        kobo,
        [["Ion", "Masculine", "MD", "ActualVictimOfTrafficking", "1", "0", "1", "abcd-2"]],
        header=[
            "group_a/prs_First_Name",
            "prs_Gender",
            "prs_Citizenship",
            "vic_TraffickingStatus",
            "vic_TypeOfExploitation/ForcedLabour",
            "vic_TypeOfExploitation/SexualExploitation",
            "vic_TypeOfExploitation/ForcedBegging",
            "_uuid",
        ],
    )
    result = import_file(kobo, fmt="xlsform", organisation="ngo-east", engine=engine)
    assert result.ok, result.issues
    from tiphub.cases.api import CaseStore

    store = CaseStore(engine)
    ana = store.get("ngo-east", "uuid:1111")
    assert ana is not None
    victim = ana.participants[0].victim
    assert victim is not None
    assert victim.means_of_control == ["DebtBondage", "FalsePromises"]
    assert victim.recruitment_methods == ["ThroughOnlineSocialNetworks", "AtWork"]
    assert ana.referrals[0].reason == "Other" and "hotline" in (ana.referrals[0].details or "")
    ion = store.get("ngo-east", "abcd-2")
    assert ion is not None and ion.participants[0].victim.exploitation_types == [
        "ForcedLabour",
        "ForcedBegging",
    ]  # type: ignore[union-attr]


def test_reporting_stops_at_the_issue_cap_even_when_every_row_is_bad(
    engine: Engine, tmp_path: Path
) -> None:
    bad = [
        [f"c{i}", "ngo-east", "A", "B", "", "Feminine", "RO", "Perhaps", "", "", "", ""]
        for i in range(10)
    ]
    result = import_file(write_csv(tmp_path / "bad.csv", bad), engine=engine, max_issues=3)
    assert len(result.issues) == 4
    assert result.issues[-1].reason == "stopped after 3 issues"
    assert counts(engine)[0] == 0
