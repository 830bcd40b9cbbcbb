"""The clerical review queue: uncertain candidate pairs that a caseworker decides.

A linker run is recorded with ``start_run`` / ``finish_run``; the pairs whose match
probability it cannot settle are queued with ``enqueue``; caseworkers look at ``pending``
items (most uncertain first) and ``decide`` them; ``labels`` hands the decisions back to the
linker as must-link / cannot-link constraints and training labels.

A pair has one row for good, whatever the run that proposed it: keys are stored sorted, so
(a, b) and (b, a) are the same pair, and a pair proposed again by a later run is neither
queued twice nor reopened once decided.

Error messages name the candidate's position and the field, never a value, because the
values are identity data of trafficking survivors.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from rich.table import Table as RichTable
from rich.text import Text
from sqlalchemy import Connection, Engine, Insert, Row, Table, func, insert, select, tuple_, update

from tiphub.store.db import insert_if_absent
from tiphub.store.models import LinkageReviewItem, LinkageRun, utcnow

__all__ = [
    "BRIDGES_CANNOT_LINK",
    "DECISIONS",
    "REASON_FIELD",
    "STATUSES",
    "Decision",
    "EnqueueResult",
    "PairLabel",
    "ReviewCandidate",
    "ReviewError",
    "ReviewItem",
    "Status",
    "decide",
    "enqueue",
    "finish_run",
    "format_item",
    "get",
    "item_table",
    "items_for_organisation",
    "labels",
    "pending",
    "queue_stats",
    "record_key",
    "start_run",
]

Status = Literal["pending", "match", "non_match", "unsure"]
Decision = Literal["match", "non_match", "unsure"]
STATUSES: tuple[Status, ...] = get_args(Status)
DECISIONS: tuple[Decision, ...] = get_args(Decision)

# Why a pair was queued, when not simply for an uncertain probability. The reason travels as
# the first entry of the explanation, so that every view of an item shows it and the stored
# schema stays as it is.
REASON_FIELD = "queued because"
BRIDGES_CANNOT_LINK = "bridges a cannot-link decision"
_REASON_LENGTH = 200

# Column sizes in tiphub.store.models, checked here because SQLite does not enforce them.
_KEY_LENGTH = 300
_LIST_LENGTH = 200
_REVIEWER_LENGTH = 200
_ROUNDING = 1e-9
# Pairs per existence lookup: two bound parameters each, well under every backend's limit.
_LOOKUP_CHUNK = 500
_COUNT_COLUMNS = {
    "records": "record_count",
    "candidate_pairs": "candidate_pair_count",
    "links": "link_count",
    "clusters": "cluster_count",
}


class ReviewError(ValueError):
    """A request the review queue cannot carry out: unknown item or run, or invalid input."""


@dataclass(frozen=True)
class ReviewCandidate:
    """A scored pair for review, as the linker hands it over.

    ``explanation`` lists ``{"field", "level", "weight"}`` per compared field (``weight`` the
    log2 Bayes factor); ``left_values`` / ``right_values`` are the identity values to show the
    reviewer, JSON-serialisable (``None`` for a missing value, never NaN). Values keyed like an
    explanation field are shown on that field's row. ``reason`` says why the pair needs a
    reviewer when that is not its uncertain probability (such as ``BRIDGES_CANNOT_LINK``).
    """

    left_key: str
    right_key: str
    left_list: str
    right_list: str
    match_probability: float
    match_weight: float
    explanation: list[dict[str, Any]]
    left_values: dict[str, Any]
    right_values: dict[str, Any]
    reason: str | None = None


@dataclass(frozen=True)
class EnqueueResult:
    """What became of each candidate; the three counts add up to the candidates given."""

    added: int
    already_pending: int
    already_decided: int


@dataclass(frozen=True)
class ReviewItem:
    id: int
    run_id: int
    created_at: dt.datetime
    left_key: str
    right_key: str
    left_list: str
    right_list: str
    match_probability: float
    match_weight: float
    explanation: list[dict[str, Any]]
    left_values: dict[str, Any]
    right_values: dict[str, Any]
    status: Status
    decided_by: str | None
    decided_at: dt.datetime | None
    note: str | None

    @property
    def reason(self) -> str | None:
        """Why the pair was queued, if not for its uncertain probability alone."""
        for entry in self.explanation:
            if entry.get("field") == REASON_FIELD:
                return str(entry.get("level"))
        return None


@dataclass(frozen=True)
class PairLabel:
    """A reviewer's verdict on a pair (keys sorted): a must-link or a cannot-link."""

    left_key: str
    right_key: str
    is_match: bool


