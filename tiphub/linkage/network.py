"""The cross-border and network view of the case store, once record linkage has run.

Record linkage gives every person record a cluster id: the records that are one real
person, across organisations and borders. ``load_network`` reads the store and a cluster
mapping and builds:

- **routes**: per victim cluster, the trafficking events of all its records merged and
  ordered by date, from origin (recruitment) through transit to destination
  (exploitation), with the organisations and countries that recorded each step;
- **shared evidence**: perpetrators (clustered too), recruiters, perpetrator companies,
  phone numbers, addresses and identity documents that two or more clusters have in
  common, and the **networks** they join: connected groups of victim clusters;
- a typed ``networkx`` graph of all of it, for export as GraphML or CSV.

Person key
    A person record is keyed ``f"{organisation_slug}:{person_external_id}"`` (see
    ``person_key``), the store's natural key of ``person``. Records missing from the
    cluster mapping are clusters of their own, with their key as cluster id.

Privacy
    Names are never read from the store. In the graph, phones, addresses, identity
    documents and company names are opaque ids (``phone:1``, …; salted HMACs instead with
    ``salt=``, so that exports made with the same salt can be joined). Their values reach
    an export only with ``include_identity=True``, and never by default. Phones,
    addresses and documents held by a single cluster are left out of the graph: they link
    nothing and would only expose identity. Cluster ids and person keys are pseudonymous
    record references; choose cluster ids that carry no identity.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import Any

import networkx as nx
from sqlalchemy import Connection, Engine, select
from unidecode import unidecode

from tiphub.cases.persistence import table_of
from tiphub.cases.schema import VICTIM_ROLES
from tiphub.exchange.spreadsheet import neutralise
from tiphub.files import open_private, staged_file
from tiphub.linkage.routemap import RouteCount, route_map_svg
from tiphub.store import models as m

PERPETRATOR_ROLES = frozenset({"Perpetrator", "Employer"})
RECRUITER_ROLE = "RecruiterOrIntermediary"
ROUTE_EVENTS: dict[str, int] = {"Recruitment": 0, "Transit": 1, "Exploitation": 2}
# Case numbers are shared by everyone in a case and "Other" has no defined meaning, so only
# identity documents are evidence that two clusters are connected.
LINKING_IDENTIFIER_KINDS = frozenset({"Passport", "NationalId", "ResidencePermit"})
EVIDENCE_KINDS: tuple[str, ...] = (
    "recruiter",
    "perpetrator",
    "company",
    "phone",
    "address",
    "identifier",
)
MIN_PHONE_DIGITS = 7

EDGE_KINDS: tuple[str, ...] = (
    "victim_of",  # victim cluster -> perpetrator cluster or company, in the same case
    "recruited_by",  # ... where that perpetrator's roles include recruiter or intermediary
    "acts_for",  # individual perpetrator -> the company named in their record
    "uses_phone",  # person cluster -> phone
    "at_address",  # person cluster -> address (mailing address or an event's address)
    "holds_identifier",  # person cluster -> identity document
    "recruited_in",  # victim cluster -> origin country
    "transited",  # victim cluster -> transit country
    "exploited_in",  # victim cluster -> destination country
    "route",  # country -> next country on victims' routes, with the number of victims
)


def person_key(organisation_slug: str, external_id: str) -> str:
    """The key of a person record in cluster mappings."""
    return f"{organisation_slug}:{external_id}"


# --- normalisation ------------------------------------------------------------------------


def normalise_text(text: str | None) -> str | None:
    """Lower-case ASCII words: "Str. Lungă 5" and "str lunga 5" agree."""
    if text is None:
        return None
    words = re.sub(r"[^a-z0-9]+", " ", unidecode(text).casefold()).split()
    return " ".join(words) or None


def normalise_phone(text: str | None) -> str | None:
    """The digits of a phone number, without an international ``00`` prefix.

    "+44 7700 900123", "0044 7700900123" and "447700900123" agree. A number in national
    form ("07700 900123") agrees only with the same national form: which country's trunk
    prefix it carries is not known here, and matching on trailing digits alone would join
    different numbers of different countries.
    """
    if text is None:
        return None
    digits = re.sub(r"\D", "", text)
    if digits.startswith("00"):
        digits = digits[2:]
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def address_key(street: str | None, city: str | None, postal_code: str | None) -> str | None:
    """Normalised street, city and postcode; ``None`` without a street and a city or postcode.

    A city alone is not an address: it would join everyone who lives there.
    """
    street_key = normalise_text(street)
    city_key = normalise_text(city) or ""
    post_key = re.sub(r"[^A-Z0-9]", "", unidecode(postal_code or "").upper())
    if street_key is None or not (city_key or post_key):
        return None
    return f"{street_key}|{city_key}|{post_key}"


def identifier_key(kind: str, value: str | None) -> str | None:
    # The issuing country is left out: organisations often do not record it.
    if kind not in LINKING_IDENTIFIER_KINDS or value is None:
        return None
    cleaned = re.sub(r"[^A-Z0-9]", "", unidecode(value).upper())
    return f"{kind}:{cleaned}" if cleaned else None


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteStop:
    """One step of a victim's route, merged over every record that mentions it."""

    kind: str  # Recruitment, Transit or Exploitation
    country: str
    started_on: dt.date | None  # the earliest date any record gives
    organisations: tuple[str, ...]  # slugs of the organisations that recorded the step
    recorded_in: tuple[str, ...]  # their countries


