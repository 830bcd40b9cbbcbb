"""The online ads in the case store: ingest, screening results, review, hand-over, weekly
statistics and evidence, each under the acting user's scope and in the audit log.

A principal reaches its own organisation's ads only (the local operator reaches every
organisation's, and names the ``organisation`` an ingest is for). What is stored:

* the ad's title and text with every contact masked, sealed; location and salary (masked
  too) in clear; the contacts only as keyed hashes (``online_contact``);
* the original bytes, sealed, with their SHA-256, source, row and time seen
  (``online_evidence``), and a chain of custody (``online_custody_event``): captured,
  flagged, reviewed, handed over, exported. An ad handed over without original bytes (built
  in Python rather than read from a file) is captured as the canonical JSON of its fields,
  and the custody record says so.

An ingest is all or nothing. The same ``ad_id`` with the same SHA-256 is a no-op; with other
content the ad first stored is kept and the newcomer is reported (by file and row, never by
value). Audit entries carry counts, codes and ids, never an ad's words or contacts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Text,
    bindparam,
    delete,
    insert,
    select,
    type_coerce,
    update,
)

from tiphub.cases import audit
from tiphub.cases.access import NotFoundError, PermissionDeniedError, Principal
from tiphub.cases.helpline import iso_week
from tiphub.cases.tasks import open_task
from tiphub.online.ads import (
    INPUT_KINDS,
    CustodyEvent,
    EvidenceItem,
    IndicatorHit,
    Problem,
    RawAd,
)
from tiphub.online.contacts import contact_hash, contacts_and_masked_fields, mask_contacts
from tiphub.store import crypto
from tiphub.store import models as m
from tiphub.store.bulk import BulkInserter
from tiphub.store.db import reading, refresh_statistics
from tiphub.store.models import new_id, table_of, utcnow

if TYPE_CHECKING:
    from tiphub.online.register import Register

REVIEW_DECISIONS = ("confirmed", "dismissed", "unsure")
REVIEW_STATUSES = ("new", *REVIEW_DECISIONS)
HANDOVER_KINDS = ("screening", "police", "labour_inspectorate", "takedown")
HANDOVER_DESTINATIONS = {"police": "the police", "labour_inspectorate": "the labour inspectorate"}
STATISTIC_DIMENSIONS = ("indicator", "sector", "destination")
AD_ID_LENGTH = 200
CLUSTER_ID_LENGTH = 40
# Clear text columns (location, salary, source) hold at most this many characters; the
# original bytes keep the rest.
CLEAR_TEXT_LENGTH = 1000
MEDIA_TYPE_LENGTH = 100
NOTE_LENGTH = 4_000
# Ad ids per lookup statement (well under every backend's bound-parameter limit).
LOOKUP_CHUNK = 500
FIELDS_MEDIA_TYPE = "application/json"


class IngestError(ValueError):
    """Ads that cannot be stored; nothing of the batch was. ``problems`` name file, row
    and field, never a value."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        shown = "; ".join(str(problem) for problem in self.problems[:5])
        more = len(self.problems) - 5
        super().__init__(shown + (f"; and {more} more" if more > 0 else ""))


@dataclass(frozen=True)
class StoredAd:
    """What a reader in scope sees of one stored ad (never a contact in clear)."""

    row_id: uuid.UUID
    organisation: str
    ad_id: str
    title: str | None
    text: str  # contacts masked
    location: str | None
    salary: str | None
    seen_at: dt.datetime | None
    source: str
    kind: str
    sha256: str
    contact_hashes: tuple[tuple[str, str], ...]  # (kind, keyed hash)
    score: float | None
    flagged: bool
    indicators: tuple[IndicatorHit, ...]
    cluster_id: str | None
    sector: str | None
    destination_country: str | None
    review_status: str  # new | confirmed | dismissed | unsure
    reviewed_by: str | None
    ingested_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "row_id": str(self.row_id),
            "organisation": self.organisation,
            "ad_id": self.ad_id,
            "title": self.title,
            "text": self.text,
            "location": self.location,
            "salary": self.salary,
            "seen_at": None if self.seen_at is None else self.seen_at.isoformat(),
            "source": self.source,
            "kind": self.kind,
            "sha256": self.sha256,
            "contacts": [{"kind": kind, "hash": digest} for kind, digest in self.contact_hashes],
            "score": self.score,
            "flagged": self.flagged,
            "indicators": [hit.to_dict() for hit in self.indicators],
            "cluster_id": self.cluster_id,
            "sector": self.sector,
            "destination_country": self.destination_country,
            "review_status": self.review_status,
            "reviewed_by": self.reviewed_by,
            "ingested_at": self.ingested_at.isoformat(),
        }


@dataclass(frozen=True)
class AdResult:
    """What screening decided for one stored ad."""

    row_id: uuid.UUID
    score: float | None
    flagged: bool
    indicators: tuple[IndicatorHit, ...]
    cluster_id: str | None
    sector: str | None
    destination_country: str | None


@dataclass(frozen=True)
class StoredCluster:
    id: str
    organisation: str
    template: str
    ad_ids: tuple[str, ...]
    contacts: tuple[str, ...]  # keyed hashes

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organisation": self.organisation,
            "template": self.template,
            "ad_ids": list(self.ad_ids),
            "contacts": list(self.contacts),
        }


@dataclass(frozen=True)
class IngestOutcome:
    stored: int
    unchanged: int
    # The same ad_id with other content: the ad first stored is kept (a warning).
    changed: list[Problem]


@dataclass(frozen=True)
class Handover:
    id: uuid.UUID
    kind: str
    row_id: uuid.UUID | None
    cluster_id: str | None
    task_id: uuid.UUID | None
    text: str | None
    created_by: str
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "kind": self.kind,
            "row_id": None if self.row_id is None else str(self.row_id),
            "cluster_id": self.cluster_id,
            "task_id": None if self.task_id is None else str(self.task_id),
            "text": self.text,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


