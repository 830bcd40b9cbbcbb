"""`tiphub import --format xlsform` brings the answers of an offline screening form back:
all rows or none, each a stored screening with a task when positive."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select

from tiphub.cases.access import local_operator
from tiphub.cases.api import CaseStore
from tiphub.screening.instruments import instrument
from tiphub.screening.xlsform import field_name
from tiphub.store import models as m
from tiphub.store.models import table_of

INSTRUMENT = "ilo-11"


def tiphub(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIPHUB_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "tiphub", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _victims(database_url: str, count: int) -> list[tuple[str, str, str]]:
    """(organisation, case, person) of the first victims stored."""
    engine = create_engine(database_url)
    found: list[tuple[str, str, str]] = []
    try:
        for document in CaseStore(engine, local_operator("test")).iter_cases():
            for participant in document.victims():
                found.append(
                    (document.organisation, document.external_id, participant.person.external_id)
                )
                break
            if len(found) == count:
                break
    finally:
        engine.dispose()
    return found


def _count(database_url: str, model: type[m.Base]) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(table_of(model))).scalar_one()
            )
    finally:
        engine.dispose()


def test_screening_answers_come_back_all_or_nothing(database_url: str, tmp_path: Path) -> None:
    assert tiphub(database_url, "demo", "--cases", "40", "--seed", "3").returncode == 0
    organisation = _victims(database_url, 1)[0][0]
    victims = [v for v in _victims(database_url, 40) if v[0] == organisation][:3]
    assert len(victims) >= 2
    chosen = instrument(INSTRUMENT)
    items = chosen.indicators[:3]
    header = [
        "SubmissionDate",
        "case_external_id",
        "person_external_id",
        *(f"{item.dimension}-{field_name(item)}" for item in items),
        "KEY",
    ]
    # The first person shows two indicators (positive: ILO lists any present), the second none.
    rows = [
        ["2026-11-01", victims[0][1], victims[0][2], "yes", "yes", "no", "uuid:1"],
        ["2026-11-02", victims[1][1], victims[1][2], "no", "no", "", "uuid:2"],
    ]
    good = tmp_path / "screenings.csv"
    with good.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(
            [header, *rows, ["2026-11-03", "NO-SUCH-CASE", "P", "yes", "", "", "uuid:3"]]
        )

    screenings_before = _count(database_url, m.Screening)
    tasks_before = _kinds(database_url).count("consider_referral")
    refused = tiphub(
        database_url, "import", str(bad), "--format", "xlsform", "--organisation", organisation
    )
    assert refused.returncode == 1
    assert "row 4" in refused.stderr and "case_external_id" in refused.stderr
    assert _count(database_url, m.Screening) == screenings_before

    done = tiphub(
        database_url, "import", str(good), "--format", "xlsform", "--organisation", organisation
    )
    assert done.returncode == 0, done.stderr
    assert "2 screenings" in done.stdout and "1 positive" in done.stdout
    assert _count(database_url, m.Screening) == screenings_before + 2
    assert _kinds(database_url).count("consider_referral") == tasks_before + 1

    # The same export again: every submission is already stored, nothing doubles.
    again = tiphub(
        database_url, "import", str(good), "--format", "xlsform", "--organisation", organisation
    )
    assert again.returncode == 0, again.stderr
    assert "0 screenings" in again.stdout and "2 submissions already stored" in again.stdout
    assert _count(database_url, m.Screening) == screenings_before + 2
    # A cut file (the last line half written) is refused whole, naming the row.
    cut = tmp_path / "cut.csv"
    cut.write_text(good.read_text(encoding="utf-8").rstrip("\n")[:-12], encoding="utf-8")
    refused_cut = tiphub(
        database_url, "import", str(cut), "--format", "xlsform", "--organisation", organisation
    )
    assert refused_cut.returncode == 1 and "row 3" in refused_cut.stderr
    assert "Traceback" not in refused_cut.stderr + again.stderr + refused.stderr
    assert victims[0][2] not in refused_cut.stderr + refused.stderr
    assert _count(database_url, m.Screening) == screenings_before + 2


def _kinds(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        task = table_of(m.Task)
        with engine.connect() as connection:
            return list(connection.execute(select(task.c.kind)).scalars())
    finally:
        engine.dispose()


def test_a_screening_is_recorded_with_a_case_from_the_command_line(
    database_url: str, tmp_path: Path
) -> None:
    assert tiphub(database_url, "demo", "--cases", "20", "--seed", "5").returncode == 0
    organisation, case, person = _victims(database_url, 1)[0]
    answers = tmp_path / "answers.json"
    first_item = instrument("sscst").indicators[0].id
    answers.write_text(json.dumps({first_item: True}), encoding="utf-8")
    before = _count(database_url, m.Screening)
    wrong = tiphub(
        database_url, "screen", "--instrument", "sscst", "--answers", str(answers),
        "--record", f"{organisation}/NO-SUCH", "--person", person,
    )  # fmt: skip
    assert wrong.returncode == 2 and "NO-SUCH" in wrong.stderr
    done = tiphub(
        database_url, "screen", "--instrument", "sscst", "--answers", str(answers),
        "--record", f"{organisation}/{case}", "--person", person, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"positive": false' in done.stdout  # SSCST needs two yes answers
    assert _count(database_url, m.Screening) == before + 1
    unchanged = tiphub(database_url, "screen", "--rescore", "--json")
    assert unchanged.returncode == 0, unchanged.stderr
    assert json.loads(unchanged.stdout) == []  # the shipped rules scored every stored answer