@dataclass(frozen=True)
class VictimRoute:
    """Everything the store knows of one victim cluster's journey."""

    cluster: str
    records: tuple[str, ...]  # person keys
    cases: tuple[str, ...]  # case keys, ``organisation:case_external_id``
    organisations: tuple[str, ...]
    organisation_countries: tuple[str, ...]
    stops: tuple[RouteStop, ...]  # in route order
    identified_in: tuple[str, ...]  # countries of identification events
    origin: str | None
    transits: tuple[str, ...]
    destination: str | None

    @property
    def countries(self) -> tuple[str, ...]:
        """Origin, transits and destination, the ones known."""
        ends = (self.origin, *self.transits, self.destination)
        return tuple(country for country in ends if country is not None)

    @property
    def crosses_border(self) -> bool:
        return len(set(self.countries)) > 1

    @property
    def cross_border(self) -> bool:
        """Recorded in two or more countries, or a route that crosses a border."""
        return len(set(self.organisation_countries)) > 1 or self.crosses_border


@dataclass(frozen=True)
class EvidenceNetwork:
    """Victim clusters connected by shared perpetrators, phones, addresses or documents."""

    id: str
    victims: tuple[str, ...]  # victim cluster ids
    perpetrators: int  # perpetrator clusters and companies in the network
    cases: tuple[str, ...]
    organisations: tuple[str, ...]
    countries: tuple[str, ...]  # of the organisations that recorded its cases
    evidence: Mapping[str, int]  # evidence kind -> shared entities of that kind

    @property
    def size(self) -> int:
        return len(self.victims)

    @property
    def cross_border(self) -> bool:
        return len(self.countries) > 1


@dataclass
class LinkageNetwork:
    """The typed graph and what was derived from it; built by ``load_network``."""

    graph: nx.MultiDiGraph
    routes: dict[str, VictimRoute]  # by victim cluster id
    route_counts: list[RouteCount]  # largest first
    networks: list[EvidenceNetwork]  # with two or more victims, largest first
    shared_evidence: Counter[str]  # evidence kind -> entities shared by 2+ clusters
    perpetrator_clusters: int
    companies: int
    victim_records: int
    # Opaque node id -> the value it stands for; read only by include_identity exports.
    _identity: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def cross_border_clusters(self) -> int:
        return sum(route.cross_border for route in self.routes.values())


# --- reading the store --------------------------------------------------------------------

_Entity = tuple[str, str]  # (kind, normalised value), before it gets an opaque id
_Node = str | _Entity
# hold(entity, holder node, how it is held, the value an identity export shows)
_Hold = Callable[[_Entity, _Node, str, str], None]


@dataclass
class _StopAcc:
    started_on: dt.date | None = None
    organisations: set[str] = field(default_factory=set)
    countries: set[str] = field(default_factory=set)


@dataclass
class _ClusterAcc:
    records: set[str] = field(default_factory=set)
    cases: set[str] = field(default_factory=set)
    organisations: set[str] = field(default_factory=set)
    countries: set[str] = field(default_factory=set)
    perpetrator: bool = False  # has a record in a perpetrator's role
    roles: set[str] = field(default_factory=set)  # perpetrator roles
    stops: dict[tuple[str, str], _StopAcc] = field(default_factory=dict)
    identified_in: set[str] = field(default_factory=set)


@dataclass
class _EdgeAcc:
    cases: set[str] = field(default_factory=set)


@dataclass
class _Participant:
    case: str
    organisation: str
    organisation_country: str | None
    node: str


