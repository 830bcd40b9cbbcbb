"""Whom a database linkage counts (``--roles``) and the sidecar of its capture histories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from tests.factories import case, victim
from tests.test_cli import tiphub
from tiphub.cases.api import CaseStore
from tiphub.estimate.linkage_error import LinkResampler, UncertainLinks
from tiphub.estimate.profits import exploitation_counts_from_store
from tiphub.estimate.sidecar import read_sidecar
from tiphub.estimate.table import read_capture_table
from tiphub.linkage.store_records import RoleError, parse_roles, store_linkage_input
from tiphub.standard.codelists import codelists
from tiphub.store import models as m
from tiphub.store.db import make_engine

VICTIMS = ("Victim", "PresumedVictim")


def _person(role: str, external_id: str, first_name: str, **more: Any) -> dict[str, Any]:
    return {
        "role": role,
        "person": {"external_id": external_id, "first_name": first_name, "gender": "Masculine"},
        **more,
    }


def _small_store(engine: Engine) -> None:
    store = CaseStore(engine)
    confirmed = victim("p2", first_name="Maria", family_name="Ionescu")
    confirmed["role"] = "Victim"
    confirmed["victim"]["exploitation_types"] = ["ForcedLabour"]
    store.create(
        case(
            "c1",
            opened_on="2023-02-01",
            participants=[
                victim("p1"),
                _person("Perpetrator", "x1", "Viktor"),
                _person("Witness", "w1", "Wanda"),
            ],
            events=[],
            consents=[],
        )
    )
    store.create(
        case("c2", opened_on="2024-05-01", participants=[confirmed], events=[], consents=[])
    )
    store.create(
        case(
            "c3",
            organisation="police-north",
            opened_on="2025-01-10",
            participants=[_person("Perpetrator", "x2", "Boris")],
            events=[],
            consents=[],
        )
    )


def test_store_input_takes_victims_unless_told(engine: Engine) -> None:
    _small_store(engine)
    records, population = store_linkage_input(engine)
    assert sorted(records.frame["record_id"]) == ["ngo-east:p1", "ngo-east:p2"]
    assert population.roles == VICTIMS
    assert population.records_by_role == {"Victim": 1, "PresumedVictim": 1}
    assert population.organisations == ("ngo-east",)
    assert population.to_dict()["period"]["earliest"] == "2023-02-01"
    assert population.to_dict()["period"]["latest"] == "2024-05-01"

    records, population = store_linkage_input(engine, ("Perpetrator",))
    assert sorted(records.frame["record_id"]) == ["ngo-east:x1", "police-north:x2"]
    assert population.organisations == ("ngo-east", "police-north")
    assert (population.earliest_case, population.latest_case) == (
        pd.Timestamp("2023-02-01").date(),
        pd.Timestamp("2025-01-10").date(),
    )


def test_profit_mix_from_the_store_follows_the_roles(engine: Engine) -> None:
    _small_store(engine)
    assert exploitation_counts_from_store(engine)["sexual"] == 1
    assert exploitation_counts_from_store(engine)["labour"] == 1
    only_confirmed = exploitation_counts_from_store(engine, roles=("Victim",))
    assert only_confirmed["sexual"] == 0 and only_confirmed["labour"] == 1
    assert not any(exploitation_counts_from_store(engine, roles=("Perpetrator",)).values())


def test_roles_are_checked_against_the_code_list() -> None:
    assert parse_roles(None) == VICTIMS
    assert parse_roles("perpetrator") == ("Perpetrator",)
    assert parse_roles("Trafficker, Victim") == ("Victim", "Perpetrator")
    assert parse_roles("Presumed victim") == ("PresumedVictim",)
    with pytest.raises(RoleError) as refused:
        parse_roles("Perpetrater")
    message = str(refused.value)
    assert "did you mean 'Perpetrator'" in message
    assert all(code in message for code in codelists()["participant_role"].codes)
    with pytest.raises(RoleError, match="names no role"):
        parse_roles(" , ")


# --- end to end on the demo database -------------------------------------------------------


def _keys_in_roles(engine: Engine, roles: tuple[str, ...]) -> set[str]:
    """``organisation:external_id`` of every stored person in ``roles`` with an identity."""
    identity = m.PersonIdentity
    query = (
        select(m.Organisation.slug, m.Person.external_id)
        .join(m.Organisation, m.Organisation.id == m.Person.organisation_id)
        .join(m.CaseParticipant, m.CaseParticipant.person_id == m.Person.id)
        .join(identity, identity.person_id == m.Person.id)
        .where(m.CaseParticipant.role.in_(roles))
        .where(
            identity.first_name.is_not(None)
            | identity.family_name.is_not(None)
            | identity.birth_date.is_not(None)
        )
    )
    with engine.connect() as connection:
        return {f"{slug}:{external_id}" for slug, external_id in connection.execute(query)}


def _case_dates(engine: Engine, roles: tuple[str, ...]) -> tuple[str, str]:
    query = (
        select(func.min(m.Case.opened_on), func.max(m.Case.opened_on))
        .join(m.CaseParticipant, m.CaseParticipant.case_id == m.Case.id)
        .where(m.CaseParticipant.role.in_(roles))
    )
    with engine.connect() as connection:
        earliest, latest = connection.execute(query).one()
    return str(earliest), str(latest)


def _link(database_url: str, out: Path, *extra: str) -> dict[str, Any]:
    done = tiphub(
        database_url,
        "link",
        "--output",
        str(out / "clusters.csv"),
        "--capture-histories",
        str(out / "histories.csv"),
        "--no-review",
        "--json",
        *extra,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_database_linkage_counts_victims_and_states_its_population(
    database_url: str, tmp_path: Path
) -> None:
    loaded = tiphub(database_url, "demo", "--cases", "300", "--seed", "4")
    assert loaded.returncode == 0, loaded.stderr
    engine = make_engine(database_url)
    victims = tmp_path / "victims"
    perpetrators = tmp_path / "perpetrators"
    victims.mkdir()
    perpetrators.mkdir()

    summary = _link(database_url, victims)
    clusters = pd.read_csv(victims / "clusters.csv", dtype=str)
    expected = _keys_in_roles(engine, VICTIMS)
    assert expected and set(clusters["record_id"]) == expected
    assert summary["roles"] == "Victim,PresumedVictim"
    histories = victims / "histories.csv"
    sidecar_file = victims / "histories.csv.json"
    assert summary["capture_histories_sidecar"] == str(sidecar_file)
    assert sidecar_file.stat().st_mode & 0o077 == 0
    sidecar = json.loads(sidecar_file.read_text(encoding="utf-8"))
    population = sidecar["population"]
    assert population["roles"] == list(VICTIMS)
    assert population["records"] == len(clusters)
    assert population["clusters"] == clusters["cluster_id"].nunique()
    assert population["clusters"] == pd.read_csv(histories)["count"].sum()
    assert population["organisations"] == sorted(clusters["list"].unique())
    earliest, latest = _case_dates(engine, VICTIMS)
    assert (population["period"]["earliest"], population["period"]["latest"]) == (earliest, latest)
    linkage = sidecar["linkage"]
    assert linkage["estimated_precision"] == summary["estimated_precision"]
    assert linkage["estimated_recall"] == summary["estimated_recall"]
    _assert_no_identities(sidecar_file.read_text(encoding="utf-8"), engine)

    # The uncertain links are those of this table: the linker's own decisions rebuild it.
    table = read_capture_table(histories)
    read = read_sidecar(histories)
    assert read is not None and read.uncertain_links is not None
    links = read.uncertain_links
    assert links.n_links > 0
    assert ((links.probability > 0.01) & (links.probability < 0.99)).all()
    decided = UncertainLinks(
        links.groups,
        links.left,
        links.right,
        links.linked.astype(float),
        links.linked,
        links.strong,
        links.one_to_one,
    )
    np.testing.assert_array_equal(LinkResampler(table, decided, seed=1).draw_counts(), table.counts)

    # tiphub estimate states the population and says the interval lacks linkage error.
    estimated = tiphub(database_url, "estimate", str(histories), "--method", "main", "--json")
    assert estimated.returncode == 0, estimated.stderr
    result = json.loads(estimated.stdout)
    assert result["population_described"] == population
    assert result["linkage"]["propagated"] is False
    assert result["linkage"]["estimated_precision"] == linkage["estimated_precision"]
    assert "linkage-error-not-in-interval" in {warning["code"] for warning in result["warnings"]}
    text = tiphub(database_url, "estimate", str(histories), "--method", "main")
    assert text.returncode == 0, text.stderr
    assert "people recorded as Victim or PresumedVictim" in text.stdout
    # With a bootstrap, the links are redrawn in every replicate.
    bootstrapped = tiphub(
        database_url, "estimate", str(histories), "--method", "main", "--bootstrap", "40", "--json"
    )
    assert bootstrapped.returncode == 0, bootstrapped.stderr
    linked = json.loads(bootstrapped.stdout)
    assert linked["linkage"]["propagated"] is True
    assert 0 <= linked["linkage"]["share_of_width_from_linkage"] <= 1
    assert linked["interval_95"] == linked["linkage"]["interval_95"]
    assert "bca_without_linkage_error" in linked["intervals"]

    # Perpetrators, when asked for, and only them.
    perpetrator_summary = _link(database_url, perpetrators, "--roles", "Perpetrator")
    taken = set(pd.read_csv(perpetrators / "clusters.csv", dtype=str)["record_id"])
    assert taken == _keys_in_roles(engine, ("Perpetrator",))
    assert not taken & expected
    assert perpetrator_summary["roles"] == "Perpetrator"
    other = json.loads((perpetrators / "histories.csv.json").read_text(encoding="utf-8"))
    assert other["population"]["roles"] == ["Perpetrator"]

    # A sidecar written for another table is refused, naming the next step.
    mixed = tmp_path / "mixed.csv"
    shutil.copy(histories, mixed)
    shutil.copy(perpetrators / "histories.csv.json", tmp_path / "mixed.csv.json")
    refused = tiphub(database_url, "estimate", str(mixed), "--method", "main")
    assert refused.returncode == 1
    assert "written for another table" in refused.stderr and "delete the sidecar" in refused.stderr

    # Profits counted in the store follow --roles; perpetrators carry no exploitation.
    no_mix = tiphub(
        database_url, "estimate", str(histories), "--profits", "store", "--roles", "Perpetrator"
    )
    assert no_mix.returncode == 1
    assert "only victims and presumed victims carry one" in no_mix.stderr
    # The profits say whose forms of exploitation they counted, and a mix of other roles
    # than the table counts is pointed out.
    victims_mix = tiphub(
        database_url, "estimate", str(histories), "--method", "main", "--profits", "store",
        "--json",
    )  # fmt: skip
    assert victims_mix.returncode == 0, victims_mix.stderr
    profits = json.loads(victims_mix.stdout)["profits"]
    assert profits["mix_source"] == (
        "people recorded as Victim or PresumedVictim in the tiphub database"
    )
    assert not any("give the same --roles" in warning for warning in profits["warnings"])
    victims_only = tiphub(
        database_url, "estimate", str(histories), "--method", "main", "--profits", "store",
        "--roles", "Victim", "--json",
    )  # fmt: skip
    assert victims_only.returncode == 0, victims_only.stderr
    warnings = json.loads(victims_only.stdout)["profits"]["warnings"]
    assert any("give the same --roles" in warning for warning in warnings)
    engine.dispose()


def _assert_no_identities(text: str, engine: Engine) -> None:
    every_role = codelists()["participant_role"].codes
    records, _ = store_linkage_input(engine, every_role)
    frame = records.frame
    names = {
        value
        for column in ("given_name", "family_name", "identifier", "address")
        for value in frame[column].dropna()
        if len(str(value)) > 4
    }
    births = set(frame["date_of_birth"].dropna())
    ids = set(frame["record_id"]) | {key.split(":", 1)[1] for key in frame["record_id"]}
    assert names and births and ids
    leaked = [value for value in (*names, *births, *ids) if str(value) in text]
    assert leaked == []


def test_roles_are_refused_where_they_do_not_apply(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("record_id,list,given_name\n1,A,Name\n", encoding="utf-8")
    with_files = tiphub(database_url, "link", str(path), "--roles", "Perpetrator")
    assert with_files.returncode == 2
    assert "--roles chooses people in the tiphub database" in with_files.stderr
    misspelt = tiphub(database_url, "link", "--roles", "Traffickr")
    assert misspelt.returncode == 2
    assert "valid codes: Victim, PresumedVictim, Perpetrator" in misspelt.stderr
    table = tmp_path / "t.csv"
    table.write_text("A,B,count\n1,0,30\n0,1,20\n1,1,10\n", encoding="utf-8")
    without_profits = tiphub(database_url, "estimate", str(table), "--roles", "Victim")
    assert without_profits.returncode == 2
    assert "--roles applies with --profits store only" in without_profits.stderr
