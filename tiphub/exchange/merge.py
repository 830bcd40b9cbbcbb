"""Merging flat rows (HTCDS CSV/XLSX, XLSForm) into the stored version of a case.

A flat row carries only part of a case: one row per victim, and of each victim only the
items the exporter (``htcds.case_rows``) shows. Replacing the stored case with what the
rows can build would silently delete perpetrators, notes, support plans, proceedings,
older status assertions, consent history and every field the layout has no column for.
So a flat file *updates* a case: the rows are compared with the rows the exporter writes
for the stored case, and only the differences are applied, each to exactly the stored
item the exporter showed. Re-importing an unchanged export therefore changes nothing.

Both functions are pure: no database access, and the documents passed in are not changed.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import Any

from tiphub.cases.canonical import clean
from tiphub.cases.schema import VICTIM_ROLES
from tiphub.exchange import htcds

Document = dict[str, Any]

CASE_FIELDS = ("status", "reason_for_closure", "case_owner", "opened_on")
INCOMING_FIELDS = (
    "from_organisation",
    "referred_on",
    "reason",
    "details",
    "referring_case_worker",
)
# Only the first outgoing referral's details are shown; every target is.
OUTGOING_DETAIL_FIELDS = ("referred_on", "reason", "details", "referred_case_worker")
EXPLOITATION_FIELDS = ("country", "started_on", "ended_on")
# (HTCDS column, tiphub column, code list): HTCDS shows extension codes as "Other".
CODE_PAIRS = (
    ("vic_MethodsOfControl", "tip_MethodsOfControl", "means_of_control"),
    ("vic_TypeOfExploitation", "tip_TypeOfExploitation", "exploitation_type"),
)
LIST_SECTIONS = (
    "events",
    "consents",
    "referrals",
    "support_plans",
    "notes",
    "identification_decisions",
    "criminal_proceedings",
)
_CASE_COLUMNS = frozenset(htcds.CASE_COLUMNS)


class MergeError(ValueError):
    """The rows cannot be merged into the stored case. Messages name IDs, never values."""


# --- public API ---------------------------------------------------------------------------


def merge_flat_case(
    existing: Document,
    rows: list[dict[str, Any]],
    organisation: str,
    *,
    today: dt.date | None = None,
) -> Document:
    """The existing canonical case document with the changes that the flat rows of this case make.

    ``rows`` are parsed rows (column name -> parsed value) of this case, each with
    ``tip_PersonId``. A column absent from a row is not carried and keeps its stored value;
    a column present with ``None`` (or ``[]``) was emptied. ``today`` dates a changed
    consent (default: the current date).
    """
    result = copy.deepcopy(existing)
    if not rows:
        return result
    old_rows = {row["tip_PersonId"]: row for row in map(_parsed, htcds.case_rows(existing))}
    incoming = [{k: v for k, v in row.items() if k in htcds.COLUMNS} for row in rows]
    _check_rows(existing, incoming, old_rows)

    old_case = _old_case_values(existing, old_rows)
    new_case = {**old_case, **{k: v for k, v in incoming[0].items() if k in _CASE_COLUMNS}}
    filled = [_filled(row, old_rows.get(row["tip_PersonId"])) for row in incoming]
    old = htcds.build_case(old_case, list(old_rows.values()), organisation)
    new = htcds.build_case(new_case, filled, organisation)

    for name in CASE_FIELDS:
        if old[name] != new[name]:
            _put(result, name, new[name])
    for row in filled:
        person_id = row["tip_PersonId"]
        if person_id in old_rows:
            _merge_participant(result, person_id, old, new, today or dt.date.today())
        else:
            _add_participant(result, person_id, new)
    _merge_incoming(result, old, new, organisation)
    _merge_outgoing(result, old, new, organisation)
    for name in ("events", "consents", "referrals"):
        # Canonical documents hold no empty lists; keep one only if it was there already.
        if name in result and not result[name] and existing.get(name) != []:
            del result[name]
    return result


def removed_by_replace(existing: Document, incoming: Document) -> dict[str, int]:
    """How many items of each section replacing ``existing`` with ``incoming`` would delete.

    List items have no identity of their own, so an item counts as deleted unless an
    identical one is in ``incoming`` (a changed note is a deleted note plus a new one).
    Participants are matched by person ``external_id``; one missing from ``incoming`` counts
    under ``victims``, ``perpetrators`` or ``other_participants`` (nothing inside it is
    counted again). For participants kept: ``identifiers``, ``status_assertions`` and
    ``participant_fields`` (person, victim or perpetrator fields set before, absent after).
    ``case_fields`` counts case scalars set before, absent after. Only non-zero counts.
    """
    before = _canonical(existing)
    after = _canonical(incoming)
    counts: Counter[str] = Counter()
    kept = {p["person"]["external_id"]: p for p in after.get("participants", [])}
    for participant in before.get("participants", []):
        other = kept.get(participant["person"]["external_id"])
        if other is None:
            counts[_participant_kind(participant)] += 1
            continue
        counts["identifiers"] += _lost(
            participant["person"].get("identifiers", []), other["person"].get("identifiers", [])
        )
        counts["status_assertions"] += _lost(
            (participant.get("victim") or {}).get("trafficking_status", []),
            (other.get("victim") or {}).get("trafficking_status", []),
        )
        for part in ("person", "victim", "perpetrator"):
            mine = participant.get(part) or {}
            theirs = other.get(part) or {}
            counts["participant_fields"] += sum(
                1
                for key in mine
                if key not in ("external_id", "identifiers", "trafficking_status")
                and key not in theirs
            )
    for name in LIST_SECTIONS:
        counts[name] += _lost(before.get(name, []), after.get(name, []))
    counts["case_fields"] += sum(1 for name in CASE_FIELDS if name in before and name not in after)
    return {name: count for name, count in counts.items() if count}


# --- reading the rows -----------------------------------------------------------------------


def _parsed(cells: dict[str, str]) -> dict[str, Any]:
    return {name: htcds.COLUMNS[name].parse(text) for name, text in cells.items()}


def _check_rows(
    existing: Document, incoming: list[dict[str, Any]], old_rows: dict[str, dict[str, Any]]
) -> None:
    case_id = existing["external_id"]
    stored = {p["person"]["external_id"] for p in existing["participants"]}
    seen: set[str] = set()
    for row in incoming:
        if row.get("tip_CaseId") not in (None, case_id):
            raise MergeError("a row of another case was given for this case")
        person_id = row.get("tip_PersonId")
        if not person_id:
            raise MergeError("a row of this case has no tip_PersonId")
        if person_id in seen:
            raise MergeError("this person has more than one row in the case")
        seen.add(person_id)
        if person_id in stored and person_id not in old_rows:
            # A perpetrator or witness cannot become a victim through a flat row: their
            # context would have to be thrown away.
            raise MergeError(
                "this person is stored in the case as a participant without a victim context "
                "(a perpetrator or witness); a flat row cannot change that"
            )


def _old_case_values(existing: Document, old_rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    first = next(iter(old_rows.values()), None)
    if first is None:
        # A case without victims exports no row; a placeholder victim lets the exporter
        # still say what the case cells are.
        placeholder = {"role": "PresumedVictim", "person": {"external_id": "\x00"}, "victim": {}}
        first = _parsed(htcds.case_rows({**existing, "participants": [placeholder]})[0])
    return {name: value for name, value in first.items() if name in _CASE_COLUMNS}


def _derived_role(status: str | None) -> str:
    # As build_case derives it when there is no tip_Role.
    return "Victim" if status == "ActualVictimOfTrafficking" else "PresumedVictim"


def _filled(row: dict[str, Any], old_row: dict[str, Any] | None) -> dict[str, Any]:
    """The row with every column it lacks taken from the stored case's row of that person."""
    if old_row is None:
        return dict(row)  # a new person reads as a plain import reads it
    filled = {**old_row, **row}
    for shown, truth, list_name in CODE_PAIRS:
        codes = _effective_codes(row, old_row, shown, truth, list_name)
        filled[truth] = codes
        filled[shown] = htcds.to_htcds_codes(list_name, codes)
    if "tip_Role" not in row and old_row["tip_Role"] == _derived_role(
        old_row["vic_TraffickingStatus"]
    ):
        # Without a role column the role follows the status, as a plain import does.
        filled["tip_Role"] = None
    return filled