def _earliest(first: dt.date | None, second: dt.date | None) -> dt.date | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)


def load_network(
    engine: Engine,
    clusters: Mapping[str, str],
    *,
    salt: str | bytes | None = None,
) -> LinkageNetwork:
    """Routes, shared evidence and networks of the store, under ``clusters``.

    ``clusters`` maps person keys (``person_key``) to cluster ids; records it does not
    name are their own cluster. Only victims (Victim, PresumedVictim) and perpetrators
    (Perpetrator, Employer) take part. The tables are read whole and held in memory
    while the graph is built.
    """
    with engine.connect() as connection:
        return _build(connection, clusters, salt)


def _build(
    connection: Connection, clusters: Mapping[str, str], salt: str | bytes | None
) -> LinkageNetwork:
    orgs = table_of(m.Organisation)
    organisations = {
        row.id: (row.slug, row.country)
        for row in connection.execute(select(orgs.c.id, orgs.c.slug, orgs.c.country))
    }
    case_table = table_of(m.Case)
    cases = {
        row.id: (row.organisation_id, row.external_id)
        for row in connection.execute(
            select(case_table.c.id, case_table.c.organisation_id, case_table.c.external_id)
        )
    }
    people = table_of(m.Person)
    persons = {
        row.id: (row.organisation_id, row.external_id)
        for row in connection.execute(
            select(people.c.id, people.c.organisation_id, people.c.external_id)
        )
    }
    part = table_of(m.CaseParticipant)
    rows = connection.execute(
        select(part.c.id, part.c.case_id, part.c.person_id, part.c.role)
        .where(part.c.role.in_(sorted(VICTIM_ROLES | PERPETRATOR_ROLES)))
        .order_by(part.c.case_id, part.c.position)
    ).all()
    context_table = table_of(m.PerpetratorContext)
    contexts = {
        row.participant_id: row
        for row in connection.execute(
            select(
                context_table.c.participant_id,
                context_table.c.kind,
                context_table.c.roles,
                context_table.c.company_name,
            )
        )
    }

    def cluster_of(person_id: uuid.UUID) -> tuple[str, str]:
        org_id, external_id = persons[person_id]
        key = person_key(organisations[org_id][0], external_id)
        return key, clusters.get(key, key)

    victim_clusters = {cluster_of(row.person_id)[1] for row in rows if row.role in VICTIM_ROLES}

    accs: dict[str, _ClusterAcc] = defaultdict(_ClusterAcc)
    kind_of: dict[str, str] = {}
    company_accs: dict[_Entity, _ClusterAcc] = defaultdict(_ClusterAcc)
    edges: dict[tuple[_Node, _Node, str], _EdgeAcc] = defaultdict(_EdgeAcc)
    victims_in_case: dict[uuid.UUID, list[_Participant]] = defaultdict(list)
    perpetrators_in_case: dict[uuid.UUID, list[tuple[_Node, bool]]] = defaultdict(list)
    node_of_person: dict[uuid.UUID, _Node] = {}
    victim_participants: dict[uuid.UUID, _Participant] = {}

    def record(acc: _ClusterAcc, key: str, case: str, slug: str, country: str | None) -> None:
        acc.records.add(key)
        acc.cases.add(case)
        acc.organisations.add(slug)
        if country:
            acc.countries.add(country)

    for row in rows:
        org_id, case_external_id = cases[row.case_id]
        slug, org_country = organisations[org_id]
        case = person_key(slug, case_external_id)
        key, cluster = cluster_of(row.person_id)
        context = contexts.get(row.id) if row.role not in VICTIM_ROLES else None
        roles = set(context.roles or []) if context is not None else set()
        company = normalise_text(context.company_name) if context is not None else None
        if context is not None and context.kind == "Company" and company is not None:
            # A company is known by its name, whatever person record carries it.
            entity: _Entity = ("company", company)
            record(company_accs[entity], key, case, slug, org_country)
            company_accs[entity].roles |= roles
            node_of_person[row.person_id] = entity
            perpetrators_in_case[row.case_id].append((entity, RECRUITER_ROLE in roles))
            continue
        # A cluster holding victim records stays a victim node even where it also appears
        # as a perpetrator: it is one real person either way.
        is_victim = cluster in victim_clusters
        node = f"victim:{cluster}" if is_victim else f"perpetrator:{cluster}"
        kind_of[node] = "victim" if is_victim else "perpetrator"
        node_of_person[row.person_id] = node
        acc = accs[node]
        record(acc, key, case, slug, org_country)
        if row.role in VICTIM_ROLES:
            participant = _Participant(case, slug, org_country, node)
            victims_in_case[row.case_id].append(participant)
            victim_participants[row.id] = participant
            continue
        acc.perpetrator = True
        acc.roles |= roles
        if company is not None:
            edges[(node, ("company", company), "acts_for")].cases.add(case)
            company_accs[("company", company)].cases.add(case)
        perpetrators_in_case[row.case_id].append((node, RECRUITER_ROLE in roles))

    for case_id, victims in victims_in_case.items():
        for victim in victims:
            for target, recruiter in perpetrators_in_case.get(case_id, []):
                if target == victim.node:
                    continue
                edges[(victim.node, target, "victim_of")].cases.add(victim.case)
                if recruiter:
                    edges[(victim.node, target, "recruited_by")].cases.add(victim.case)

    holders: dict[_Entity, dict[_Node, set[str]]] = defaultdict(lambda: defaultdict(set))
    shown_value: dict[_Entity, str] = {}

    def hold(entity: _Entity, node: _Node, via: str, shown: str) -> None:
        holders[entity][node].add(via)
        # The smallest form seen is shown, so exports do not depend on reading order.
        shown_value[entity] = min(shown, shown_value.get(entity, shown))

    _read_events(connection, victims_in_case, victim_participants, accs, hold)
    _read_identity(connection, node_of_person, hold)

    graph = nx.MultiDiGraph()
    routes: dict[str, VictimRoute] = {}
    for node, acc in sorted(accs.items()):
        cluster = node.split(":", 1)[1]
        attributes: dict[str, Any] = {
            "kind": kind_of[node],
            "cluster": cluster,
            "records": len(acc.records),
            "cases": len(acc.cases),
            "organisations": ";".join(sorted(acc.organisations)),
            "organisation_countries": ";".join(sorted(acc.countries)),
        }
        if kind_of[node] == "victim":
            route = _route(cluster, acc)
            routes[cluster] = route
            attributes |= {
                "origin": route.origin or "",
                "transits": ";".join(route.transits),
                "destination": route.destination or "",
                "cross_border": route.cross_border,
                "also_perpetrator": acc.perpetrator,
            }
        else:
            attributes["roles"] = ";".join(sorted(acc.roles))
        graph.add_node(node, **attributes)

    # Opaque ids: numbered in a fixed order, or salted HMACs that stay stable across runs.
    key_bytes = salt.encode() if isinstance(salt, str) else salt
    identity: dict[str, str] = {}
    entity_id: dict[_Entity, str] = {}
    counters: Counter[str] = Counter()

    def opaque(entity: _Entity) -> str:
        kind, value = entity
        if key_bytes is not None:
            digest = hmac.new(key_bytes, f"{kind}:{value}".encode(), hashlib.sha256)
            return f"{kind}:{digest.hexdigest()[:16]}"
        counters[kind] += 1
        return f"{kind}:{counters[kind]}"

    def first_holder(entity: _Entity) -> tuple[str, str]:
        return min(str(node) for node in holders[entity]), entity[1]

    # Companies are numbered by the first person node linked to them, not by name.
    company_first: dict[_Entity, str] = {}
    for source, target, _ in edges:
        if isinstance(target, tuple) and isinstance(source, str):
            company_first[target] = min(source, company_first.get(target, source))

    def first_link(entity: _Entity) -> tuple[str, str]:
        return company_first.get(entity, ""), entity[1]

    for entity, acc in sorted(company_accs.items(), key=lambda item: first_link(item[0])):
        entity_id[entity] = opaque(entity)
        identity[entity_id[entity]] = entity[1]
        graph.add_node(
            entity_id[entity],
            kind="company",
            records=len(acc.records),
            cases=len(acc.cases),
            organisations=";".join(sorted(acc.organisations)),
            organisation_countries=";".join(sorted(acc.countries)),
            roles=";".join(sorted(acc.roles)),
        )
    edge_kind = {"phone": "uses_phone", "address": "at_address", "identifier": "holds_identifier"}
    evidence_of: dict[str, str] = {}
    for entity in sorted(holders, key=first_holder):
        nodes = holders[entity]
        if len(nodes) < 2:
            continue
        node_id = opaque(entity)
        entity_id[entity] = node_id
        identity[node_id] = shown_value[entity]
        graph.add_node(node_id, kind=entity[0], holders=len(nodes))
        evidence_of[node_id] = entity[0]
        for holder, via in sorted(nodes.items(), key=lambda item: str(item[0])):
            graph.add_edge(
                holder if isinstance(holder, str) else entity_id[holder],
                node_id,
                key=edge_kind[entity[0]],
                kind=edge_kind[entity[0]],
                via=";".join(sorted(via)),
            )

    for (source, target, kind), edge in sorted(edges.items(), key=lambda item: str(item[0])):
        u = source if isinstance(source, str) else entity_id[source]
        v = target if isinstance(target, str) else entity_id[target]
        graph.add_edge(u, v, key=kind, kind=kind, cases=len(edge.cases))

    evidence_of |= _shared_actors(graph)
    route_counts = _add_countries(graph, routes)
    networks = _networks(graph, evidence_of, routes)
    return LinkageNetwork(
        graph=graph,
        routes=routes,
        route_counts=route_counts,
        networks=networks,
        shared_evidence=Counter(evidence_of.values()),
        perpetrator_clusters=sum(1 for kind in kind_of.values() if kind == "perpetrator"),
        companies=len(company_accs),
        victim_records=sum(len(accs[n].records) for n in accs if kind_of[n] == "victim"),
        _identity=identity,
    )