def record_key(list_name: str, record_id: str) -> str:
    """The key a record is queued under: ``list:record_id``, unique across input files."""
    return f"{list_name}:{record_id}"


def _items() -> Table:
    return cast(Table, LinkageReviewItem.__table__)


def _runs() -> Table:
    return cast(Table, LinkageRun.__table__)


# -- runs ---------------------------------------------------------------------------------


def start_run(engine: Engine, *, inputs: str, settings: Mapping[str, Any]) -> int:
    """Record the start of a linker run; returns its id for ``enqueue`` and ``finish_run``."""
    if not isinstance(inputs, str) or not inputs.strip():
        raise ReviewError("inputs must be a non-empty description of what was linked")
    if not isinstance(settings, Mapping):
        raise ReviewError("settings must be a mapping")
    stored_settings = _json_value(dict(settings), "settings")
    runs = _runs()
    with engine.begin() as connection:
        run_id = connection.execute(
            insert(runs)
            .values(inputs=inputs, settings=stored_settings, created_at=utcnow())
            .returning(runs.c.id)
        ).scalar_one()
    return int(run_id)


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    counts: Mapping[str, int],
    estimated_precision: float | None = None,
    estimated_recall: float | None = None,
) -> None:
    """Record what a run found. ``counts`` keys: records, candidate_pairs, links, clusters."""
    values: dict[str, Any] = {}
    for name, count in counts.items():
        column = _COUNT_COLUMNS.get(name)
        if column is None:
            known = ", ".join(_COUNT_COLUMNS)
            raise ReviewError(f"unknown count {name!r}; known counts: {known}")
        if not _is_integer(count) or int(count) < 0:
            raise ReviewError(f"count {name!r} must be a non-negative integer")
        values[column] = int(count)
    values["estimated_precision"] = _optional_fraction(estimated_precision, "estimated_precision")
    values["estimated_recall"] = _optional_fraction(estimated_recall, "estimated_recall")
    runs = _runs()
    with engine.begin() as connection:
        changed = connection.execute(
            update(runs)
            .where(runs.c.id == _item_id(run_id, "run"))
            .values(finished_at=utcnow(), **values)
            .returning(runs.c.id)
        ).first()
        if changed is None:
            raise ReviewError(f"no linkage run {run_id}")


# -- the queue ----------------------------------------------------------------------------


def enqueue(engine: Engine, run_id: int, items: Iterable[ReviewCandidate]) -> EnqueueResult:
    """Queue candidate pairs from a run, skipping pairs already queued or decided.

    Every candidate is checked before anything is written, and the writes are one
    transaction: either all new pairs are queued or none is.
    """
    run_id = _item_id(run_id, "run")
    occurrences: list[tuple[str, str]] = []
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for position, candidate in enumerate(items):
        row = _candidate_row(candidate, position)
        pair = (row["left_key"], row["right_key"])
        occurrences.append(pair)
        # The first proposal of a pair within one batch wins, as it does across runs.
        rows.setdefault(pair, row)
    if not occurrences:
        return EnqueueResult(0, 0, 0)

    table = _items()
    with engine.begin() as connection:
        if connection.execute(select(_runs().c.id).where(_runs().c.id == run_id)).first() is None:
            raise ReviewError(f"no linkage run {run_id}")
        statuses = _statuses(connection, list(rows))
        now = utcnow()
        new_rows = [
            {**row, "run_id": run_id, "created_at": now, "status": "pending"}
            for pair, row in rows.items()
            if pair not in statuses
        ]
        added: set[tuple[str, str]] = set()
        if new_rows:
            statement = _insert_skipping_known_pairs(connection, table).returning(
                table.c.left_key, table.c.right_key
            )
            added = {(left, right) for left, right in connection.execute(statement, new_rows)}
        # Pairs another writer queued between our lookup and our insert.
        raced = [pair for pair in rows if pair not in statuses and pair not in added]
        if raced:
            statuses.update(_statuses(connection, raced))

    counts = {"added": 0, "already_pending": 0, "already_decided": 0}
    seen: set[tuple[str, str]] = set()
    for pair in occurrences:
        if pair in added and pair not in seen:
            counts["added"] += 1
        elif pair in added or statuses.get(pair, "pending") == "pending":
            counts["already_pending"] += 1
        else:
            counts["already_decided"] += 1
        seen.add(pair)
    return EnqueueResult(**counts)