def _effective_codes(
    row: dict[str, Any], old_row: dict[str, Any], shown: str, truth: str, list_name: str
) -> list[str]:
    """The codes meant by a vic_/tip_ pair of columns, either of which may be edited or absent.

    build_case prefers the tip_ column, so a file without it (a plain HTCDS file) or one
    where only the vic_ column was edited would otherwise lose the edit.
    """
    stored: list[str] = old_row.get(truth) or []
    if shown not in row:
        return list(row.get(truth, stored))
    codes: list[str] = row[shown]
    if truth in row:
        if htcds.to_htcds_codes(list_name, row[truth]) == codes:
            return list(row[truth])
        if row[truth] != stored:
            return list(row[truth]) or _expanded(codes, stored, list_name)
    if htcds.to_htcds_codes(list_name, stored) == codes:
        return list(stored)
    return _expanded(codes, stored, list_name)


def _expanded(codes: list[str], stored: list[str], list_name: str) -> list[str]:
    """HTCDS codes with "Other" read back as the stored extension codes it stood for."""
    fallback = htcds.HTCDS_FALLBACK[list_name]
    result: list[str] = []
    for code in codes:
        for original in [c for c in stored if fallback.get(c, c) == code] or [code]:
            if original not in result:
                result.append(original)
    return result


