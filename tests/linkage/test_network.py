"""The cross-border and network view: routes, shared evidence, exports and the route map."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from sqlalchemy import Engine, select

from tests.factories import victim
from tiphub.cases.api import CaseStore
from tiphub.cases.persistence import table_of
from tiphub.demo.loader import load_demo
from tiphub.linkage.network import (
    LinkageNetwork,
    address_key,
    load_network,
    network_html_section,
    network_summary,
    normalise_phone,
    person_key,
    write_graphml,
    write_nodes_edges_csv,
)
from tiphub.linkage.routemap import RouteCount, country_centroids, route_map_svg
from tiphub.store import models as m
from tiphub.store.models import new_id, utcnow

SVG = "{http://www.w3.org/2000/svg}"
ORGANISATIONS = {"ro-ngo": "RO", "gb-police": "GB", "de-ngo": "DE"}


def _organisations(engine: Engine) -> None:
    """Organisations with their countries, which the case writer alone does not record."""
    with engine.begin() as connection:
        connection.execute(
            table_of(m.Organisation).insert(),
            [
                {"id": new_id(), "slug": slug, "name": slug, "country": country}
                | {"created_at": utcnow()}
                for slug, country in ORGANISATIONS.items()
            ],
        )


def _event(kind: str, country: str, person: str, on: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "person_external_id": person, "country": country}
    if on is not None:
        event["started_on"] = on
    return event


def _case(
    organisation: str,
    external_id: str,
    participants: list[dict[str, Any]],
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "organisation": organisation,
        "status": "Active",
        "opened_on": "2024-03-01",
        "participants": participants,
        "events": events or [],
    }


def _perpetrator(
    person_id: str, roles: list[str], company: str | None = None, **person: Any
) -> dict[str, Any]:
    return {
        "role": "Perpetrator",
        "person": {"external_id": person_id, "first_name": "Viktor", **person},
        "perpetrator": {
            "kind": "Company" if company else "Individual",
            "roles": roles,
            "company_name": company,
        },
    }


@pytest.fixture
def store(engine: Engine) -> CaseStore:
    _organisations(engine)
    return CaseStore(engine, actor="test")


# --- routes -------------------------------------------------------------------------------


def test_records_of_one_victim_merge_into_one_route_in_date_order(
    engine: Engine, store: CaseStore
) -> None:
    # The Romanian NGO knows recruitment and exploitation, listed out of order; the British
    # police know the transit through Hungary and Austria and the exploitation.
    store.save(
        _case(
            "ro-ngo",
            "ro-1",
            [victim("p1")],
            [
                _event("Exploitation", "GB", "p1", "2023-08-01"),
                _event("Recruitment", "RO", "p1", "2023-05-01"),
            ],
        )
    )
    store.save(
        _case(
            "gb-police",
            "gb-7",
            [victim("v9", first_name="Anna", family_name="Popescu-Ionescu")],
            [
                _event("Transit", "AT", "v9", "2023-06-12"),
                _event("Identification", "GB", "v9", "2024-01-10"),
                _event("Exploitation", "GB", "v9", "2023-07-20"),
                _event("Transit", "HU", "v9", "2023-06-10"),
            ],
        )
    )
    clusters = {person_key("ro-ngo", "p1"): "A", person_key("gb-police", "v9"): "A"}
    network = load_network(engine, clusters)

    route = network.routes["A"]
    assert (route.origin, route.transits, route.destination) == ("RO", ("HU", "AT"), "GB")
    assert [(s.kind, s.country) for s in route.stops] == [
        ("Recruitment", "RO"),
        ("Transit", "HU"),
        ("Transit", "AT"),
        ("Exploitation", "GB"),
    ]
    # Both organisations recorded the exploitation; the earliest date wins.
    exploitation = route.stops[-1]
    assert exploitation.organisations == ("gb-police", "ro-ngo")
    assert exploitation.recorded_in == ("GB", "RO")
    assert str(exploitation.started_on) == "2023-07-20"
    assert route.identified_in == ("GB",)
    assert route.cross_border and route.crosses_border
    assert route.records == ("gb-police:v9", "ro-ngo:p1")
    assert route.cases == ("gb-police:gb-7", "ro-ngo:ro-1")
    assert network.route_counts == [RouteCount("RO", ("HU", "AT"), "GB", 1)]

    # Unlinked, each record is its own cluster with what it alone knows.
    apart = load_network(engine, {})
    assert set(apart.routes) == {"ro-ngo:p1", "gb-police:v9"}
    assert apart.routes["gb-police:v9"].origin is None
    assert apart.routes["gb-police:v9"].transits == ("HU", "AT")
    assert apart.route_counts == [RouteCount("RO", (), "GB", 1)]


def test_undated_steps_fall_in_place_by_kind(engine: Engine, store: CaseStore) -> None:
    store.save(
        _case(
            "de-ngo",
            "de-1",
            [victim("p1")],
            [
                _event("Exploitation", "DE", "p1"),
                _event("Transit", "PL", "p1"),
                _event("Recruitment", "UA", "p1"),
                _event("Transit", "CZ", "p1", "2022-02-01"),
            ],
        )
    )
    route = load_network(engine, {}).routes["de-ngo:p1"]
    assert (route.origin, route.transits, route.destination) == ("UA", ("CZ", "PL"), "DE")


def test_case_level_events_belong_to_every_victim_and_domestic_cases_stay_domestic(
    engine: Engine, store: CaseStore
) -> None:
    events = [
        {"type": "Recruitment", "country": "RO", "started_on": "2023-01-01"},
        {"type": "Exploitation", "country": "RO", "started_on": "2023-02-01"},
    ]
    store.save(_case("ro-ngo", "ro-2", [victim("p1"), victim("p2")], events))
    network = load_network(engine, {})
    for cluster in ("ro-ngo:p1", "ro-ngo:p2"):
        route = network.routes[cluster]
        assert (route.origin, route.transits, route.destination) == ("RO", (), "RO")
        assert not route.cross_border
    assert network.route_counts == [RouteCount("RO", (), "RO", 2)]
    assert network.cross_border_clusters == 0


def test_a_victim_recorded_in_two_countries_is_cross_border_without_a_route(
    engine: Engine, store: CaseStore
) -> None:
    store.save(_case("ro-ngo", "ro-3", [victim("p1")]))
    store.save(_case("de-ngo", "de-3", [victim("q1")]))
    network = load_network(engine, {"ro-ngo:p1": "X", "de-ngo:q1": "X"})
    assert network.routes["X"].cross_border and not network.routes["X"].crosses_border
    assert network.routes["X"].organisation_countries == ("DE", "RO")


# --- shared evidence and networks ---------------------------------------------------------


def test_two_cases_of_different_organisations_sharing_a_phone_are_one_network(
    engine: Engine, store: CaseStore
) -> None:
    store.save(_case("ro-ngo", "ro-1", [victim("p1", mobile_phone="+40 721 555 123")]))
    store.save(
        _case(
            "gb-police",
            "gb-1",
            [victim("v1", first_name="Elena", home_phone="0040-721-555-123")],
        )
    )
    store.save(_case("de-ngo", "de-1", [victim("d1", mobile_phone="+49 151 555 0000")]))
    network = load_network(engine, {})

    assert len(network.networks) == 1
    found = network.networks[0]
    assert found.id == "network:1"
    assert set(found.victims) == {"ro-ngo:p1", "gb-police:v1"}
    assert found.cases == ("gb-police:gb-1", "ro-ngo:ro-1")
    assert found.organisations == ("gb-police", "ro-ngo")
    assert found.cross_border
    assert dict(found.evidence) == {"phone": 1}
    assert network.shared_evidence["phone"] == 1
    # The unshared phone links nothing and stays out of the graph.
    phones = [n for n, d in network.graph.nodes(data=True) if d["kind"] == "phone"]
    assert phones == ["phone:1"]
    assert network.graph.nodes["phone:1"]["holders"] == 2
    assert network.graph.nodes["victim:ro-ngo:p1"]["network"] == "network:1"
    assert "network" not in network.graph.nodes["victim:de-ngo:d1"]


def test_shared_perpetrators_recruiters_companies_addresses_and_documents(
    engine: Engine, store: CaseStore
) -> None:
    passport = {"kind": "Passport", "value": "AB 1234567", "issuing_country": "RO"}
    store.save(
        _case(
            "ro-ngo",
            "ro-1",
            [
                victim("p1", identifiers=[passport]),
                _perpetrator("r1", ["RecruiterOrIntermediary"]),
                _perpetrator("c1", ["Exploiter"], company="Sunrise Farms Ltd."),
            ],
        )
    )
    store.save(
        _case(
            "gb-police",
            "gb-1",
            [
                victim(
                    "v1",
                    mailing_street="12 Mill Lane",
                    mailing_city="Boston",
                    mailing_postal_code="pe21 8aa",
                ),
                _perpetrator("r9", ["RecruiterOrIntermediary", "Transporter"]),
                _perpetrator("c9", ["Exploiter"], company="SUNRISE FARMS LTD"),
            ],
        )
    )
    store.save(
        _case(
            "de-ngo",
            "de-1",
            [
                victim(
                    "d1",
                    identifiers=[{"kind": "Passport", "value": "ab1234567"}],
                    mailing_street="12, Mill lane",
                    mailing_city="BOSTON",
                    mailing_postal_code="PE218AA",
                )
            ],
        )
    )
    store.save(
        _case(
            "de-ngo",
            "de-2",
            [
                victim(
                    "d2",
                    identifiers=[{"kind": "CaseNumber", "value": "AB1234567"}],
                    mailing_city="Boston",
                )
            ],
        )
    )
    # The two recruiter records are one person; victims are all different people.
    network = load_network(engine, {"ro-ngo:r1": "R", "gb-police:r9": "R"})

    assert network.perpetrator_clusters == 1 and network.companies == 1
    assert len(network.networks) == 1
    found = network.networks[0]
    assert set(found.victims) == {"ro-ngo:p1", "gb-police:v1", "de-ngo:d1"}
    assert dict(found.evidence) == {"recruiter": 1, "company": 1, "address": 1, "identifier": 1}
    assert found.perpetrators == 2
    graph = network.graph
    assert graph.has_edge("victim:ro-ngo:p1", "perpetrator:R", key="recruited_by")
    assert graph.has_edge("victim:gb-police:v1", "perpetrator:R", key="victim_of")
    assert graph.nodes["perpetrator:R"]["roles"] == "RecruiterOrIntermediary;Transporter"
    assert graph.has_edge("victim:ro-ngo:p1", "company:1", key="victim_of")
    # A case number is shared by everyone in a case, and a city alone is no address.
    assert "network" not in graph.nodes["victim:de-ngo:d2"]
    summary = network_summary(network)
    assert summary["shared_evidence"] == {
        "recruiter": 1,
        "company": 1,
        "address": 1,
        "identifier": 1,
    }
    assert summary["networks"] == 1 and summary["largest_network"] == 3


def test_a_victim_who_recruits_another_joins_the_two(engine: Engine, store: CaseStore) -> None:
    store.save(_case("ro-ngo", "ro-1", [victim("p1")]))
    store.save(
        _case("gb-police", "gb-1", [victim("v1"), _perpetrator("x1", ["RecruiterOrIntermediary"])])
    )
    network = load_network(engine, {"ro-ngo:p1": "P", "gb-police:x1": "P"})
    assert network.perpetrator_clusters == 0
    assert network.graph.nodes["victim:P"]["also_perpetrator"] is True
    assert network.graph.has_edge("victim:gb-police:v1", "victim:P", key="recruited_by")
    [found] = network.networks
    assert set(found.victims) == {"P", "gb-police:v1"}
    assert dict(found.evidence) == {"recruiter": 1}


def test_normalisers() -> None:
    assert normalise_phone("+44 (0)7700 900123") == "4407700900123"
    assert normalise_phone("0044 7700 900123") == normalise_phone("+44-7700-900123")
    assert normalise_phone("12 34") is None
    assert address_key("Str. Lungă 5", "Brașov", None) == address_key("str lunga 5", "BRASOV", "")
    assert address_key(None, "Brașov", "500001") is None
    assert address_key("Str. Lungă 5", None, None) is None


# --- exports --------------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return {word.casefold() for word in re.findall(r"\w+", text)}


def _demo_network(engine: Engine, tmp_path: Path) -> tuple[LinkageNetwork, set[str]]:
    truth_path = tmp_path / "truth.csv"
    load_demo(engine, 300, 5, truth_path=truth_path)
    with truth_path.open(encoding="utf-8") as handle:
        clusters = {
            person_key(row["organisation"], row["person_external_id"]): row["true_person_id"]
            for row in csv.DictReader(handle)
        }
    identity = table_of(m.PersonIdentity)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                identity.c.first_name,
                identity.c.middle_name,
                identity.c.family_name,
                identity.c.mobile_phone,
            )
        ).all()
    # Two-letter names (Hu, Ma) cannot be told from the country codes the exports are made
    # of, nor names such as Nam from the country names on the map ("Viet Nam").
    places = {word for c in country_centroids().values() for word in _words(c.name)}
    secrets = {
        value
        for row in rows
        for value in row[:3]
        if value and len(value) > 2 and value.casefold() not in places
    }
    secrets |= {re.sub(r"\D", "", row[3]) for row in rows if row[3]}
    assert len(secrets) > 100
    return load_network(engine, clusters), secrets


def test_demo_graph_round_trips_as_graphml_without_names(engine: Engine, tmp_path: Path) -> None:
    network, secrets = _demo_network(engine, tmp_path)
    assert len(network.routes) > 100
    assert network.cross_border_clusters > 0
    assert network.route_counts and network.networks

    graphml = tmp_path / "network.graphml"
    write_graphml(network, graphml)
    back = nx.read_graphml(graphml, force_multigraph=True)
    assert back.number_of_nodes() == network.graph.number_of_nodes()
    assert back.number_of_edges() == network.graph.number_of_edges()
    kinds = {data["kind"] for _, _, data in back.edges(data=True)}
    assert {"victim_of", "recruited_in", "exploited_in", "route"} <= kinds

    nodes, edges = tmp_path / "nodes.csv", tmp_path / "edges.csv"
    write_nodes_edges_csv(network, nodes, edges)
    html = network_html_section(network)
    for text in (graphml.read_text("utf-8"), nodes.read_text("utf-8"), edges.read_text("utf-8")):
        words = _words(text)
        leaked = {s for s in secrets if s.casefold() in words}
        assert not leaked, sorted(leaked)[:5]
    assert not {s for s in secrets if s.casefold() in _words(html)}


def test_identity_values_are_exported_only_on_request(
    engine: Engine, store: CaseStore, tmp_path: Path
) -> None:
    store.save(_case("ro-ngo", "ro-1", [victim("p1", mobile_phone="+40 721 555 123")]))
    store.save(_case("gb-police", "gb-1", [victim("v1", mobile_phone="+40721555123")]))
    network = load_network(engine, {})
    hidden, shown = tmp_path / "hidden.graphml", tmp_path / "shown.graphml"
    write_graphml(network, hidden)
    write_graphml(network, shown, include_identity=True)
    assert "40721555123" not in hidden.read_text("utf-8")
    assert "40721555123" in shown.read_text("utf-8")
    assert "Popescu" not in shown.read_text("utf-8")  # names never leave the store
    nodes, edges = tmp_path / "nodes.csv", tmp_path / "edges.csv"
    write_nodes_edges_csv(network, nodes, edges)
    rows = list(csv.DictReader(nodes.open(encoding="utf-8")))
    assert {"phone:1"} == {row["id"] for row in rows if row["kind"] == "phone"}
    assert "40721555123" not in nodes.read_text("utf-8") + edges.read_text("utf-8")
    edge_rows = list(csv.DictReader(edges.open(encoding="utf-8")))
    assert {(r["source"], r["kind"]) for r in edge_rows if r["target"] == "phone:1"} == {
        ("victim:ro-ngo:p1", "uses_phone"),
        ("victim:gb-police:v1", "uses_phone"),
    }

    salted = load_network(engine, {}, salt="s3cret")
    again = load_network(engine, {}, salt="s3cret")
    other = load_network(engine, {}, salt="other")

    def phone_ids(net: LinkageNetwork) -> list[str]:
        return [n for n, d in net.graph.nodes(data=True) if d["kind"] == "phone"]

    assert phone_ids(salted) == phone_ids(again) != phone_ids(other)
    assert re.fullmatch(r"phone:[0-9a-f]{16}", phone_ids(salted)[0])


# --- route map and report -------------------------------------------------------------------


def test_route_map_is_well_formed_svg_with_the_route_endpoints() -> None:
    routes = [
        RouteCount("RO", ("HU", "AT"), "GB", 14),
        RouteCount("NG", ("LY",), "IT", 9),
        RouteCount("VN", (), "GB", 3),
        RouteCount("TH", (), "TH", 5),
        RouteCount("RO", (), "ZZ", 2),  # unknown code: counted, not drawn
    ]
    svg = route_map_svg(routes)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    texts = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    for code in ("RO", "HU", "AT", "GB", "NG", "LY", "IT", "VN", "TH"):
        assert re.search(rf"\b{code}\b", texts), code
    assert "ZZ" not in texts
    assert "1 route(s) through unknown country codes" in texts
    # One arrowhead per leg: RO→HU→AT→GB, NG→LY→IT, VN→GB; none for the domestic route.
    assert len(list(root.iter(f"{SVG}polygon"))) == 6
    # Nothing to run or fetch.
    assert "<script" not in svg and "href" not in svg
    assert ET.fromstring(route_map_svg([])).tag == f"{SVG}svg"


def test_centroid_table_covers_every_country_code() -> None:
    import pycountry

    table = country_centroids()
    assert {c.alpha_2 for c in pycountry.countries} <= set(table)
    assert table["RO"].alpha_3 == "ROU" and 40 < table["RO"].lat < 50
    assert all(-90 <= c.lat <= 90 and -180 <= c.lon <= 180 for c in table.values())


def test_html_section_escapes_and_embeds_the_map(engine: Engine, store: CaseStore) -> None:
    store.save(
        _case(
            "ro-ngo",
            "<b>ro-1</b>",
            [victim("<script>alert(1)</script>", mobile_phone="+40 721 555 123")],
            [
                _event("Recruitment", "RO", "<script>alert(1)</script>", "2023-01-01"),
                _event("Exploitation", "GB", "<script>alert(1)</script>", "2023-02-01"),
            ],
        )
    )
    store.save(_case("gb-police", "gb-1", [victim("v1", mobile_phone="+40 721 555 123")]))
    network = load_network(engine, {})
    html = network_html_section(network)
    assert "<script" not in html
    root = ET.fromstring(html)  # the fragment is well-formed, map included
    assert root.tag == "section"
    assert root.find(f".//{SVG}svg") is not None
    assert "Popescu" not in html and "721" not in html
    cells = ["".join(td.itertext()) for td in root.iter("td")]
    assert "network:1" in cells and "phone 1" in cells