def pending(
    engine: Engine, *, limit: int | None = 20, run_id: int | None = None
) -> list[ReviewItem]:
    """Pending items, the most uncertain (probability nearest 0.5) first, then oldest first."""
    if limit is not None and (not _is_integer(limit) or limit < 1):
        raise ReviewError("limit must be a positive integer or None")
    table = _items()
    query = (
        select(table)
        .where(table.c.status == "pending")
        .order_by(func.abs(table.c.match_probability - 0.5), table.c.id)
    )
    if run_id is not None:
        query = query.where(table.c.run_id == _item_id(run_id, "run"))
    if limit is not None:
        query = query.limit(int(limit))
    with engine.connect() as connection:
        return [_review_item(row) for row in connection.execute(query)]


def items_for_organisation(
    engine: Engine, slug: str, status: Status | None = "pending", *, limit: int | None = 50
) -> list[ReviewItem]:
    """Items whose two records both come from one organisation's store (list = its slug).

    The hub's reviewers see only these: a pair reaching into another organisation's records
    would show that organisation's identity data. ``status`` None lists every status.
    Pending items come most uncertain first, as in ``pending``; decided ones newest first.
    """
    if limit is not None and (not _is_integer(limit) or limit < 1):
        raise ReviewError("limit must be a positive integer or None")
    table = _items()
    query = select(table).where(table.c.left_list == slug, table.c.right_list == slug)
    if status is not None:
        if status not in STATUSES:
            raise ReviewError(f"status must be one of {', '.join(STATUSES)}")
        query = query.where(table.c.status == status)
    if status == "pending":
        query = query.order_by(func.abs(table.c.match_probability - 0.5), table.c.id)
    else:
        query = query.order_by(table.c.id.desc())
    if limit is not None:
        query = query.limit(int(limit))
    with engine.connect() as connection:
        return [_review_item(row) for row in connection.execute(query)]


def get(engine: Engine, item_id: int) -> ReviewItem:
    table = _items()
    with engine.connect() as connection:
        row = connection.execute(
            select(table).where(table.c.id == _item_id(item_id, "review item"))
        ).first()
    if row is None:
        raise ReviewError(f"no review item {item_id}")
    return _review_item(row)