# --- applying the differences ---------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _canonical(value: Any) -> Any:
    return clean(_plain(value))


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    value = _canonical(value)
    if value is None or value == []:
        target.pop(key, None)
    else:
        target[key] = value


def _without(items: list[dict[str, Any]], drop: Iterable[dict[str, Any]]) -> None:
    # By identity: two stored items may be equal, and only the one shown may go.
    dropped = {id(item) for item in drop}
    items[:] = [item for item in items if id(item) not in dropped]


def _participant(document: Document, person_id: str) -> dict[str, Any]:
    return next(p for p in document["participants"] if p["person"]["external_id"] == person_id)


def _events(document: Document, person_id: str, kind: str) -> list[dict[str, Any]]:
    return [
        e
        for e in document.get("events", [])
        if e.get("person_external_id") == person_id and e["type"] == kind
    ]


def _national_id(person: dict[str, Any]) -> str | None:
    return next(
        (i["value"] for i in person.get("identifiers") or [] if i["kind"] == "NationalId"), None
    )


def _processing_consent(document: Document, person_id: str) -> bool | None:
    return next(
        (
            c["given"]
            for c in document["consents"]
            if c["person_external_id"] == person_id and c["purpose"] == "DataProcessing"
        ),
        None,
    )


def _merge_participant(
    result: Document, person_id: str, old: Document, new: Document, today: dt.date
) -> None:
    participant = _participant(result, person_id)
    before = _participant(old, person_id)
    after = _participant(new, person_id)
    if before["role"] != after["role"]:
        participant["role"] = after["role"]
    person = participant["person"]
    for key, value in after["person"].items():
        if key not in ("external_id", "identifiers") and value != before["person"].get(key):
            _put(person, key, value)
    _merge_national_id(person, _national_id(before["person"]), _national_id(after["person"]))
    _merge_victim(participant, before["victim"], after["victim"])

    for kind, fields in (("Recruitment", ("country",)), ("Exploitation", EXPLOITATION_FIELDS)):
        _merge_event(
            result,
            person_id,
            kind,
            fields,
            next(iter(_events(old, person_id, kind)), {}),
            next(iter(_events(new, person_id, kind)), {}),
        )
    _merge_transits(
        result,
        person_id,
        [e["country"] for e in _events(old, person_id, "Transit")],
        [e["country"] for e in _events(new, person_id, "Transit")],
    )
    given = _processing_consent(new, person_id)
    # Consent history is a record of what the person said when: never rewritten, and an
    # emptied cell cannot withdraw anything, so only a new answer is recorded.
    if given is not None and given != _processing_consent(old, person_id):
        result.setdefault("consents", []).append(
            {
                "person_external_id": person_id,
                "purpose": "DataProcessing",
                "given": given,
                "recorded_on": today.isoformat(),
            }
        )


