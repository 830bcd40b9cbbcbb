"""``tiphub services`` and ``tiphub helpline`` through the command line's own app, on the
test database (SQLite, or PostgreSQL with TIPHUB_TEST_DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from tests.factories import case
from tiphub.cases import accounts, audit
from tiphub.cases.access import local_operator
from tiphub.cases.api import CaseStore
from tiphub.cli.app import app
from tiphub.store.db import default_engine

runner = CliRunner()
NAMES = ("Ana", "Popescu")


def tiphub(*args: str) -> Result:
    return runner.invoke(app, list(args))


def flat(text: str) -> str:
    """Rich wraps long lines at the terminal's width."""
    return " ".join(text.split())


@pytest.fixture
def hub(engine: Engine) -> Iterator[Engine]:
    # The command line keeps one engine per process: this test's database is a new one.
    default_engine.cache_clear()
    accounts.add_organisation(engine, local_operator("operator:test"), "ngo-east", "NGO East")
    yield engine
    default_engine().dispose()
    default_engine.cache_clear()


def add_case(engine: Engine, external_id: str, consent: bool) -> None:
    consents: list[dict[str, Any]] = [
        {"person_external_id": "p1", "purpose": "DataProcessing", "given": True}
    ]
    if consent:
        consents.append({"person_external_id": "p1", "purpose": "Referral", "given": True})
    CaseStore(engine).create(case(external_id, consents=consents))