# -- helpers ---------------------------------------------------------------------------------


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives back naive datetimes: the same ad must read the same on both backends.
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _clip(value: str | None, length: int) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text[:length] if text else None


def _chunks(values: Sequence[Any], size: int = LOOKUP_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _organisation(
    connection: Connection, principal: Principal, organisation: str | None
) -> tuple[uuid.UUID, str, str | None]:
    """(id, slug, country) of the organisation a write is for: the principal's own, or the
    one the local operator names."""
    org = table_of(m.Organisation)
    if not principal.operator:
        if organisation is not None and organisation != principal.organisation:
            raise PermissionDeniedError("you can only work on your own organisation's ads")
        if principal.organisation_id is None or principal.organisation is None:
            raise PermissionDeniedError("ads are stored for an organisation")
        country = connection.execute(
            select(org.c.country).where(org.c.id == principal.organisation_id)
        ).scalar()
        return principal.organisation_id, principal.organisation, country
    if not organisation:
        raise ValueError("organisation: name the organisation the ads are stored for")
    found = connection.execute(
        select(org.c.id, org.c.country).where(org.c.slug == organisation)
    ).first()
    if found is None:
        raise NotFoundError(f"no organisation {organisation}")
    return found.id, organisation, found.country


def _in_scope(query: Select[Any], principal: Principal, column: Any) -> Select[Any]:
    """Only the principal's organisation's rows (every one for the local operator)."""
    if principal.operator:
        return query
    return query.where(column == principal.organisation_id)


def _indicator_hits(stored: Any) -> tuple[IndicatorHit, ...]:
    return tuple(
        IndicatorHit(str(item["id"]), tuple(str(word) for word in item.get("evidence") or ()))
        for item in stored or ()
    )


def _fields_as_bytes(ad: RawAd) -> bytes:
    """An ad's fields as canonical JSON: what is captured when no original bytes came."""
    fields = {
        "ad_id": ad.ad_id,
        "title": ad.title,
        "text": ad.text,
        "location": ad.location,
        "salary": ad.salary,
        "contact": ad.contact,
        "url": ad.url,
        "seen_at": None if ad.seen_at is None else ad.seen_at.isoformat(),
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _problems(ads: Sequence[RawAd]) -> list[Problem]:
    problems: list[Problem] = []
    for ad in ads:
        if not ad.ad_id or not ad.ad_id.strip():
            problems.append(Problem(ad.source, ad.row, "ad_id", "no ad_id"))
        elif len(ad.ad_id) > AD_ID_LENGTH:
            problems.append(
                Problem(ad.source, ad.row, "ad_id", f"longer than {AD_ID_LENGTH} characters")
            )
        if not (ad.text or "").strip() and not (ad.title or "").strip():
            problems.append(Problem(ad.source, ad.row, "text", "the ad is empty"))
        if ad.kind not in INPUT_KINDS:
            problems.append(
                Problem(ad.source, ad.row, None, f"unknown kind; one of {', '.join(INPUT_KINDS)}")
            )
    return problems


class _Unsealer:
    """Opens values of sealed columns read raw (``_raw_columns``) with one keyring for a
    whole result: the column type looks the keyring up again for every value, which is most
    of the time of reading 100,000 ads."""

    def __init__(self) -> None:
        self.ring = crypto.keyring()

    def __call__(self, column: Any, token: str | None) -> Any:
        if token is None:
            return None
        sealed = column.type
        assert isinstance(sealed, crypto.Sealed)
        try:
            plain = self.ring.open(str(token), sealed.context)
        except crypto.KeyMismatchError:
            # Another process may have rotated the keys since this one read the key file.
            crypto.forget_cached_keys()
            self.ring = crypto.keyring()
            plain = self.ring.open(str(token), sealed.context)
        return crypto.decode_plain(sealed.kind, plain)


def _raw_columns(table: Any, *names: str) -> list[Any]:
    """The table's columns (or the ``names`` ones), sealed ones as their stored text."""
    columns = [table.c[name] for name in names] if names else list(table.c)
    return [
        type_coerce(column, Text).label(column.name)
        if isinstance(column.type, crypto.Sealed)
        else column
        for column in columns
    ]


def _custody_rows(
    evidence_ids: Iterable[uuid.UUID], actor: str, action: str, detail: str
) -> list[dict[str, Any]]:
    at = utcnow()
    return [
        {
            "id": new_id(),
            "evidence_id": e,
            "at": at,
            "actor": actor,
            "action": action,
            "detail": detail[:CLEAR_TEXT_LENGTH],
        }
        for e in evidence_ids
    ]


def _evidence_of(connection: Connection, row_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Ad row id → its evidence row (id, sha256), for the rows that have one."""
    evidence = table_of(m.OnlineEvidence)
    found: dict[uuid.UUID, Any] = {}
    for chunk in _chunks(list(row_ids)):
        for row in connection.execute(
            select(evidence.c.ad_row_id, evidence.c.id, evidence.c.sha256).where(
                evidence.c.ad_row_id.in_(chunk)
            )
        ):
            found[row.ad_row_id] = row
    return found


# -- ingest ----------------------------------------------------------------------------------


def ingest_ads(
    engine: Engine,
    principal: Principal,
    ads: Sequence[RawAd],
    organisation: str | None = None,
    default_region: str | None = None,
) -> IngestOutcome:
    """Store ``ads`` for the principal's organisation (``online:ingest``), all or nothing.

    ``IngestError`` lists the ads that cannot be stored (no ad_id, empty…); nothing is
    written then. Contacts are extracted from the title, text and contact field with
    ``default_region``, else the organisation's country, as the country of nationally
    written numbers."""
    principal.require("online:ingest")
    problems = _problems(ads)
    if problems:
        raise IngestError(problems)
    with reading(engine) as connection:
        organisation_id, slug, country = _organisation(connection, principal, organisation)
        stored = _fingerprints(connection, organisation_id, [item.ad_id for item in ads])
    fresh, unchanged, changed = _sort_out(ads, stored)
    # Finding contacts takes most of an ingest's time: it is done before the transaction,
    # which then holds the write lock only for the inserts.
    region = default_region or country
    prepared = [_prepare(principal, organisation_id, region, *entry) for entry in fresh]
    with engine.begin() as connection:
        # A concurrent ingest may have stored some of the same ads meanwhile.
        late = _fingerprints(connection, organisation_id, [entry.ad_id for entry in prepared])
        if late:
            kept = [entry for entry in prepared if entry.ad_id not in late]
            for entry in prepared:
                if entry.ad_id not in late:
                    continue
                if late[entry.ad_id] == entry.sha256:
                    unchanged += 1
                else:
                    changed.append(_changed_problem(entry.source, entry.row))
            prepared = kept
        inserter = BulkInserter(connection)
        inserter.insert(table_of(m.OnlineAd), [entry.ad for entry in prepared])
        inserter.insert(
            table_of(m.OnlineContact), [row for entry in prepared for row in entry.contacts]
        )
        inserter.insert(table_of(m.OnlineEvidence), [entry.evidence for entry in prepared])
        inserter.insert(table_of(m.OnlineCustodyEvent), [entry.custody for entry in prepared])
        audit.record(
            connection,
            principal,
            "online.ingest",
            "online_ad",
            None,
            organisation=slug,
            details={
                "stored": len(prepared),
                "unchanged": unchanged,
                "changed": len(changed),
                "kinds": sorted({entry.ad["kind"] for entry in prepared}),
            },
        )
    refresh_statistics(engine, len(prepared))
    return IngestOutcome(len(prepared), unchanged, changed)


def _fingerprints(
    connection: Connection, organisation_id: uuid.UUID, ad_ids: Sequence[str]
) -> dict[str, str]:
    """ad_id → SHA-256 of the organisation's stored ads among ``ad_ids``."""
    ad = table_of(m.OnlineAd)
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(ad_ids))):
        for row in connection.execute(
            select(ad.c.ad_id, ad.c.sha256).where(
                ad.c.organisation_id == organisation_id, ad.c.ad_id.in_(chunk)
            )
        ):
            found[row.ad_id] = row.sha256
    return found


def _changed_problem(source: str, row: int | None) -> Problem:
    return Problem(
        source,
        row,
        "ad_id",
        "an ad with this ad_id is already stored with other content; the one stored first is kept",
    )


def _sort_out(
    ads: Sequence[RawAd], stored: dict[str, str]
) -> tuple[list[tuple[RawAd, bytes, str]], int, list[Problem]]:
    """(new ads with their original bytes and SHA-256, how many are stored already as they
    are, the ones stored with other content)."""
    fingerprints = dict(stored)
    fresh: list[tuple[RawAd, bytes, str]] = []
    unchanged = 0
    changed: list[Problem] = []
    for item in ads:
        original = item.original or _fields_as_bytes(item)
        digest = hashlib.sha256(original).hexdigest()
        known = fingerprints.get(item.ad_id)
        if known is None:
            fingerprints[item.ad_id] = digest
            fresh.append((item, original, digest))
        elif known == digest:
            unchanged += 1
        else:
            changed.append(_changed_problem(item.source, item.row))
    return fresh, unchanged, changed


@dataclass(frozen=True)
class _PreparedAd:
    """One new ad's rows, ready to insert."""

    ad_id: str
    sha256: str
    source: str
    row: int | None
    ad: dict[str, Any]
    contacts: list[dict[str, Any]]
    evidence: dict[str, Any]
    custody: dict[str, Any]


def _prepare(
    principal: Principal,
    organisation_id: uuid.UUID,
    country: str | None,
    item: RawAd,
    original: bytes,
    digest: str,
) -> _PreparedAd:
    """An ad's row (contacts masked), its contact hashes, evidence and "captured" event."""
    now = utcnow()
    region = country.upper() if country else None
    row_id = new_id()
    evidence_id = new_id()
    source = item.source[:CLEAR_TEXT_LENGTH]
    media_type = (item.media_type if item.original else FIELDS_MEDIA_TYPE)[:MEDIA_TYPE_LENGTH]
    # One search over everything the ad says; the fields are masked only when it found a
    # contact (finding phone numbers is most of an ingest's time).
    contacts, masked = contacts_and_masked_fields(
        [item.title, item.text, item.contact, item.location, item.salary], region
    )
    title, text, _contact, location, salary = masked
    where = f"source {source}" + ("" if item.row is None else f", row {item.row}")
    how = "" if item.original else "; no original bytes given: the fields as received"
    return _PreparedAd(
        ad_id=item.ad_id,
        sha256=digest,
        source=item.source,
        row=item.row,
        ad={
            "id": row_id,
            "organisation_id": organisation_id,
            "ad_id": item.ad_id,
            "source": source,
            "row": item.row,
            "kind": item.kind,
            "media_type": media_type,
            "title": title,
            "text": text or "",
            "url": _clip(item.url, 100_000),
            "location": _clip(location, CLEAR_TEXT_LENGTH),
            "salary": _clip(salary, CLEAR_TEXT_LENGTH),
            "seen_at": item.seen_at,
            "sha256": digest,
            "flagged": False,
            "indicator_ids": [],
            "review_status": "new",
            "ingested_by": principal.username,
            "ingested_at": now,
        },
        contacts=[
            {
                "id": new_id(),
                "ad_row_id": row_id,
                "kind": contact.kind,
                "contact_hash": contact_hash(contact),
                "region": contact.region,
            }
            for contact in contacts
        ],
        evidence={
            "id": evidence_id,
            "ad_row_id": row_id,
            "original": original,
            "sha256": digest,
            "size": len(original),
            "media_type": media_type,
            "source": source,
            "row": item.row,
            "seen_at": item.seen_at,
            "captured_at": now,
            "captured_by": principal.username,
        },
        custody={
            "id": new_id(),
            "evidence_id": evidence_id,
            "at": now,
            "actor": principal.username,
            "action": "captured",
            "detail": (where + how)[:CLEAR_TEXT_LENGTH],
        },
    )


# -- reading ---------------------------------------------------------------------------------


def _ads_query(principal: Principal) -> Select[Any]:
    ad = table_of(m.OnlineAd)
    org = table_of(m.Organisation)
    query = select(*_raw_columns(ad), org.c.slug).join(org, org.c.id == ad.c.organisation_id)
    return _in_scope(query, principal, ad.c.organisation_id)


def _stored_ads(connection: Connection, query: Select[Any]) -> list[StoredAd]:
    """The ads ``query`` (an ``_ads_query``) selects, with their contact hashes."""
    ad = table_of(m.OnlineAd)
    rows = connection.execute(query).all()
    contact = table_of(m.OnlineContact)
    hashes: dict[uuid.UUID, list[tuple[str, str]]] = defaultdict(list)
    # The contacts of the same selection in one statement, however many ads it holds.
    selected = query.with_only_columns(ad.c.id)
    for found in connection.execute(
        select(contact.c.ad_row_id, contact.c.kind, contact.c.contact_hash)
        .where(contact.c.ad_row_id.in_(selected))
        .order_by(contact.c.ad_row_id, contact.c.id)
    ):
        hashes[found.ad_row_id].append((found.kind, found.contact_hash))
    unseal = _Unsealer()
    return [
        StoredAd(
            row_id=row.id,
            organisation=row.slug,
            ad_id=row.ad_id,
            title=unseal(ad.c.title, row.title),
            text=unseal(ad.c.text, row.text),
            location=row.location,
            salary=row.salary,
            seen_at=_aware(row.seen_at),
            source=row.source,
            kind=row.kind,
            sha256=row.sha256,
            contact_hashes=tuple(hashes.get(row.id, ())),
            score=row.score,
            flagged=bool(row.flagged),
            indicators=_indicator_hits(unseal(ad.c.indicators, row.indicators)),
            cluster_id=row.cluster_id,
            sector=row.sector,
            destination_country=row.destination_country,
            review_status=row.review_status,
            reviewed_by=row.reviewed_by,
            ingested_at=_aware(row.ingested_at) or row.ingested_at,
        )
        for row in rows
    ]


def stored_ads(
    engine: Engine,
    principal: Principal,
    *,
    flagged_only: bool = False,
    status: str | None = None,
    limit: int | None = None,
) -> list[StoredAd]:
    """The ads in scope (``online:read``): in the order stored, or for ``flagged_only`` the
    review queue's order (highest score first). ``status`` is a review status."""
    principal.require("online:read")
    if status is not None and status not in REVIEW_STATUSES:
        raise ValueError(f"status: one of {', '.join(REVIEW_STATUSES)}")
    ad = table_of(m.OnlineAd)
    query = _ads_query(principal)
    if flagged_only:
        query = query.where(ad.c.flagged.is_(True)).order_by(
            ad.c.score.is_(None), ad.c.score.desc(), ad.c.id
        )
    else:
        query = query.order_by(ad.c.id)
    if status is not None:
        query = query.where(ad.c.review_status == status)
    if limit is not None:
        query = query.limit(max(0, limit))
    with reading(engine) as connection:
        found = _stored_ads(connection, query)
    audit.record_now(
        engine,
        principal,
        "online.list",
        details={"returned": len(found), "flagged_only": flagged_only, "status": status},
        durable=False,
    )
    return found


def get_ad(engine: Engine, principal: Principal, row_id: uuid.UUID) -> StoredAd:
    """One ad (``online:read``); ``NotFoundError`` when it is not in scope, as when it is
    not stored at all."""
    principal.require("online:read")
    ad = table_of(m.OnlineAd)
    with reading(engine) as connection:
        found = _stored_ads(connection, _ads_query(principal).where(ad.c.id == row_id))
    if not found:
        raise NotFoundError("no such ad")
    audit.record_now(
        engine,
        principal,
        "online.read",
        resource_type="online_ad",
        resource_id=row_id,
        organisation=found[0].organisation,
        durable=False,
    )
    return found[0]


# -- screening results -----------------------------------------------------------------------


def save_results(
    engine: Engine,
    principal: Principal,
    results: Sequence[AdResult],
    clusters: Sequence[StoredCluster],
) -> None:
    """Store what screening decided (``online:ingest``) and replace the clusters of every
    organisation concerned. An ad newly flagged gets a "flagged" custody event; one without
    preserved evidence cannot be flagged (``ValueError``, nothing stored)."""
    principal.require("online:ingest")
    ad = table_of(m.OnlineAd)
    org = table_of(m.Organisation)
    cluster_table = table_of(m.OnlineCluster)
    with engine.begin() as connection:
        current: dict[uuid.UUID, Any] = {}
        row_ids = list({result.row_id for result in results})
        for chunk in _chunks(row_ids):
            query = _in_scope(
                select(ad.c.id, ad.c.organisation_id, ad.c.flagged).where(ad.c.id.in_(chunk)),
                principal,
                ad.c.organisation_id,
            )
            for row in connection.execute(query):
                current[row.id] = row
        if len(current) != len(row_ids):
            raise NotFoundError(f"{len(row_ids) - len(current)} of the ads are not in your scope")
        # The ads whose flag changes: they gain a custody event, so their evidence is needed.
        turning = [r.row_id for r in results if r.flagged != bool(current[r.row_id].flagged)]
        evidence = _evidence_of(connection, turning)
        unpreserved = [
            r.row_id
            for r in results
            if r.flagged and not current[r.row_id].flagged and r.row_id not in evidence
        ]
        if unpreserved:
            raise ValueError(
                f"{len(unpreserved)} ad(s) have no preserved evidence and cannot be flagged "
                f"(first: row {unpreserved[0]})"
            )
        slugs = {row.id: row.slug for row in connection.execute(select(org.c.id, org.c.slug))}
        by_slug = {slug: key for key, slug in slugs.items()}
        organisations = {row.organisation_id for row in current.values()}
        for cluster in clusters:
            if cluster.organisation not in by_slug:
                raise NotFoundError(f"no organisation {cluster.organisation}")
            if not principal.operator and cluster.organisation != principal.organisation:
                raise PermissionDeniedError("you can only store your own organisation's clusters")
            if not cluster.id or len(cluster.id) > CLUSTER_ID_LENGTH:
                raise ValueError(f"a cluster id has 1 to {CLUSTER_ID_LENGTH} characters")
            organisations.add(by_slug[cluster.organisation])
        if not principal.operator and principal.organisation_id is not None:
            organisations.add(principal.organisation_id)

        screened_at = utcnow()
        ring = crypto.keyring()
        sealed_indicators = ad.c.indicators.type
        assert isinstance(sealed_indicators, crypto.Sealed)
        indicators_context = sealed_indicators.context
        if results:
            connection.execute(
                update(ad)
                .where(ad.c.id == bindparam("row_id"))
                .values(
                    score=bindparam("new_score"),
                    flagged=bindparam("new_flagged"),
                    indicator_ids=bindparam("new_indicator_ids", type_=ad.c.indicator_ids.type),
                    # Sealed below with one keyring, not once per value by the column type.
                    indicators=bindparam("new_indicators", type_=Text),
                    cluster_id=bindparam("new_cluster_id"),
                    sector=bindparam("new_sector"),
                    destination_country=bindparam("new_destination_country"),
                    screened_at=bindparam("new_screened_at"),
                ),
                [
                    {
                        "row_id": result.row_id,
                        "new_score": result.score,
                        "new_flagged": result.flagged,
                        "new_indicator_ids": list(dict.fromkeys(h.id for h in result.indicators)),
                        "new_indicators": ring.seal(
                            crypto.encode_plain(
                                "json", [hit.to_dict() for hit in result.indicators]
                            ),
                            indicators_context,
                        ),
                        "new_cluster_id": result.cluster_id,
                        "new_sector": result.sector,
                        "new_destination_country": result.destination_country,
                        "new_screened_at": screened_at,
                    }
                    for result in results
                ],
            )
        custody: list[dict[str, Any]] = []
        newly_flagged = unflagged = 0
        for result in results:
            was_flagged = bool(current[result.row_id].flagged)
            if result.flagged and not was_flagged:
                newly_flagged += 1
                ids = ",".join(dict.fromkeys(hit.id for hit in result.indicators))
                score = "none" if result.score is None else f"{result.score:.3f}"
                custody.extend(
                    _custody_rows(
                        [evidence[result.row_id].id],
                        principal.username,
                        "flagged",
                        f"score {score}; indicators {ids or 'none'}",
                    )
                )
            elif was_flagged and not result.flagged:
                unflagged += 1
                found = evidence.get(result.row_id)
                if found is not None:
                    custody.extend(_custody_rows([found.id], principal.username, "unflagged", ""))
        if custody:
            connection.execute(insert(table_of(m.OnlineCustodyEvent)), custody)
        if organisations:
            connection.execute(
                delete(cluster_table).where(cluster_table.c.organisation_id.in_(organisations))
            )
        if clusters:
            connection.execute(
                insert(cluster_table),
                [
                    {
                        "id": new_id(),
                        "organisation_id": by_slug[cluster.organisation],
                        "cluster_id": cluster.id,
                        "template": cluster.template,
                        "ad_ids": list(cluster.ad_ids),
                        "contact_hashes": list(cluster.contacts),
                        "computed_at": screened_at,
                    }
                    for cluster in clusters
                ],
            )
        audit.record(
            connection,
            principal,
            "online.screen",
            "online_ad",
            None,
            organisation=principal.organisation
            if not principal.operator
            else (slugs[next(iter(organisations))] if len(organisations) == 1 else None),
            details={
                "results": len(results),
                "flagged": sum(1 for result in results if result.flagged),
                "newly_flagged": newly_flagged,
                "unflagged": unflagged,
                "clusters": len(clusters),
                "organisations": len(organisations),
            },
        )


def stored_clusters(engine: Engine, principal: Principal) -> list[StoredCluster]:
    """The clusters the last screening found in scope (``online:read``), largest first."""
    principal.require("online:read")
    cluster = table_of(m.OnlineCluster)
    org = table_of(m.Organisation)
    query = _in_scope(
        select(cluster, org.c.slug).join(org, org.c.id == cluster.c.organisation_id),
        principal,
        cluster.c.organisation_id,
    ).order_by(org.c.slug, cluster.c.cluster_id)
    with reading(engine) as connection:
        found = [
            StoredCluster(
                id=row.cluster_id,
                organisation=row.slug,
                template=row.template,
                ad_ids=tuple(row.ad_ids or ()),
                contacts=tuple(row.contact_hashes or ()),
            )
            for row in connection.execute(query)
        ]
    found.sort(key=lambda item: (-len(item.ad_ids), item.organisation, item.id))
    audit.record_now(
        engine, principal, "online.clusters", details={"returned": len(found)}, durable=False
    )
    return found


# -- review and hand-over --------------------------------------------------------------------


def _scoped_ad(connection: Connection, principal: Principal, row_id: uuid.UUID) -> Any:
    ad = table_of(m.OnlineAd)
    org = table_of(m.Organisation)
    query = _in_scope(
        select(ad, org.c.slug).join(org, org.c.id == ad.c.organisation_id).where(ad.c.id == row_id),
        principal,
        ad.c.organisation_id,
    )
    row = connection.execute(query).first()
    if row is None:
        raise NotFoundError("no such ad")
    return row


def review_ad(
    engine: Engine,
    principal: Principal,
    row_id: uuid.UUID,
    decision: str,
    note: str | None = None,
) -> StoredAd:
    """Record a reviewer's decision on an ad (``online:review``): confirmed, dismissed or
    unsure, with an optional note (sealed)."""
    principal.require("online:review")
    if decision not in REVIEW_DECISIONS:
        raise ValueError(f"decision: one of {', '.join(REVIEW_DECISIONS)}")
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_LENGTH:
        raise ValueError(f"note: at most {NOTE_LENGTH} characters")
    ad = table_of(m.OnlineAd)
    with engine.begin() as connection:
        row = _scoped_ad(connection, principal, row_id)
        connection.execute(
            update(ad)
            .where(ad.c.id == row_id)
            .values(
                review_status=decision,
                reviewed_by=principal.username,
                reviewed_at=utcnow(),
                review_note=note,
            )
        )
        found = _evidence_of(connection, [row_id]).get(row_id)
        if found is not None:
            connection.execute(
                insert(table_of(m.OnlineCustodyEvent)),
                _custody_rows([found.id], principal.username, "reviewed", decision),
            )
        audit.record(
            connection,
            principal,
            "online.review",
            "online_ad",
            row_id,
            organisation=row.slug,
            details={"decision": decision, "previous": row.review_status, "note": note is not None},
        )
        [stored] = _stored_ads(connection, _ads_query(principal).where(ad.c.id == row_id))
    return stored


def _hits_line(hits: Sequence[IndicatorHit], region: str | None) -> list[str]:
    lines = []
    for hit in hits:
        words = [mask_contacts(word, region) for word in hit.evidence]
        quoted = ", ".join(f'"{word}"' for word in words)
        lines.append(f"    - {hit.id}" + (f" (words: {quoted})" if quoted else ""))
    return lines or ["    - none recorded"]


def _request_text(
    kind: str, organisation: str, ads: Sequence[Any], region: str | None, note_given: bool
) -> str:
    """The text handed over: what an ad is, where it was seen and why it was flagged, with
    the SHA-256 of its preserved original; never a contact."""
    if kind == "takedown":
        heading = [
            "Request to remove job advertisements",
            "",
            f"{organisation} asks you to review and remove the advertisement(s) below. They "
            "show indicators of deceptive recruitment, a known means of human trafficking "
            "and forced labour. The pages are preserved as evidence; the SHA-256 of each "
            "preserved original is given so that it can be matched later.",
        ]
    else:
        destination = HANDOVER_DESTINATIONS.get(kind, "a screening")
        heading = [
            f"Online recruitment: hand-over to {destination}",
            "",
            f"{organisation} reviewed the advertisement(s) below and found indicators of "
            "deceptive recruitment. The original pages are preserved as evidence with the "
            "SHA-256 given; contacts are held in the evidence store and are not repeated here.",
        ]
    body: list[str] = []
    for number, row in enumerate(ads, start=1):
        seen = _aware(row.seen_at)
        body += [
            "",
            f"{number}. Ad id: {row.ad_id}",
            f"   Address (URL): {row.url or 'not recorded'}",
            f"   Seen: {seen.isoformat() if seen else 'not recorded'}",
            f"   Evidence SHA-256: {row.evidence_sha256 or 'not preserved'}",
            "   Indicators:",
            *_hits_line(_indicator_hits(row.indicators), region),
        ]
    if note_given and kind != "takedown":
        body += ["", "The reviewer's note is kept with the hand-over in the hub."]
    body += ["", f"Prepared {utcnow().date().isoformat()} by {organisation}."]
    return "\n".join(heading + body) + "\n"


def hand_over(
    engine: Engine,
    principal: Principal,
    *,
    kind: str,
    row_id: uuid.UUID | None = None,
    cluster_id: str | None = None,
    note: str | None = None,
) -> Handover:
    """Pass a reviewed ad or cluster on (``online:review``).

    ``screening`` opens a task to screen the people the ad may have reached; ``police`` and
    ``labour_inspectorate`` open an ``online_referral`` task naming the destination;
    ``takedown`` prepares the request to the platform, returned as ``text``. Every ad
    concerned gets a "handed_over" custody event."""
    principal.require("online:review")
    if kind not in HANDOVER_KINDS:
        raise ValueError(f"kind: one of {', '.join(HANDOVER_KINDS)}")
    if row_id is None and not cluster_id:
        raise ValueError("name the ad (row_id) or the cluster (cluster_id) to hand over")
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_LENGTH:
        raise ValueError(f"note: at most {NOTE_LENGTH} characters")
    ad = table_of(m.OnlineAd)
    org = table_of(m.Organisation)
    evidence = table_of(m.OnlineEvidence)
    cluster_table = table_of(m.OnlineCluster)
    with engine.begin() as connection:
        if row_id is not None:
            row = _scoped_ad(connection, principal, row_id)
            organisation_id, slug = row.organisation_id, row.slug
        else:
            found = connection.execute(
                _in_scope(
                    select(cluster_table.c.organisation_id, org.c.slug)
                    .join(org, org.c.id == cluster_table.c.organisation_id)
                    .where(cluster_table.c.cluster_id == cluster_id),
                    principal,
                    cluster_table.c.organisation_id,
                )
            ).all()
            if not found:
                raise NotFoundError("no such cluster")
            if len(found) > 1:
                raise ValueError("several organisations have this cluster id; name the ad")
            organisation_id, slug = found[0].organisation_id, found[0].slug
        ads_query = (
            select(
                ad, evidence.c.id.label("evidence_id"), evidence.c.sha256.label("evidence_sha256")
            )
            .outerjoin(evidence, evidence.c.ad_row_id == ad.c.id)
            .where(ad.c.organisation_id == organisation_id)
        )
        if row_id is not None:
            ads_query = ads_query.where(ad.c.id == row_id)
        else:
            ad_ids = connection.execute(
                select(cluster_table.c.ad_ids).where(
                    cluster_table.c.organisation_id == organisation_id,
                    cluster_table.c.cluster_id == cluster_id,
                )
            ).scalar_one()
            ads_query = ads_query.where(ad.c.ad_id.in_(list(ad_ids or [])))
        concerned = connection.execute(ads_query.order_by(ad.c.ad_id)).all()
        country = connection.execute(
            select(org.c.country).where(org.c.id == organisation_id)
        ).scalar()
        region = country.upper() if country else None
        reference = f"ad {row_id}" if row_id is not None else f"cluster {cluster_id}"
        source = f"online_ad:{row_id}" if row_id is not None else f"online_cluster:{cluster_id}"
        task_id: uuid.UUID | None = None
        if kind == "screening":
            task_id = open_task(
                connection,
                principal,
                organisation_id,
                "online_screening",
                f"Online recruitment ({reference}) reviewed: screen the people it may have "
                "reached for trafficking indicators.",
                team=principal.team,
                source=source,
            )
        elif kind in HANDOVER_DESTINATIONS:
            task_id = open_task(
                connection,
                principal,
                organisation_id,
                "online_referral",
                f"Refer online recruitment ({reference}) to {HANDOVER_DESTINATIONS[kind]}.",
                team=principal.team,
                source=source,
            )
        text = _request_text(kind, slug, concerned, region, note is not None)
        handover_id = new_id()
        created_at = utcnow()
        connection.execute(
            insert(table_of(m.OnlineHandover)).values(
                id=handover_id,
                organisation_id=organisation_id,
                kind=kind,
                ad_row_id=row_id,
                cluster_id=cluster_id,
                task_id=task_id,
                text=text,
                note=note,
                created_by=principal.username,
                created_at=created_at,
            )
        )
        evidence_ids = [item.evidence_id for item in concerned if item.evidence_id is not None]
        if evidence_ids:
            connection.execute(
                insert(table_of(m.OnlineCustodyEvent)),
                _custody_rows(
                    evidence_ids,
                    principal.username,
                    "handed_over",
                    f"{kind}; hand-over {handover_id}",
                ),
            )
        audit.record(
            connection,
            principal,
            "online.handover",
            "online_handover",
            handover_id,
            organisation=slug,
            details={
                "kind": kind,
                "ads": len(concerned),
                "row_id": None if row_id is None else str(row_id),
                "cluster_id": cluster_id,
                "task_id": None if task_id is None else str(task_id),
            },
        )
    return Handover(
        handover_id, kind, row_id, cluster_id, task_id, text, principal.username, created_at
    )


def handovers(engine: Engine, principal: Principal) -> list[Handover]:
    """The hand-overs in scope, newest first (``online:read``)."""
    principal.require("online:read")
    table = table_of(m.OnlineHandover)
    query = _in_scope(select(table), principal, table.c.organisation_id).order_by(
        table.c.created_at.desc(), table.c.id.desc()
    )
    with reading(engine) as connection:
        found = [
            Handover(
                row.id,
                row.kind,
                row.ad_row_id,
                row.cluster_id,
                row.task_id,
                row.text,
                row.created_by,
                _aware(row.created_at) or row.created_at,
            )
            for row in connection.execute(query)
        ]
    audit.record_now(
        engine, principal, "online.handovers", details={"returned": len(found)}, durable=False
    )
    return found


# -- statistics ------------------------------------------------------------------------------


def _iso_week(moment: dt.datetime) -> str:
    """The helpline's week label, of the moment's UTC day."""
    return iso_week((_aware(moment) or moment).astimezone(dt.UTC).date())


def weekly_statistics(engine: Engine, principal: Principal) -> list[dict[str, Any]]:
    """Flagged ads per ISO week (of the time seen, else of ingest) by indicator, sector and
    destination country: rows ``{"week", "dimension", "value", "flags"}`` in week,
    dimension, value order. Counts only: readable with ``statistics:read`` too."""
    if not (principal.can("online:read") or principal.can("statistics:read")):
        raise PermissionDeniedError("your role does not allow online:read")
    ad = table_of(m.OnlineAd)
    query = _in_scope(
        select(
            ad.c.seen_at,
            ad.c.ingested_at,
            ad.c.indicator_ids,
            ad.c.sector,
            ad.c.destination_country,
        ).where(ad.c.flagged.is_(True)),
        principal,
        ad.c.organisation_id,
    )
    # Weeks are folded here, not in SQL: SQLite and PostgreSQL number weeks differently,
    # Python's isocalendar is the one definition.
    totals: Counter[tuple[str, str, str]] = Counter()
    with reading(engine) as connection:
        for row in connection.execute(query):
            week = _iso_week(row.seen_at or row.ingested_at)
            for indicator in dict.fromkeys(row.indicator_ids or ()):
                totals[(week, "indicator", str(indicator))] += 1
            if row.sector:
                totals[(week, "sector", row.sector)] += 1
            if row.destination_country:
                totals[(week, "destination", row.destination_country)] += 1
    order = {dimension: number for number, dimension in enumerate(STATISTIC_DIMENSIONS)}
    rows = [
        {"week": week, "dimension": dimension, "value": value, "flags": flags}
        for (week, dimension, value), flags in sorted(
            totals.items(), key=lambda item: (item[0][0], order[item[0][1]], item[0][2])
        )
    ]
    audit.record_now(
        engine, principal, "online.statistics", details={"rows": len(rows)}, durable=False
    )
    return rows


# -- evidence --------------------------------------------------------------------------------


def evidence_items(
    engine: Engine,
    principal: Principal,
    *,
    ad_ids: Sequence[str] | None = None,
    flagged_only: bool = True,
) -> list[EvidenceItem]:
    """The preserved originals of the ads in scope (``online:evidence``), each with its
    chain of custody, which gains an "exported" event here. ``ad_ids`` narrows the set;
    one not stored in scope is ``NotFoundError``."""
    principal.require("online:evidence")
    ad = table_of(m.OnlineAd)
    org = table_of(m.Organisation)
    evidence = table_of(m.OnlineEvidence)
    custody = table_of(m.OnlineCustodyEvent)
    query = _in_scope(
        select(*_raw_columns(evidence), ad.c.ad_id, org.c.slug)
        .join(ad, ad.c.id == evidence.c.ad_row_id)
        .join(org, org.c.id == ad.c.organisation_id),
        principal,
        ad.c.organisation_id,
    ).order_by(org.c.slug, ad.c.ad_id)
    if flagged_only:
        query = query.where(ad.c.flagged.is_(True))
    with engine.begin() as connection:
        if ad_ids is not None:
            wanted = sorted(set(ad_ids))
            known: set[str] = set()
            for chunk in _chunks(wanted):
                known.update(
                    connection.execute(
                        _in_scope(
                            select(ad.c.ad_id).where(ad.c.ad_id.in_(chunk)),
                            principal,
                            ad.c.organisation_id,
                        )
                    ).scalars()
                )
            if len(known) != len(wanted):
                missing = len(wanted) - len(known)
                raise NotFoundError(f"{missing} of the ads asked for are not stored in your scope")
            rows: list[Any] = []
            for chunk in _chunks(wanted):
                rows.extend(connection.execute(query.where(ad.c.ad_id.in_(chunk))).all())
            rows.sort(key=lambda row: (row.slug, row.ad_id))
        else:
            rows = list(connection.execute(query).all())
        evidence_ids = [row.id for row in rows]
        if evidence_ids:
            connection.execute(
                insert(custody),
                _custody_rows(evidence_ids, principal.username, "exported", "evidence export"),
            )
        chains: dict[uuid.UUID, list[CustodyEvent]] = defaultdict(list)
        for chunk in _chunks(evidence_ids):
            for event in connection.execute(
                select(custody)
                .where(custody.c.evidence_id.in_(chunk))
                .order_by(custody.c.evidence_id, custody.c.at, custody.c.id)
            ):
                chains[event.evidence_id].append(
                    CustodyEvent(
                        _aware(event.at) or event.at, event.actor, event.action, event.detail
                    )
                )
        unseal = _Unsealer()
        items = [
            EvidenceItem(
                ad_id=row.ad_id,
                organisation=row.slug,
                sha256=row.sha256,
                original=unseal(evidence.c.original, row.original),
                media_type=row.media_type,
                source=row.source,
                row=row.row,
                seen_at=_aware(row.seen_at),
                captured_at=_aware(row.captured_at) or row.captured_at,
                captured_by=row.captured_by,
                custody=tuple(chains.get(row.id, ())),
            )
            for row in rows
        ]
        audit.record(
            connection,
            principal,
            "online.evidence.export",
            "online_evidence",
            None,
            organisation=principal.organisation,
            details={"items": len(items), "flagged_only": flagged_only},
        )
    return items


def custody_chain(engine: Engine, principal: Principal, row_id: uuid.UUID) -> list[CustodyEvent]:
    """An ad's chain of custody, oldest first (``online:read``)."""
    principal.require("online:read")
    evidence = table_of(m.OnlineEvidence)
    custody = table_of(m.OnlineCustodyEvent)
    with reading(engine) as connection:
        row = _scoped_ad(connection, principal, row_id)
        events = [
            CustodyEvent(_aware(event.at) or event.at, event.actor, event.action, event.detail)
            for event in connection.execute(
                select(custody)
                .join(evidence, evidence.c.id == custody.c.evidence_id)
                .where(evidence.c.ad_row_id == row_id)
                .order_by(custody.c.at, custody.c.id)
            )
        ]
    audit.record_now(
        engine,
        principal,
        "online.custody",
        resource_type="online_ad",
        resource_id=row_id,
        organisation=row.slug,
        durable=False,
    )
    return events


# -- the agency licence register -------------------------------------------------------------


def store_register(
    engine: Engine, principal: Principal, register: Register, organisation: str | None = None
) -> int:
    """Replace the organisation's agency licence register (``online:ingest``); return the
    number of entries stored. The entries are sealed."""
    principal.require("online:ingest")
    entries = list(register.to_rows())
    table = table_of(m.OnlineAgency)
    with engine.begin() as connection:
        organisation_id, slug, _country = _organisation(connection, principal, organisation)
        connection.execute(delete(table).where(table.c.organisation_id == organisation_id))
        loaded_at = utcnow()
        if entries:
            connection.execute(
                insert(table),
                [
                    {
                        "id": new_id(),
                        "organisation_id": organisation_id,
                        "position": position,
                        "licence_number": _clip(
                            str(entry.get("licence_number") or "") or None, AD_ID_LENGTH
                        ),
                        "entry": dict(entry),
                        "source": (register.source or "")[:CLEAR_TEXT_LENGTH],
                        "default_region": register.default_region,
                        "loaded_by": principal.username,
                        "loaded_at": loaded_at,
                    }
                    for position, entry in enumerate(entries)
                ],
            )
        audit.record(
            connection,
            principal,
            "online.register.store",
            "online_agency",
            None,
            organisation=slug,
            details={"agencies": len(entries)},
        )
    return len(entries)


def stored_register(
    engine: Engine, principal: Principal, organisation: str | None = None
) -> Register | None:
    """The licence register in scope (``online:read``), or None when none was loaded. The
    local operator gets the named organisation's, or every organisation's entries together."""
    from tiphub.online.register import Register

    principal.require("online:read")
    table = table_of(m.OnlineAgency)
    org = table_of(m.Organisation)
    query = _in_scope(
        select(table.c.entry, table.c.source, table.c.default_region).join(
            org, org.c.id == table.c.organisation_id
        ),
        principal,
        table.c.organisation_id,
    ).order_by(org.c.slug, table.c.position)
    if principal.operator and organisation is not None:
        query = query.where(org.c.slug == organisation)
    with reading(engine) as connection:
        rows = connection.execute(query).all()
    audit.record_now(
        engine,
        principal,
        "online.register.read",
        details={"agencies": len(rows)},
        durable=False,
    )
    if not rows:
        return None
    return Register.from_rows(
        [row.entry for row in rows],
        source=rows[0].source or "register",
        default_region=rows[0].default_region,
    )