def _read_events(
    connection: Connection,
    victims_in_case: Mapping[uuid.UUID, list[_Participant]],
    victim_participants: Mapping[uuid.UUID, _Participant],
    accs: Mapping[str, _ClusterAcc],
    hold: _Hold,
) -> None:
    events = table_of(m.TraffickingEvent)
    query = select(
        events.c.case_id,
        events.c.participant_id,
        events.c.type,
        events.c.country,
        events.c.started_on,
        events.c.ended_on,
        events.c.street,
        events.c.city,
        events.c.postal_code,
    )
    for event in connection.execute(query):
        if event.participant_id is not None:
            victim = victim_participants.get(event.participant_id)
            owners = [victim] if victim is not None else []
        else:
            # An event of the case, not of one person: it happened to all its victims.
            owners = list(victims_in_case.get(event.case_id, []))
        for owner in owners:
            acc = accs[owner.node]
            address = address_key(event.street, event.city, event.postal_code)
            if address is not None:
                hold(("address", address), owner.node, event.type.lower(), address)
            if event.country is None:
                continue
            if event.type == "Identification":
                acc.identified_in.add(event.country)
                continue
            if event.type not in ROUTE_EVENTS:
                continue
            stop = acc.stops.setdefault((event.type, event.country), _StopAcc())
            stop.started_on = _earliest(stop.started_on, event.started_on or event.ended_on)
            stop.organisations.add(owner.organisation)
            if owner.organisation_country:
                stop.countries.add(owner.organisation_country)


