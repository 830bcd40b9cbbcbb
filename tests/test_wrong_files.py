"""A file meant for another step, or laid out with another separator, is read or refused
with a message that names the step to take, in every command that reads CSV."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiphub.estimate.table import CaptureTableError, read_capture_csv
from tiphub.linkage.records import LinkageInputError, read_records

CELLS = {(1, 0, 0): 31, (0, 1, 0): 27, (0, 0, 1): 22, (1, 1, 0): 9, (1, 0, 1): 6, (0, 1, 1): 5}


def _capture_file(path: Path, delimiter: str, header: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        for history, count in CELLS.items():
            writer.writerow([*history, count])
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_capture_histories_with_any_separator_read_the_same(tmp_path: Path, delimiter: str) -> None:
    # A list name with a comma inside quotes must not make a semicolon file look comma-separated.
    header = ["Police, national", "NGO", "Labour inspectorate", "count"]
    tables = read_capture_csv(_capture_file(tmp_path / "histories.csv", delimiter, header))
    table = tables[()]
    assert table.observed == sum(CELLS.values())
    assert list(table.lists) == header[:3]


def test_a_file_of_people_given_to_the_estimator_names_the_linking_step(tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("record_id,list,given_name\n1,police,x\n", encoding="utf-8")
    with pytest.raises(CaptureTableError) as refused:
        read_capture_csv(people)
    assert "tiphub link FILE --capture-histories" in str(refused.value)
    cases = tmp_path / "cases.csv"
    cases.write_text("tip_CaseId;prs_Gender\nc1;Feminine\n", encoding="utf-8")
    with pytest.raises(CaptureTableError) as refused:
        read_capture_csv(cases)
    assert "tiphub import FILE" in str(refused.value)


def test_a_case_file_given_to_the_linker_names_the_database_linking(tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "tip_CaseId,tip_PersonId,prs_FirstName,prs_Gender\nc1,p1,Ana,Feminine\n", encoding="utf-8"
    )
    with pytest.raises(LinkageInputError) as refused:
        read_records([cases])
    message = str(refused.value)
    assert "HTCDS case file" in message and "tiphub link with no PATH" in message
    assert "Ana" not in message


def test_a_semicolon_file_of_records_links_like_a_comma_file(tmp_path: Path) -> None:
    rows = [
        ["record_id", "list", "given_name", "family_name", "date_of_birth"],
        ["r1", "police", "Ioana", "Popescu", "1990-02-03"],
        ["r2", "ngo", "Ioana", "Popescu", "1990-02-03"],
        ["r3", "ngo", "Mykola; jr", "Shevchenko", "1985-07-30"],
    ]
    frames = []
    for delimiter, name in ((",", "comma.csv"), (";", "semicolon.csv")):
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, delimiter=delimiter).writerows(rows)
        frames.append(read_records([path]).frame)
    columns = ["record_id", "list", "given_name", "family_name", "date_of_birth"]
    assert frames[0][columns].equals(frames[1][columns])
    assert frames[1]["given_name"].tolist() == ["Ioana", "Ioana", "Mykola; jr"]


def test_the_import_command_says_how_it_read_the_file(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(
            ["tip_Organisation", "tip_CaseId", "prs_Gender", "vic_TraffickingStatus", "tip_Role"]
        )
        writer.writerow(["ngo-a", "c1", "Woman", "PossibleVictimOfTrafficking", "Victim"])
        writer.writerow(["ngo-a", "c2", "Feminine", "PossibleVictimOfTrafficking", "Victim"])
        writer.writerow(["ngo-a", "c1", "M", "PossibleVictimOfTrafficking", "Victim"])
    done = subprocess.run(
        [sys.executable, "-m", "tiphub.cli", "import", str(path)],
        env={**os.environ, "TIPHUB_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    output = " ".join(done.stdout.split())
    assert "Imported 2 cases from 3 rows" in output
    assert "note: file read as semicolon-separated" in output
    assert "the rows of 1 case were spread through the file" in output
    assert "prs_Gender: 'Woman' read as Feminine (1 cell)" in output
    assert "prs_Gender: 'M' read as Masculine (1 cell)" in output