def test_directory_referral_and_helpline_happy_path(hub: Engine, tmp_path: Path) -> None:
    added = tiphub(
        "services", "add", "harbour-london", "--name", "Safe Harbour Shelter",
        "-s", "shelter", "-s", "medical", "-o", "ngo-east", "--sex", "Female",
        "--min-age", "18", "--at", "51.5074,-0.1278", "--capacity", "10",
        "--places-free", "2", "--city", "London", "--country", "GB",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Accommodation, Medical" in added.stdout
    paris = tiphub(
        "services", "add", "paris-house", "--name", "Maison de Paris", "-s", "shelter",
        "-o", "ngo-east", "--at", "48.8566,2.3522",
    )  # fmt: skip
    assert paris.exit_code == 0, paris.output
    directory = tmp_path / "more.csv"
    directory.write_text(
        "slug,name,services,languages\nclinic,Legal Clinic,legal|interpretation,en|ro\n",
        encoding="utf-8",
    )
    imported = tiphub("services", "import", str(directory), "-o", "ngo-east")
    assert imported.exit_code == 0, imported.output
    assert "Imported 1 new" in flat(imported.stdout)

    listed = json.loads(tiphub("services", "list", "--json").stdout)
    assert [p["slug"] for p in listed] == ["clinic", "paris-house", "harbour-london"]

    near = tiphub("services", "search", "shelter", "--near", "51.5074,-0.1278", "--json")
    assert near.exit_code == 0, near.output
    found = json.loads(near.stdout)
    assert [m["slug"] for m in found] == ["harbour-london", "paris-house"]
    assert found[0]["distance_km"] == 0 and found[1]["distance_km"] == pytest.approx(344, abs=2)
    men = json.loads(tiphub("services", "search", "shelter", "--sex", "Male", "--json").stdout)
    assert [m["slug"] for m in men] == ["paris-house"]
    within = tiphub("services", "search", "shelter", "--near", "51.5,-0.13", "--within", "50")
    assert within.exit_code == 0 and "harbour-london" in within.stdout
    assert "paris-house" not in within.stdout
    within_json = tiphub(
        "services", "search", "shelter", "--near", "51.5,-0.13", "--within", "50", "--json"
    )
    assert [m["slug"] for m in json.loads(within_json.stdout)] == ["harbour-london"]

    add_case(hub, "case-1", consent=True)
    referred = tiphub(
        "services", "refer", "ngo-east", "case-1", "--person", "p1",
        "--provider", "harbour-london", "--service", "shelter", "--service", "medical",
    )  # fmt: skip
    assert referred.exit_code == 0, referred.output
    match = re.search(r"svc-[0-9a-f]{8}", referred.stdout)
    assert match is not None
    reference = match.group(0)
    unreasoned = tiphub(
        "services", "respond", "ngo-east", "case-1", reference, "--status", "declined"
    )
    assert unreasoned.exit_code == 2 and "needs the provider's reason" in flat(unreasoned.stderr)
    declined = tiphub(
        "services", "respond", "ngo-east", "case-1", reference,
        "--status", "declined", "--reason", "No bed this month",
    )  # fmt: skip
    assert declined.exit_code == 0, declined.output
    assert f"{reference}: Declined" in declined.stdout
    assert json.loads(tiphub("services", "follow-ups", "--days", "0", "--json").stdout) == []

    logged = tiphub(
        "helpline", "log", "-o", "ngo-east", "--channel", "phone", "--caller", "victim",
        "--on", "2025-12-30", "--indicator", "forced_labour.deception", "--region", "Iasi county",
        "--language", "ro",
    )  # fmt: skip
    assert logged.exit_code == 0, logged.output
    counts = tiphub("helpline", "counts", "--json")
    assert json.loads(counts.stdout) == [{"week": "2026-W01", "channel": "phone", "count": 1}]
    [call] = json.loads(tiphub("helpline", "list", "--json").stdout)
    assert call["language"] == "ron" and call["region"] == "Iasi county"

    actions = {entry["action"] for entry in audit.iter_entries(hub)}
    assert {"service.provider.add", "service.refer", "service.respond", "helpline.record"} <= (
        actions
    )


def test_bad_input_is_refused_on_stderr_with_exit_code_2(hub: Engine, tmp_path: Path) -> None:
    bad_service = tiphub("services", "add", "x", "--name", "X", "-s", "teleport", "-o", "ngo-east")
    assert bad_service.exit_code == 2 and "services: unknown service_type" in flat(
        bad_service.stderr
    )
    too_old = tiphub(
        "services", "add", "x", "--name", "X", "-s", "legal", "-o", "ngo-east", "--min-age", "200"
    )
    assert too_old.exit_code == 2 and "min_age: must be 0..120" in flat(too_old.stderr)
    bad_point = tiphub("services", "search", "shelter", "--near", "north")
    assert bad_point.exit_code == 2 and "--near" in bad_point.stderr
    bad_filter = tiphub("services", "search", "shelter", "--within", "5")
    assert bad_filter.exit_code == 2 and "within_km" in bad_filter.stderr

    bad_file = tmp_path / "bad.csv"
    bad_file.write_text("slug,name,services\nok,OK,legal\nworse,Worse,flying\n", encoding="utf-8")
    refused = tiphub("services", "import", str(bad_file), "-o", "ngo-east")
    assert refused.exit_code == 2
    assert "bad.csv, row 3, column services" in flat(refused.stderr)
    assert json.loads(tiphub("services", "list", "--json").stdout) == []

    assert (
        tiphub(
            "services", "add", "clinic", "--name", "C", "-s", "legal", "-o", "ngo-east"
        ).exit_code
        == 0
    )
    add_case(hub, "case-2", consent=False)
    before = CaseStore(hub).read(CaseStore(hub).case_id_of("ngo-east", "case-2"), audited=False)  # type: ignore[arg-type]
    no_consent = tiphub(
        "services", "refer", "ngo-east", "case-2", "--person", "p1",
        "--provider", "clinic", "--service", "legal",
    )  # fmt: skip
    assert no_consent.exit_code == 2 and "consented to referral" in flat(no_consent.stderr)
    assert not any(name in no_consent.output for name in NAMES)
    after = CaseStore(hub).read(before.id, audited=False)
    assert after.version == before.version and after.document.get("referrals", []) == []
    missing = tiphub(
        "services", "refer", "ngo-east", "case-9", "--person", "p1",
        "--provider", "clinic", "--service", "legal",
    )  # fmt: skip
    assert missing.exit_code == 2 and "no case case-9 at ngo-east" in flat(missing.stderr)

    pigeon = tiphub(
        "helpline", "log", "-o", "ngo-east", "--channel", "pigeon", "--caller", "victim"
    )
    assert pigeon.exit_code == 2 and "channel: one of phone" in flat(pigeon.stderr)
    number = tiphub(
        "helpline", "log", "-o", "ngo-east", "--channel", "phone", "--caller", "victim",
        "--region", "ring 0721 555 019",
    )  # fmt: skip
    assert number.exit_code == 2 and "region" in number.stderr
    assert "555" not in number.output
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    later = tiphub(
        "helpline", "log", "-o", "ngo-east", "--channel", "phone", "--caller", "victim",
        "--on", future,
    )  # fmt: skip
    assert later.exit_code == 2 and "received_on" in later.stderr
    bad_day = tiphub("helpline", "counts", "--since", "yesterday")
    assert bad_day.exit_code == 2 and "--since" in bad_day.stderr
    assert json.loads(tiphub("helpline", "counts", "--json").stdout) == []