def _read_identity(
    connection: Connection, node_of_person: Mapping[uuid.UUID, _Node], hold: _Hold
) -> None:
    # Only contact columns are selected: names never leave the database here.
    identity = table_of(m.PersonIdentity)
    query = select(
        identity.c.person_id,
        identity.c.home_phone,
        identity.c.mobile_phone,
        identity.c.mailing_street,
        identity.c.mailing_city,
        identity.c.mailing_postal_code,
    )
    for row in connection.execute(query):
        node = node_of_person.get(row.person_id)
        if node is None:
            continue
        for via, phone in (("home", row.home_phone), ("mobile", row.mobile_phone)):
            digits = normalise_phone(phone)
            if digits is not None:
                hold(("phone", digits), node, via, digits)
        address = address_key(row.mailing_street, row.mailing_city, row.mailing_postal_code)
        if address is not None:
            hold(("address", address), node, "mailing", address)
    identifiers = table_of(m.PersonIdentifier)
    documents = select(identifiers.c.person_id, identifiers.c.kind, identifiers.c.value)
    for document in connection.execute(documents):
        node = node_of_person.get(document.person_id)
        key = identifier_key(document.kind, document.value)
        if node is not None and key is not None:
            hold(("identifier", key), node, document.kind, key)


def _ordered_stops(stops: Mapping[tuple[str, str], _StopAcc]) -> list[RouteStop]:
    """Stops by date; an undated one goes where its kind puts it on a route."""
    merged = [
        RouteStop(
            kind,
            country,
            acc.started_on,
            tuple(sorted(acc.organisations)),
            tuple(sorted(acc.countries)),
        )
        for (kind, country), acc in stops.items()
    ]
    dated = sorted(
        (s for s in merged if s.started_on is not None),
        key=lambda s: (s.started_on, ROUTE_EVENTS[s.kind], s.country),
    )

    def undated(kind: str) -> list[RouteStop]:
        return sorted(
            (s for s in merged if s.started_on is None and s.kind == kind),
            key=lambda s: s.country,
        )

    ordered = undated("Recruitment") + dated
    first_exploitation = next(
        (i for i, s in enumerate(ordered) if s.kind == "Exploitation"), len(ordered)
    )
    ordered[first_exploitation:first_exploitation] = undated("Transit")
    return ordered + undated("Exploitation")