def decide(
    engine: Engine, item_id: int, decision: Decision, *, reviewer: str, note: str | None = None
) -> ReviewItem:
    """Record a caseworker's decision. Deciding again replaces the earlier decision and note."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}")
    if not isinstance(reviewer, str) or not reviewer.strip():
        raise ReviewError("reviewer must be named")
    if len(reviewer) > _REVIEWER_LENGTH:
        raise ReviewError(f"reviewer must be at most {_REVIEWER_LENGTH} characters")
    if note is not None and not isinstance(note, str):
        raise ReviewError("note must be text")
    table = _items()
    with engine.begin() as connection:
        # One UPDATE ... RETURNING: no read-modify-write window for a concurrent reviewer.
        row = connection.execute(
            update(table)
            .where(table.c.id == _item_id(item_id, "review item"))
            .values(status=decision, decided_by=reviewer.strip(), decided_at=utcnow(), note=note)
            .returning(*table.c)
        ).first()
        if row is None:
            raise ReviewError(f"no review item {item_id}")
    return _review_item(row)


def labels(engine: Engine) -> list[PairLabel]:
    """Every pair decided match or non-match (not unsure), in the order they were queued."""
    table = _items()
    query = (
        select(table.c.left_key, table.c.right_key, table.c.status)
        .where(table.c.status.in_(("match", "non_match")))
        .order_by(table.c.id)
    )
    with engine.connect() as connection:
        return [
            PairLabel(left, right, status == "match")
            for left, right, status in connection.execute(query)
        ]


def queue_stats(engine: Engine) -> dict[str, int]:
    """The number of items in each status, every status present (zero when empty)."""
    table = _items()
    stats: dict[str, int] = dict.fromkeys(STATUSES, 0)
    with engine.connect() as connection:
        query = select(table.c.status, func.count()).group_by(table.c.status)
        for status, count in connection.execute(query):
            stats[status] = int(count)
    return stats


# -- display ------------------------------------------------------------------------------

_HEADERS = ("field", "left", "right", "level", "weight")


def format_item(item: ReviewItem) -> str:
    """Plain text for a terminal: a summary, then field | left | right | level | weight."""
    rows = [_HEADERS, *_display_rows(item)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADERS))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if column == len(_HEADERS) - 1 else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return " | ".join(padded).rstrip()

    separator = "-+-".join("-" * width for width in widths)
    lines = [*_summary(item), "", line(rows[0]), separator, *(line(row) for row in rows[1:])]
    return "\n".join(lines)


def item_table(item: ReviewItem) -> RichTable:
    """The same comparison as a ``rich`` table, agreeing weights green, disagreeing red."""
    summary = _summary(item)
    # Text, not markup strings: a "[" in a name or note must not be read as a style tag.
    table = RichTable(
        title=Text(summary[0]),
        caption=Text("\n".join(summary[1:])),
        title_justify="left",
        caption_justify="left",
    )
    for header in _HEADERS:
        table.add_column(header, justify="right" if header == "weight" else "left")
    for field, left, right, level, weight in _display_rows(item):
        style = ""
        if weight:
            style = "green" if not weight.startswith("-") else "red"
        table.add_row(Text(field), Text(left), Text(right), Text(level), Text(weight, style))
    return table


def _summary(item: ReviewItem) -> list[str]:
    lines = [
        f"Review item {item.id} (run {item.run_id}): {item.status}",
        f"match probability {item.match_probability:.3f}, weight {item.match_weight:+.2f}",
        f"left:  {item.left_key} ({item.left_list})",
        f"right: {item.right_key} ({item.right_list})",
    ]
    if item.status != "pending":
        decided_at = item.decided_at.isoformat(timespec="seconds") if item.decided_at else "?"
        lines.append(f"decided {item.status} by {item.decided_by} at {decided_at}")
    if item.reason is not None:
        lines.append(f"{REASON_FIELD}: {_cell(item.reason)}")
    if item.note:
        lines.append(f"note: {_cell(item.note)}")
    return lines


def _display_rows(item: ReviewItem) -> list[tuple[str, str, str, str, str]]:
    """Value fields in the order given, each with its explanation; then evidence-only fields."""
    evidence = {
        str(entry.get("field")): entry
        for entry in item.explanation
        if entry.get("field") != REASON_FIELD
    }
    fields = list(item.left_values)
    fields += [field for field in item.right_values if field not in item.left_values]
    fields += [field for field in evidence if field not in fields]
    rows = []
    for field in fields:
        entry = evidence.get(field, {})
        weight = entry.get("weight")
        rows.append(
            (
                field,
                _cell(item.left_values.get(field)),
                _cell(item.right_values.get(field)),
                _cell(entry.get("level")),
                "" if weight is None else f"{float(weight):+.2f}",
            )
        )
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_cell(part) for part in value)
    # One line per field, whatever the source put in the value.
    return " ".join(str(value).split())


# -- rows in and out ----------------------------------------------------------------------


def _candidate_row(candidate: Any, position: int) -> dict[str, Any]:
    """Check one candidate and turn it into column values, keys sorted."""
    where = f"review candidate {position}"
    if not isinstance(candidate, ReviewCandidate):
        raise ReviewError(f"{where}: expected a ReviewCandidate")
    left = (
        _text(candidate.left_key, f"{where}: left_key", _KEY_LENGTH),
        _text(candidate.left_list, f"{where}: left_list", _LIST_LENGTH),
        _values(candidate.left_values, f"{where}: left_values"),
    )
    right = (
        _text(candidate.right_key, f"{where}: right_key", _KEY_LENGTH),
        _text(candidate.right_list, f"{where}: right_list", _LIST_LENGTH),
        _values(candidate.right_values, f"{where}: right_values"),
    )
    if left[0] == right[0]:
        raise ReviewError(f"{where}: a record cannot be paired with itself")
    if left[0] > right[0]:
        left, right = right, left
    probability = _fraction(candidate.match_probability, f"{where}: match_probability")
    explanation = _explanation(candidate.explanation, f"{where}: explanation")
    if candidate.reason is not None:
        reason = _text(candidate.reason, f"{where}: reason", _REASON_LENGTH)
        explanation.insert(0, {"field": REASON_FIELD, "level": reason, "weight": 0.0})
    return {
        "left_key": left[0],
        "right_key": right[0],
        "left_list": left[1],
        "right_list": right[1],
        "left_values": left[2],
        "right_values": right[2],
        "match_probability": probability,
        "match_weight": _finite(candidate.match_weight, f"{where}: match_weight"),
        "explanation": explanation,
    }


def _explanation(entries: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(entries, Sequence) or isinstance(entries, str | bytes):
        raise ReviewError(f"{where} must be a list of {{field, level, weight}}")
    checked = []
    for number, entry in enumerate(entries):
        here = f"{where}[{number}]"
        if not isinstance(entry, Mapping):
            raise ReviewError(f"{here} must be a mapping of field, level and weight")
        level: Any = entry.get("level")
        if _is_integer(level):
            level = int(level)
        elif not isinstance(level, str):
            raise ReviewError(f"{here}: level must be a label or a comparison level number")
        extra = {str(key): value for key, value in entry.items()}
        extra.update(
            field=_text(entry.get("field"), f"{here}: field", _KEY_LENGTH),
            level=level,
            weight=_finite(entry.get("weight"), f"{here}: weight"),
        )
        checked.append(extra)
    return cast(list[dict[str, Any]], _json_value(checked, where))


def _values(values: Any, where: str) -> dict[str, Any]:
    if not isinstance(values, Mapping) or not all(isinstance(key, str) for key in values):
        raise ReviewError(f"{where} must be a mapping from field names to values")
    return cast(dict[str, Any], _json_value(dict(values), where))


def _json_value(value: Any, where: str) -> Any:
    """The value as it will read back from a JSON column; NaN and infinity are refused."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        raise ReviewError(
            f"{where} must be JSON: text, finite numbers, booleans, lists, mappings, "
            "None for missing values"
        ) from None


