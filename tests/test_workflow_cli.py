"""`tiphub workflow`, `tiphub proceedings` and `tiphub tasks` on a demo database."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

from sqlalchemy import create_engine

from tiphub.cases.access import local_operator
from tiphub.cases.api import CaseStore
from tiphub.cases.workflows import consent_to_referral


def tiphub(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIPHUB_DATABASE_URL": database_url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "tiphub", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _consenting_victim(database_url: str) -> tuple[str, str, str]:
    engine = create_engine(database_url)
    try:
        for case in CaseStore(engine, local_operator("test")).iter_cases():
            document = case.model_dump(mode="json")
            open_mechanism = any(r.get("mechanism") for r in document.get("referrals", []))
            for victim in case.victims():
                person = victim.person.external_id
                if not open_mechanism and consent_to_referral(document, person) is True:
                    return case.organisation, case.external_id, person
    finally:
        engine.dispose()
    raise AssertionError("the demo has no victim who consented to referral")


def test_refer_decide_and_follow_from_the_command_line(database_url: str) -> None:
    assert tiphub(database_url, "demo", "--cases", "60", "--seed", "11").returncode == 0
    organisation, case, person = _consenting_victim(database_url)
    referred_on = (dt.date.today() - dt.timedelta(days=12)).isoformat()
    referred = tiphub(
        database_url, "workflow", "refer", organisation, case,
        "--mechanism", "uk-nrm", "--person", person, "--on", referred_on, "--json",
    )  # fmt: skip
    assert referred.returncode == 0, referred.stderr
    item = json.loads(referred.stdout)
    assert item["stage"] == "referred" and item["status"] == "overdue"
    reference = item["reference"]

    missing = tiphub(database_url, "workflow", "step", organisation, case, reference, "rg_positive")
    assert missing.returncode == 2
    assert "grounds" in missing.stderr and "decided_by" in missing.stderr
    decided = tiphub(
        database_url, "workflow", "step", organisation, case, reference, "rg_positive",
        "--decided-by", "Single Competent Authority", "--grounds", "Indicators met", "--json",
    )  # fmt: skip
    assert decided.returncode == 0, decided.stderr
    assert json.loads(decided.stdout)["stage"] == "recovery_period"
    due = json.loads(tiphub(database_url, "workflow", "due", "--json").stdout)
    assert next(i for i in due if i["reference"] == reference)["status"] == "waiting"

    hearing = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    recorded = tiphub(
        database_url, "proceedings", "record", organisation, case,
        "--stage", "Trial", "--victim-status", "Witness", "--protection", "AnonymousTestimony",
        "--next-hearing", hearing,
    )  # fmt: skip
    assert recorded.returncode == 0, recorded.stderr
    tasks = json.loads(tiphub(database_url, "tasks", "--json").stdout)
    mine = [t for t in tasks if t["case_external_id"] == case]
    assert {"hearing", "recovery_period_ends"} <= {t["kind"] for t in mine}
    assert person not in json.dumps(tasks)
    bad = tiphub(database_url, "proceedings", "record", organisation, case, "--stage", "Sentenced")
    assert bad.returncode == 2 and "stage" in bad.stderr

    summary = tiphub(database_url, "workflow", "statistics")
    assert summary.returncode == 0, summary.stderr
    assert "Screened" in summary.stdout or "screened" in summary.stdout
    chain = json.loads(tiphub(database_url, "workflow", "statistics", "--json").stdout)
    referred = next(s for s in chain["funnel"]["steps"] if s["step"] == "referred")
    assert referred["count"] >= 1