def _route(cluster: str, acc: _ClusterAcc) -> VictimRoute:
    stops = _ordered_stops(acc.stops)
    origin_at = next((i for i, s in enumerate(stops) if s.kind == "Recruitment"), None)
    destination_at = next(
        (i for i in range(len(stops) - 1, -1, -1) if stops[i].kind == "Exploitation"), None
    )
    # Steps dated before the recruitment or after the last exploitation are kept as stops
    # but are not part of the journey between the two.
    start = origin_at + 1 if origin_at is not None else 0
    end = destination_at if destination_at is not None else len(stops)
    if start <= end:
        middle = [s.country for s in stops[start:end]]
    else:
        # Exploitation dated before recruitment: the records disagree, so only the
        # transit steps are trusted between the two ends.
        middle = [s.country for s in stops if s.kind == "Transit"]
    origin = stops[origin_at].country if origin_at is not None else None
    destination = stops[destination_at].country if destination_at is not None else None
    transits: list[str] = []
    for country in middle:
        if (transits[-1] if transits else origin) != country:
            transits.append(country)
    while transits and transits[-1] == destination:
        transits.pop()
    return VictimRoute(
        cluster=cluster,
        records=tuple(sorted(acc.records)),
        cases=tuple(sorted(acc.cases)),
        organisations=tuple(sorted(acc.organisations)),
        organisation_countries=tuple(sorted(acc.countries)),
        stops=tuple(stops),
        identified_in=tuple(sorted(acc.identified_in)),
        origin=origin,
        transits=tuple(transits),
        destination=destination,
    )


def _add_countries(graph: nx.MultiDiGraph, routes: Mapping[str, VictimRoute]) -> list[RouteCount]:
    counts: Counter[tuple[str, tuple[str, ...], str]] = Counter()
    roles: dict[str, Counter[str]] = defaultdict(Counter)
    legs: Counter[tuple[str, str]] = Counter()
    for cluster, route in routes.items():
        node = f"victim:{cluster}"
        if route.origin is not None:
            graph.add_edge(node, f"country:{route.origin}", key="recruited_in", kind="recruited_in")
            roles[route.origin]["origin_victims"] += 1
        for country in dict.fromkeys(route.transits):
            graph.add_edge(node, f"country:{country}", key="transited", kind="transited")
            roles[country]["transit_victims"] += 1
        if route.destination is not None:
            graph.add_edge(
                node, f"country:{route.destination}", key="exploited_in", kind="exploited_in"
            )
            roles[route.destination]["destination_victims"] += 1
        path = route.countries
        for a, b in pairwise(path):
            if a != b:
                legs[(a, b)] += 1
        if route.origin is not None and route.destination is not None:
            counts[(route.origin, route.transits, route.destination)] += 1
    for country in sorted(roles):
        graph.add_node(
            f"country:{country}",
            kind="country",
            code=country,
            origin_victims=roles[country]["origin_victims"],
            transit_victims=roles[country]["transit_victims"],
            destination_victims=roles[country]["destination_victims"],
        )
    for (a, b), victims in sorted(legs.items()):
        graph.add_edge(f"country:{a}", f"country:{b}", key="route", kind="route", victims=victims)
    return [
        RouteCount(origin, transits, destination, victims)
        for (origin, transits, destination), victims in sorted(
            counts.items(), key=lambda item: (-item[1], item[0])
        )
    ]


def _shared_actors(graph: nx.MultiDiGraph) -> dict[str, str]:
    """Perpetrators and companies that connect two or more victims, by evidence kind."""
    found: dict[str, str] = {}
    for node, data in graph.nodes(data=True):
        victims: set[str] = set()
        recruited: set[str] = set()
        for source, _, kind in graph.in_edges(node, keys=True):
            if kind == "victim_of":
                victims.add(source)
            elif kind == "recruited_by":
                recruited.add(source)
        # A victim who is also someone else's perpetrator connects two victims by herself.
        needed = 1 if data["kind"] == "victim" else 2
        if len(victims) < needed:
            continue
        if data["kind"] == "company":
            found[node] = "company"
        elif len(recruited) >= needed:
            found[node] = "recruiter"
        else:
            found[node] = "perpetrator"
    return found