def _text(value: Any, where: str, length: int) -> str:
    if not isinstance(value, str) or not value:
        raise ReviewError(f"{where} must be non-empty text")
    if len(value) > length:
        raise ReviewError(f"{where} must be at most {length} characters")
    return value


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ReviewError(f"{where} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise ReviewError(f"{where} must be finite")
    return number


def _fraction(value: Any, where: str) -> float:
    number = _finite(value, where)
    # Estimates computed as ratios can overshoot 0 or 1 by a rounding error; that is no error.
    if -_ROUNDING <= number < 0.0 or 1.0 < number <= 1.0 + _ROUNDING:
        number = min(max(number, 0.0), 1.0)
    if not 0.0 <= number <= 1.0:
        raise ReviewError(f"{where} must be between 0 and 1")
    return number


def _optional_fraction(value: Any, where: str) -> float | None:
    return None if value is None else _fraction(value, where)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _item_id(value: Any, what: str) -> int:
    if not _is_integer(value):
        raise ReviewError(f"{what} id must be an integer")
    return int(value)


def _chunks(items: Sequence[tuple[str, str]], size: int) -> Iterator[Sequence[tuple[str, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _statuses(
    connection: Connection, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The status of each given pair that is already in the queue."""
    table = _items()
    found: dict[tuple[str, str], str] = {}
    for chunk in _chunks(pairs, _LOOKUP_CHUNK):
        query = select(table.c.left_key, table.c.right_key, table.c.status).where(
            tuple_(table.c.left_key, table.c.right_key).in_(chunk)
        )
        for left, right, status in connection.execute(query):
            found[(left, right)] = status
    return found


def _insert_skipping_known_pairs(connection: Connection, table: Table) -> Insert:
    """INSERT that leaves a pair alone if a concurrent enqueue got there first."""
    return insert_if_absent(connection, table, ["left_key", "right_key"])


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands timezone-aware columns back naive; they were written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _review_item(row: Row[Any]) -> ReviewItem:
    data = row._mapping
    created_at = _aware(data["created_at"])
    assert created_at is not None  # NOT NULL column
    return ReviewItem(
        id=data["id"],
        run_id=data["run_id"],
        created_at=created_at,
        left_key=data["left_key"],
        right_key=data["right_key"],
        left_list=data["left_list"],
        right_list=data["right_list"],
        match_probability=data["match_probability"],
        match_weight=data["match_weight"],
        explanation=list(data["explanation"]),
        left_values=dict(data["left_values"]),
        right_values=dict(data["right_values"]),
        status=data["status"],
        decided_by=data["decided_by"],
        decided_at=_aware(data["decided_at"]),
        note=data["note"],
    )