def _merge_national_id(person: dict[str, Any], before: str | None, after: str | None) -> None:
    if before == after:
        return
    identifiers: list[dict[str, Any]] = person.setdefault("identifiers", [])
    shown = next((i for i in identifiers if i["kind"] == "NationalId"), None)
    if after is None:
        if shown is not None:
            _without(identifiers, [shown])
    elif shown is None:
        identifiers.append({"kind": "NationalId", "value": after})
    else:
        shown["value"] = after  # the issuing country is not carried: kept
    if not identifiers:
        del person["identifiers"]


def _merge_victim(
    participant: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any] | None
) -> None:
    if after is None:
        # The row made the person a non-victim without a status; the schema then refuses
        # a victim context, so it goes (validation reports anything else wrong).
        participant.pop("victim", None)
        return
    before = before or {}
    victim: dict[str, Any] = participant.setdefault("victim", {})
    for key, value in after.items():
        if key != "trafficking_status" and value != before.get(key):
            _put(victim, key, value)
    old_status = next(iter(before.get("trafficking_status") or []), None)
    new_status = next(iter(after["trafficking_status"]), None)
    if old_status == new_status:
        return
    assertions: list[dict[str, Any]] = victim.setdefault("trafficking_status", [])
    # The exporter's own choice of the assertion it shows, so that exactly that one changes.
    shown = htcds._latest(assertions, "asserted_on")
    if new_status is None:
        if shown is not None:
            _without(assertions, [shown])
    elif shown is None:
        assertions.append(_canonical(new_status))
    else:
        for key, value in new_status.items():
            if value != (old_status or {}).get(key):
                _put(shown, key, value)
    if not assertions:
        del victim["trafficking_status"]


def _is_bare(item: dict[str, Any], frame: set[str]) -> bool:
    return set(item) <= frame