def _networks(
    graph: nx.MultiDiGraph, evidence_of: Mapping[str, str], routes: Mapping[str, VictimRoute]
) -> list[EvidenceNetwork]:
    # Countries would join every victim who passed through one: they are not evidence.
    people = graph.subgraph(n for n, d in graph.nodes(data=True) if d["kind"] != "country")
    found: list[tuple[list[str], set[str]]] = []
    for component in nx.connected_components(people.to_undirected(as_view=True)):
        victims = sorted(n for n in component if graph.nodes[n]["kind"] == "victim")
        if len(victims) >= 2:
            found.append((victims, component))
    networks: list[EvidenceNetwork] = []
    ordered = sorted(found, key=lambda item: (-len(item[0]), item[0]))
    for number, (victims, component) in enumerate(ordered, start=1):
        clusters = [graph.nodes[v]["cluster"] for v in victims]
        evidence = Counter(evidence_of[n] for n in component if n in evidence_of)
        organisations: set[str] = set()
        countries: set[str] = set()
        for node in component:
            data = graph.nodes[node]
            organisations.update(o for o in data.get("organisations", "").split(";") if o)
            countries.update(c for c in data.get("organisation_countries", "").split(";") if c)
        network_id = f"network:{number}"
        for node in component:
            graph.nodes[node]["network"] = network_id
        networks.append(
            EvidenceNetwork(
                id=network_id,
                victims=tuple(clusters),
                perpetrators=sum(
                    graph.nodes[n]["kind"] in ("perpetrator", "company") for n in component
                ),
                cases=tuple(sorted({c for cluster in clusters for c in routes[cluster].cases})),
                organisations=tuple(sorted(organisations)),
                countries=tuple(sorted(countries)),
                evidence={k: evidence[k] for k in EVIDENCE_KINDS if evidence[k]},
            )
        )
    return networks


# --- exports ------------------------------------------------------------------------------


def _export_graph(network: LinkageNetwork, include_identity: bool) -> nx.MultiDiGraph:
    graph = network.graph.copy()
    if include_identity:
        for node, value in network._identity.items():
            if node in graph:
                graph.nodes[node]["value"] = value
    return graph


def write_graphml(
    network: LinkageNetwork, path: Path | str, *, include_identity: bool = False
) -> None:
    """The graph as GraphML (0600, staged). Without ``include_identity`` it holds no identity
    values: phones, addresses, documents and companies are opaque ids (see the module notes)."""
    with staged_file(Path(path)) as staged:
        nx.write_graphml(_export_graph(network, include_identity), str(staged))


def write_nodes_edges_csv(
    network: LinkageNetwork,
    nodes_path: Path | str,
    edges_path: Path | str,
    *,
    include_identity: bool = False,
) -> None:
    """The graph as two CSV files (UTF-8): nodes (``id``, ``kind``, attributes) and
    edges (``source``, ``target``, ``kind``, attributes). Formula-like cells are neutralised
    as in the spreadsheet exports; identity values only with ``include_identity``."""
    graph = _export_graph(network, include_identity)
    node_columns = sorted({k for _, data in graph.nodes(data=True) for k in data} - {"kind"})
    # Both files are staged (0600) and move into place together, once both are complete.
    with (
        staged_file(Path(nodes_path)) as staged_nodes,
        staged_file(Path(edges_path)) as staged_edges,
    ):
        _write_nodes(graph, node_columns, staged_nodes)
        _write_edges(graph, staged_edges)


def _write_nodes(graph: nx.MultiDiGraph, node_columns: list[str], path: Path) -> None:
    with open_private(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "kind", *node_columns])
        for node, data in sorted(graph.nodes(data=True)):
            writer.writerow(
                [_cell(node), _cell(data.get("kind"))]
                + [_cell(data.get(column)) for column in node_columns]
            )


def _write_edges(graph: nx.MultiDiGraph, path: Path) -> None:
    edge_columns = sorted({k for _, _, data in graph.edges(data=True) for k in data} - {"kind"})
    with open_private(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "target", "kind", *edge_columns])
        for source, target, data in sorted(
            graph.edges(data=True), key=lambda e: (e[0], e[1], e[2]["kind"])
        ):
            writer.writerow(
                [_cell(source), _cell(target), _cell(data["kind"])]
                + [_cell(data.get(column)) for column in edge_columns]
            )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return neutralise(str(value))


