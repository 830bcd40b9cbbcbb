"""Finding things on the command line: ``tiphub cases list | show``, what ``summary``,
``cases list`` and ``org list`` say about an empty database, plurals, age bands and code
lists, through the command line's own app on the test database."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from tests.factories import case, victim
from tiphub.cases import accounts, audit
from tiphub.cases.access import local_operator
from tiphub.cases.api import CaseStore
from tiphub.cases.canonical import IDENTITY_FIELDS
from tiphub.cases.summary import age_band_label
from tiphub.cli.app import app
from tiphub.cli.text import plural
from tiphub.store.db import default_engine

runner = CliRunner()
# What the factories' victim is called and when she was born: never on the screen.
IDENTITY_VALUES = ("Ana", "Popescu", "1999-04-02", "X0000001")


def tiphub(*args: str) -> Result:
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def cli_engine(engine: Engine) -> Iterator[Engine]:
    # The command line keeps one engine per process: this test's database is a new one.
    default_engine.cache_clear()
    yield engine
    default_engine().dispose()
    default_engine.cache_clear()


@pytest.fixture
def hub(cli_engine: Engine) -> Engine:
    operator = local_operator("operator:test")
    accounts.add_organisation(cli_engine, operator, "ngo-east", "NGO East")
    accounts.add_organisation(cli_engine, operator, "police-north", "Police North")
    store = CaseStore(cli_engine)
    identified = victim(
        "p1",
        identifiers=[{"kind": "Passport", "value": "X0000001", "issuing_country": "RO"}],
    )
    identified["victim"]["age_when_trafficked"] = 17
    store.save(case("case-1", participants=[identified]))
    store.save(case("case-2", status="Closed"))
    store.save(
        case(
            "case-3",
            participants=[
                victim("p1"),
                {
                    "role": "Perpetrator",
                    "person": {"external_id": "t1", "gender": "Masculine"},
                    "perpetrator": {"kind": "Individual", "sex": "Male", "age_band": "30--38"},
                },
            ],
        )
    )
    store.save(case("north-1", organisation="police-north", events=[], consents=[]))
    return cli_engine


def _actions(engine: Engine) -> list[str]:
    rows = audit.browse(engine, local_operator(), limit=50)
    return [row["action"] for row in rows]


def test_cases_list_shows_each_case_with_its_people_counted(hub: Engine) -> None:
    listed = tiphub("cases", "list")
    assert listed.exit_code == 0, listed.output
    lines = {
        line.split()[1]: line.split()
        for line in listed.output.splitlines()
        if "case-" in line or "north-" in line
    }
    assert set(lines) == {"case-1", "case-2", "case-3", "north-1"}
    assert lines["case-3"][:4] == ["ngo-east", "case-3", "Active", "2024-03-01"]
    # victims, people: the perpetrator is a person, not a victim
    assert lines["case-3"][4:6] == ["1", "2"]
    assert lines["case-2"][2] == "Closed"
    assert "4 cases of 4." in flat(listed.output)
    assert "case.list" in _actions(hub)


def test_cases_list_filters_limits_and_says_how_many_more(hub: Engine) -> None:
    limited = tiphub("cases", "list", "--organisation", "ngo-east", "--limit", "1")
    assert limited.exit_code == 0, limited.output
    assert "north-1" not in limited.output
    assert "1 case of 3; 2 more cases not shown" in flat(limited.output)

    closed = json.loads(tiphub("cases", "list", "--status", "Closed", "--json").output)
    assert closed["total"] == 1
    assert [(c["organisation"], c["external_id"], c["status"]) for c in closed["cases"]] == [
        ("ngo-east", "case-2", "Closed")
    ]
    assert closed["cases"][0]["victims"] == 1 and closed["cases"][0]["opened_on"] == "2024-03-01"

    nothing = tiphub("cases", "list", "--organisation", "nowhere")
    assert nothing.exit_code == 0
    assert "No case matches" in flat(nothing.output)


def test_cases_show_reads_a_case_without_the_identity_of_its_people(hub: Engine) -> None:
    shown = tiphub("cases", "show", "ngo-east", "case-1")
    assert shown.exit_code == 0, shown.output
    text = flat(shown.output)
    assert "Case case-1 at ngo-east" in text
    assert "Presumed victim" in text and "Feminine" in text and "Romania" in text
    assert "Sexual exploitation" in text
    # age when trafficked, 17, in its CTDC band as it reads on a screen
    assert "9–17" in text and "9--17" not in text
    assert "Recruitment" in text and "Germany" in text
    assert "1 consent." in text
    assert not [value for value in IDENTITY_VALUES if value in shown.output]
    assert "case.read" in _actions(hub)

    perpetrator = flat(tiphub("cases", "show", "ngo-east", "case-3").output)
    assert "Perpetrator" in perpetrator and "30–38" in perpetrator


def test_cases_show_json_is_the_case_as_exported_without_identity(hub: Engine) -> None:
    shown = tiphub("cases", "show", "ngo-east", "case-1", "--json")
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.output)
    assert document["external_id"] == "case-1" and document["status"] == "Active"
    person = document["participants"][0]["person"]
    assert person["external_id"] == "p1" and person["gender"] == "Feminine"
    assert not set(person) & set(IDENTITY_FIELDS)
    assert not [value for value in IDENTITY_VALUES if value in shown.output]
    assert [event["country"] for event in document["events"]] == ["RO", "DE"]


def test_cases_show_of_an_unknown_case_fails(hub: Engine) -> None:
    missing = tiphub("cases", "show", "ngo-east", "no-such-case")
    assert missing.exit_code == 1
    assert "No such case." in missing.output


def test_an_empty_database_says_what_to_run_next(cli_engine: Engine) -> None:
    for line in (["summary"], ["cases", "list"], ["org", "list"]):
        result = tiphub(*line)
        assert result.exit_code == 0, (line, result.output)
        text = flat(result.output)
        assert "tiphub start" in text and "tiphub import PATH" in text, line
        assert "┃" not in result.output and "│" not in result.output, line
    assert "0 cases, 0 victims and presumed victims, 0 organisations" in flat(
        tiphub("summary").output
    )


def test_summary_says_one_case_in_the_singular_and_bands_ages_with_a_dash(
    cli_engine: Engine,
) -> None:
    accounts.add_organisation(cli_engine, local_operator("operator:test"), "ngo-east", "NGO")
    CaseStore(cli_engine).save(case("only-one"))
    text = flat(tiphub("summary").output)
    assert "1 case, 1 victim or presumed victim, 1 organisation " in text
    # born 1999-04-02, opened 2024-03-01: 24
    assert "24–26" in text and "24--26" not in text
    data = json.loads(tiphub("summary", "--json").output)
    # The JSON keeps the CTDC codes: they are what the API and exports carry.
    assert data["by_age_band"] == {"24--26": 1}


def test_plural_and_age_band_labels() -> None:
    assert [plural(n, "case") for n in (0, 1, 2, 1200)] == [
        "0 cases",
        "1 case",
        "2 cases",
        "1,200 cases",
    ]
    assert plural(1, "victim", "victims and presumed victims") == "1 victim"
    assert plural(3, "victim", "victims and presumed victims") == "3 victims and presumed victims"
    assert [age_band_label(band) for band in ("0--8", "48+", "Unknown")] == [
        "0–8",
        "48+",
        "Unknown",
    ]


def test_codes_country_lists_codes_with_names() -> None:
    countries = tiphub("codes", "country")
    assert countries.exit_code == 0, countries.output
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in countries.output.splitlines()
        if line.count("│") == 3
    }
    assert rows["RO"] == "Romania" and rows["DE"] == "Germany" and rows["XK"] == "Kosovo"
    assert len(rows) > 240


def test_an_unknown_code_list_is_refused_with_the_lists_it_may_mean() -> None:
    refused = tiphub("codes", "exploitation")
    assert refused.exit_code == 2
    text = flat(refused.output)
    assert text.startswith("unknown code list 'exploitation'.")
    assert "unknown code list code" not in text
    assert "Did you mean 'exploitation_type'" in text
    valid = text.split("Valid code lists: ", 1)[1]
    assert "country" in valid and "age_band" in valid and "website" in valid

    typo = flat(tiphub("codes", "gendr").output)
    assert "Did you mean 'gender'" in typo
    assert "Did you mean" not in flat(tiphub("codes", "zzzz").output)


def test_codes_show_the_everyday_words_each_code_is_read_from() -> None:
    from tiphub.standard.codelists import synonym_rows

    shown = flat(tiphub("codes", "gender").output)
    assert "also read" in shown
    for synonym in synonym_rows()["gender"]:
        assert synonym in shown
    # A list without synonyms keeps its two columns.
    assert "also read" not in flat(tiphub("codes", "education").output)