def _merge_event(
    result: Document,
    person_id: str,
    kind: str,
    fields: tuple[str, ...],
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    changed = [name for name in fields if before.get(name) != after.get(name)]
    if not changed:
        return
    shown = next(iter(_events(result, person_id, kind)), None)
    events: list[dict[str, Any]] = result.setdefault("events", [])
    if shown is None:
        shown = {"type": kind, "person_external_id": person_id}
        events.append(shown)
    for name in changed:
        _put(shown, name, after.get(name))
    if _is_bare(shown, {"type", "person_external_id"}):
        # Emptied of everything the format carries and holding nothing else: no event left.
        _without(events, [shown])


def _merge_transits(result: Document, person_id: str, before: list[str], after: list[str]) -> None:
    """Transit countries aligned, not just by position, so a kept country keeps its dates."""
    if before == after:
        return
    events: list[dict[str, Any]] = result.setdefault("events", [])
    shown = [e for e in _events(result, person_id, "Transit") if e.get("country")]
    removed: list[dict[str, Any]] = []
    placed_before: dict[int, list[dict[str, Any]]] = {}
    placed_after: dict[int, list[dict[str, Any]]] = {}
    tail: list[dict[str, Any]] = []
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        common = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for offset in range(common):
            shown[i1 + offset]["country"] = after[j1 + offset]
        removed.extend(shown[i1 + common : i2])
        extra = [
            {"type": "Transit", "person_external_id": person_id, "country": country}
            for country in after[j1 + common : j2]
        ]
        if not extra:
            continue
        if i2 < len(shown):
            placed_before.setdefault(id(shown[i2]), []).extend(extra)
        elif shown:
            placed_after.setdefault(id(shown[-1]), []).extend(extra)
        else:
            # No transit yet: on the way to the exploitation, if there is one.
            exploitation = next(iter(_events(result, person_id, "Exploitation")), None)
            if exploitation is None:
                tail.extend(extra)
            else:
                placed_before.setdefault(id(exploitation), []).extend(extra)
    dropped = {id(event) for event in removed}
    merged: list[dict[str, Any]] = []
    for event in events:
        merged.extend(placed_before.get(id(event), []))
        if id(event) not in dropped:
            merged.append(event)
        merged.extend(placed_after.get(id(event), []))
    events[:] = merged + tail


def _add_participant(result: Document, person_id: str, new: Document) -> None:
    result["participants"].append(_canonical(_participant(new, person_id)))
    for section in ("events", "consents"):
        items = [_canonical(i) for i in new[section] if i["person_external_id"] == person_id]
        if items:
            result.setdefault(section, []).extend(items)


def _merge_incoming(result: Document, old: Document, new: Document, organisation: str) -> None:
    before: dict[str, Any] = next((r for r in old["referrals"] if r["direction"] == "Incoming"), {})
    after: dict[str, Any] = next((r for r in new["referrals"] if r["direction"] == "Incoming"), {})
    changed = [name for name in INCOMING_FIELDS if before.get(name) != after.get(name)]
    if not changed:
        return
    referrals: list[dict[str, Any]] = result.setdefault("referrals", [])
    shown = next((r for r in referrals if r["direction"] == "Incoming"), None)
    if shown is None:
        shown = {"direction": "Incoming", "to_organisation": organisation}
        referrals.append(shown)
    for name in changed:
        _put(shown, name, after.get(name))
    if _is_bare(shown, {"direction", "to_organisation"}):
        _without(referrals, [shown])


def _merge_outgoing(result: Document, old: Document, new: Document, organisation: str) -> None:
    before = [r for r in old["referrals"] if r["direction"] == "Outgoing"]
    after = [r for r in new["referrals"] if r["direction"] == "Outgoing"]
    old_targets = Counter(r["to_organisation"] for r in before if r["to_organisation"])
    new_targets = [r["to_organisation"] for r in after if r["to_organisation"]]
    first_before = before[0] if before else {}
    first_after = after[0] if after else {}
    changed = [
        name for name in OUTGOING_DETAIL_FIELDS if first_before.get(name) != first_after.get(name)
    ]
    # Order is not meaningful between referrals to different organisations: only targets
    # added or removed count.
    if old_targets == Counter(new_targets) and not changed:
        return
    referrals: list[dict[str, Any]] = result.setdefault("referrals", [])
    removed: list[dict[str, Any]] = []
    for target, count in (old_targets - Counter(new_targets)).items():
        matching = [
            r
            for r in referrals
            if r["direction"] == "Outgoing" and r.get("to_organisation") == target
        ]
        # The latest go first, so the first referral (whose details are shown) stays longest.
        removed.extend(matching[-count:])
    _without(referrals, removed)
    missing = Counter(new_targets) - old_targets
    for target in new_targets:
        if missing[target] > 0:
            missing[target] -= 1
            referrals.append(
                {
                    "direction": "Outgoing",
                    "from_organisation": organisation,
                    "to_organisation": target,
                }
            )
    if not changed:
        return
    first = next((r for r in referrals if r["direction"] == "Outgoing"), None)
    if first is None:
        first = {"direction": "Outgoing", "from_organisation": organisation}
        referrals.append(first)
    for name in changed:
        _put(first, name, first_after.get(name))
    if _is_bare(first, {"direction", "from_organisation"}):
        _without(referrals, [first])


# --- counting -------------------------------------------------------------------------------


def _participant_kind(participant: dict[str, Any]) -> str:
    if participant["role"] in VICTIM_ROLES or participant.get("victim"):
        return "victims"
    if participant["role"] == "Perpetrator" or participant.get("perpetrator"):
        return "perpetrators"
    return "other_participants"


def _lost(before: list[Any], after: list[Any]) -> int:
    def key(item: Any) -> str:
        return json.dumps(item, sort_keys=True, ensure_ascii=False)

    return sum((Counter(map(key, before)) - Counter(map(key, after))).values())