# --- summaries ----------------------------------------------------------------------------


def network_summary(network: LinkageNetwork, *, top: int = 10) -> dict[str, Any]:
    """Counts for a report: clusters, cross-border clusters, top routes, networks, evidence.

    Everything in it is a count, a country code or a generated id: no identity."""
    routes = network.routes.values()
    sizes = Counter(n.size for n in network.networks)
    return {
        "victim_clusters": len(network.routes),
        "victim_records": network.victim_records,
        "perpetrator_clusters": network.perpetrator_clusters,
        "companies": network.companies,
        "cross_border_clusters": network.cross_border_clusters,
        "clusters_recorded_in_several_countries": sum(
            len(r.organisation_countries) > 1 for r in routes
        ),
        "clusters_with_route": sum(
            r.origin is not None and r.destination is not None for r in routes
        ),
        "routes": len(network.route_counts),
        "top_routes": [
            {
                "origin": r.origin,
                "transits": list(r.transits),
                "destination": r.destination,
                "victims": r.victims,
                "cross_border": r.cross_border,
            }
            for r in network.route_counts[:top]
        ],
        "networks": len(network.networks),
        "victims_in_networks": sum(n.size for n in network.networks),
        "largest_network": max((n.size for n in network.networks), default=0),
        "network_sizes": {str(size): sizes[size] for size in sorted(sizes)},
        "cross_border_networks": sum(n.cross_border for n in network.networks),
        "shared_evidence": {
            kind: network.shared_evidence[kind]
            for kind in EVIDENCE_KINDS
            if network.shared_evidence[kind]
        },
    }


def _table(headers: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def network_html_section(
    network: LinkageNetwork, *, top_routes: int = 15, top_networks: int = 20
) -> str:
    """An HTML fragment (a ``<section>``): the route map and tables of routes, networks and
    shared evidence. It holds counts, country codes, organisation slugs and cluster ids;
    no names or contact details."""
    summary = network_summary(network, top=top_routes)
    parts = [
        '<section class="tiphub-network">',
        "<h2>Routes and networks</h2>",
        "<p>"
        + escape(
            f"{summary['victim_clusters']} victims (after linkage, from "
            f"{summary['victim_records']} records); {summary['cross_border_clusters']} "
            f"cross-border; {summary['clusters_with_route']} with a known origin and "
            f"destination. {summary['networks']} networks join "
            f"{summary['victims_in_networks']} victims through shared perpetrators, "
            "phones, addresses or documents."
        )
        + "</p>",
        "<figure>",
        route_map_svg(network.route_counts),
        "<figcaption>"
        + escape(
            "Routes from origin (recruitment) through transit to destination "
            "(exploitation); arrow width by number of victims."
        )
        + "</figcaption>",
        "</figure>",
        "<h3>Top routes</h3>",
    ]
    if network.route_counts:
        parts.append(
            _table(
                ["Origin", "Transit", "Destination", "Victims", "Cross-border"],
                (
                    [
                        r.origin,
                        " → ".join(r.transits) or "—",
                        r.destination,
                        r.victims,
                        "yes" if r.cross_border else "no",
                    ]
                    for r in network.route_counts[:top_routes]
                ),
            )
        )
    else:
        parts.append("<p>No route with a known origin and destination.</p>")
    parts.append("<h3>Networks of victims linked by shared evidence</h3>")
    if network.networks:
        parts.append(
            _table(
                [
                    "Network",
                    "Victims",
                    "Perpetrators",
                    "Cases",
                    "Organisations",
                    "Countries",
                    "Evidence",
                ],
                (
                    [
                        n.id,
                        n.size,
                        n.perpetrators,
                        len(n.cases),
                        ", ".join(n.organisations),
                        ", ".join(n.countries),
                        ", ".join(f"{kind} {count}" for kind, count in n.evidence.items()),
                    ]
                    for n in network.networks[:top_networks]
                ),
            )
        )
        if len(network.networks) > top_networks:
            parts.append(
                f"<p>{escape(f'and {len(network.networks) - top_networks} smaller networks')}</p>"
            )
    else:
        parts.append("<p>No two victims share a perpetrator, phone, address or document.</p>")
    parts.append("<h3>Shared evidence</h3>")
    parts.append(
        _table(
            ["Kind", "Shared by two or more clusters"],
            ([kind, network.shared_evidence[kind]] for kind in EVIDENCE_KINDS),
        )
    )
    parts.append("</section>")
    return "".join(parts)
