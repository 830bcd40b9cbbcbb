"""Reading release input: the codebook decides the columns and values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiphub.release.codebook import codebook
from tiphub.release.table import (
    ReleaseInputError,
    count_combinations,
    read_ctdc_csv,
    table_from_rows,
)


def test_the_codebook_is_the_ctdc_synthetic_layout() -> None:
    names = [column.name for column in codebook()]
    assert (
        len(names) == 27
        and names[0] == "yearOfRegistration"
        and names[-1] == "recruiterRelationOther"
    )
    assert "ROU" in {c.name: c for c in codebook()}["citizenship"].domain


def test_a_column_not_in_the_codebook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("gender,givenName\nWoman,Ana\n", encoding="utf-8")
    with pytest.raises(ReleaseInputError) as caught:
        read_ctdc_csv(path)
    assert "column 'givenName'" in str(caught.value) and "codebook" in str(caught.value)
    assert "Ana" not in str(caught.value)


def test_a_value_outside_its_domain_names_row_and_column_not_the_value(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("gender,citizenship\nWoman,ROU\nWoman,Atlantis\n", encoding="utf-8")
    with pytest.raises(ReleaseInputError) as caught:
        read_ctdc_csv(path)
    message = str(caught.value)
    assert "row 3" in message and "column 'citizenship'" in message and "Atlantis" not in message


def test_empty_and_ragged_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ReleaseInputError, match="empty"):
        read_ctdc_csv(empty)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("gender\nWoman,extra\n", encoding="utf-8")
    with pytest.raises(ReleaseInputError, match="more cells"):
        read_ctdc_csv(ragged)
    cut = tmp_path / "cut.csv"
    cut.write_text("gender,ageBroad,citizenship\nWoman,18--20,ROU\nWoman", encoding="utf-8")
    with pytest.raises(ReleaseInputError, match="row 3: has fewer cells"):
        read_ctdc_csv(cut)


def test_counts_match_a_hand_count() -> None:
    rows = [
        {"gender": "Woman", "isForcedLabour": "1"},
        {"gender": "Woman", "isForcedLabour": ""},
        {"gender": "Man", "isForcedLabour": "1"},
    ]
    table = table_from_rows(rows, ["gender", "isForcedLabour"])
    counts = {table.text(c): n for c, n in count_combinations(table, 2).items()}
    assert counts == {
        "": 3,
        "gender=Woman": 2,
        "gender=Man": 1,
        "isForcedLabour=1": 2,
        "gender=Woman;isForcedLabour=1": 1,
        "gender=Man;isForcedLabour=1": 1,
    }
    assert table.parse("gender=Man;isForcedLabour=1") in count_combinations(table, 2)
