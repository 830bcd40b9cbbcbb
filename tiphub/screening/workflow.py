"""Identification and referral workflows as data: stages, transitions and their deadlines.

Each jurisdiction's mechanism (UK National Referral Mechanism, Romania's National
Identification and Referral Mechanism, a generic template) is a JSON file in
``data/workflows/`` (format: ``data/workflows/README.md``). This module loads and validates
them, says which transitions a user may take from a stage, refuses a transition with a reason
a person can act on (:class:`TransitionRefused`), and dates a stage's deadline.

It keeps no state and touches no database: the caller stores the referral's ``stage``,
``stage_entered_on`` and ``due_on`` and passes them back in. A workflow stage is never a legal
determination by itself; the decisions it records are those of the competent authority.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from tiphub.screening.deadlines import (
    DEADLINE_KINDS,
    DEADLINE_UNITS,
    PLACEHOLDER_CALENDAR,
    Deadline,
    UnknownCalendarError,
    deadline_date,
    holiday_calendar,
)

__all__ = [
    "CONSENT_RULES",
    "DECISION_OUTCOMES",
    "DECISION_TYPES",
    "Deadline",
    "Source",
    "Stage",
    "Transition",
    "TransitionRefused",
    "UnknownStageError",
    "UnknownWorkflowError",
    "Workflow",
    "WorkflowDefinitionError",
    "check_transition",
    "due_on",
    "earliest_exit",
    "load_workflow_file",
    "parse_workflow",
    "workflow",
    "workflows",
]

CONSENT_RULES = ("adult", "always", "never")
DECISION_TYPES = (
    "ReasonableGrounds",
    "ConclusiveGrounds",
    "FormalIdentification",
    "PreliminaryIdentification",
)
DECISION_OUTCOMES = ("Positive", "Negative", "Pending", "Withdrawn")

_DATA_PACKAGE = "tiphub.screening"
_DATA_FOLDER = ("data", "workflows")
_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
_PERMISSION = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
_FIELD = re.compile(r"^[a-z][a-z0-9_]*$")
_JURISDICTION = re.compile(r"^[A-Z]{2}$")
# Dates that check_transition reads from ``fields`` for the minimum-period rule.
_ON_FIELDS = ("on", "decided_on")

_WORKFLOW_KEYS = {
    "id",
    "version",
    "name",
    "jurisdiction",
    "calendar",
    "source",
    "verify",
    "notes",
    "initial_stage",
    "stages",
    "transitions",
}
_REQUIRED_WORKFLOW_KEYS = (
    "id",
    "version",
    "name",
    "jurisdiction",
    "calendar",
    "source",
    "initial_stage",
    "stages",
    "transitions",
)
_STAGE_KEYS = {"id", "label", "terminal", "deadline", "notes"}
_DEADLINE_KEYS = {"days", "unit", "kind", "label", "notes"}
_TRANSITION_KEYS = {
    "id",
    "label",
    "from",
    "to",
    "permission",
    "required_fields",
    "consent",
    "decision",
    "notify",
    "allowed_before_minimum",
    "notes",
}
_SOURCE_KEYS = {"title", "publisher", "url", "note"}


class WorkflowDefinitionError(ValueError):
    """A workflow file is malformed; the message names the file and the offending entry."""


class UnknownWorkflowError(ValueError):
    """No workflow has this id; the message names the known ids."""


class UnknownStageError(ValueError):
    """The workflow has no stage with this id; the message names the known stages."""


class TransitionRefused(ValueError):  # noqa: N818 - the name other modules import
    """The transition may not be taken now; ``str(error)`` is a reason for a person."""

    def __init__(self, reason: str, *, transition: str | None = None) -> None:
        self.reason = reason
        self.transition = transition
        super().__init__(reason)


@dataclass(frozen=True)
class Stage:
    id: str
    label: str
    terminal: bool
    deadline: Deadline | None


@dataclass(frozen=True)
class Transition:
    id: str
    label: str
    from_stages: tuple[str, ...]
    to: str
    permission: str
    required_fields: tuple[str, ...]
    # "adult": consent needed unless the person is a child; "always"; "never".
    consent: str
    # (decision_type, outcome) recorded by taking the transition, e.g.
    # ("ReasonableGrounds", "Positive").
    decision: tuple[str, str] | None
    # Bodies to notify when the transition is taken, e.g. ("national_register",).
    notify: tuple[str, ...]
    # May be taken out of a stage before its minimum period ends (e.g. a withdrawal).
    allowed_before_minimum: bool = False


@dataclass(frozen=True)
class Source:
    title: str
    publisher: str | None = None
    url: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Workflow:
    id: str
    version: str
    name: str
    jurisdiction: str | None
    calendar: str
    source: tuple[Source, ...]
    initial_stage: str
    stages: dict[str, Stage] = field(hash=False)
    transitions: dict[str, Transition] = field(hash=False)
    # Values in the file not yet checked against the primary source; show them to users.
    verify: tuple[str, ...] = ()
    notes: str | None = None

    @property
    def is_template(self) -> bool:
        """A template to copy (no jurisdiction, or its calendar still the placeholder)."""
        return self.jurisdiction is None or self.calendar.strip().upper() == PLACEHOLDER_CALENDAR

    def stage(self, stage_id: str) -> Stage:
        try:
            return self.stages[stage_id]
        except KeyError:
            raise UnknownStageError(
                f"workflow {self.id!r} has no stage {stage_id!r} (stages: {', '.join(self.stages)})"
            ) from None

    def transitions_from(
        self, stage_id: str, permissions: frozenset[str] | None = None
    ) -> list[Transition]:
        """Transitions out of ``stage_id``, in file order; only those the permissions allow
        when ``permissions`` is given."""
        self.stage(stage_id)
        return [
            t
            for t in self.transitions.values()
            if stage_id in t.from_stages and (permissions is None or t.permission in permissions)
        ]


# --- loading and validation -------------------------------------------------------------------


class _Reader:
    """Checks one file's JSON, raising WorkflowDefinitionError that names the file."""

    def __init__(self, source_name: str) -> None:
        self.source_name = source_name

    def fail(self, where: str, message: str) -> WorkflowDefinitionError:
        return WorkflowDefinitionError(f"{self.source_name}: {where}: {message}")

    def keys(self, obj: object, allowed: set[str], required: Iterable[str], where: str) -> None:
        if not isinstance(obj, dict):
            raise self.fail(where, "must be a JSON object")
        unknown = sorted(set(obj) - allowed)
        if unknown:
            raise self.fail(
                where, f"unknown key(s) {unknown} (allowed: {', '.join(sorted(allowed))})"
            )
        missing = [k for k in required if k not in obj]
        if missing:
            raise self.fail(where, f"missing key(s) {missing}")

    def text(self, obj: Mapping[str, Any], key: str, where: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"{key!r} must be a non-empty string")
        return value

    def optional_text(self, obj: Mapping[str, Any], key: str, where: str) -> str | None:
        if obj.get(key) is None:
            return None
        return self.text(obj, key, where)

    def ident(self, obj: Mapping[str, Any], key: str, where: str) -> str:
        value = self.text(obj, key, where)
        if not _ID.match(value):
            raise self.fail(
                where, f"{key} {value!r} must be lower-case letters, digits, '_' or '-'"
            )
        return value

    def strings(
        self, obj: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str] | None = None
    ) -> tuple[str, ...]:
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(where, f"{key!r} must be a list of non-empty strings")
        if len(set(value)) != len(value):
            raise self.fail(where, f"{key!r} lists a value twice")
        if pattern is not None:
            bad = [v for v in value if not pattern.match(v)]
            if bad:
                raise self.fail(where, f"{key!r} has malformed value(s) {bad}")
        return tuple(value)


def _parse_deadline(reader: _Reader, raw: object, where: str) -> Deadline | None:
    if raw is None:
        return None
    reader.keys(raw, _DEADLINE_KEYS, ("days", "unit", "kind", "label"), where)
    assert isinstance(raw, dict)
    reader.optional_text(raw, "notes", where)
    days, unit, kind = raw["days"], raw["unit"], raw["kind"]
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise reader.fail(where, f"days must be a whole number ≥ 1, not {days!r}")
    if unit not in DEADLINE_UNITS:
        raise reader.fail(where, f"unit {unit!r} is not one of {list(DEADLINE_UNITS)}")
    if kind not in DEADLINE_KINDS:
        raise reader.fail(where, f"kind {kind!r} is not one of {list(DEADLINE_KINDS)}")
    return Deadline(days, unit, kind, reader.text(raw, "label", where))


def _parse_decision(reader: _Reader, raw: object, where: str) -> tuple[str, str] | None:
    if raw is None:
        return None
    reader.keys(raw, {"decision_type", "outcome"}, ("decision_type", "outcome"), where)
    assert isinstance(raw, dict)
    kind, outcome = raw["decision_type"], raw["outcome"]
    if kind not in DECISION_TYPES:
        raise reader.fail(where, f"decision_type {kind!r} is not one of {list(DECISION_TYPES)}")
    if outcome not in DECISION_OUTCOMES:
        raise reader.fail(where, f"outcome {outcome!r} is not one of {list(DECISION_OUTCOMES)}")
    return (kind, outcome)


def _check_calendar(reader: _Reader, code: str) -> None:
    if code.strip().upper() == PLACEHOLDER_CALENDAR:
        return  # a template: deadline computation refuses until it is set
    try:
        holiday_calendar(code)
    except UnknownCalendarError as error:
        raise reader.fail("calendar", str(error)) from None


def parse_workflow(data: object, source_name: str) -> Workflow:
    """Validate one workflow's parsed JSON; errors name ``source_name`` and the entry."""
    r = _Reader(source_name)
    r.keys(
        data,
        _WORKFLOW_KEYS,
        _REQUIRED_WORKFLOW_KEYS,
        "workflow",
    )
    assert isinstance(data, dict)
    workflow_id = r.ident(data, "id", "workflow")
    version = data["version"]
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str) or not version.strip():
        raise r.fail("workflow", "'version' must be a non-empty string")
    jurisdiction = data["jurisdiction"]
    if jurisdiction is not None and (
        not isinstance(jurisdiction, str) or not _JURISDICTION.match(jurisdiction)
    ):
        raise r.fail("workflow", f"jurisdiction {jurisdiction!r} must be an ISO country or null")
    calendar = r.text(data, "calendar", "workflow")
    _check_calendar(r, calendar)

    raw_sources = data["source"]
    if not isinstance(raw_sources, list) or not raw_sources:
        raise r.fail("source", "must be a non-empty list of citations")
    sources = []
    for index, raw in enumerate(raw_sources):
        where = f"source[{index}]"
        r.keys(raw, _SOURCE_KEYS, ("title",), where)
        sources.append(
            Source(
                r.text(raw, "title", where),
                r.optional_text(raw, "publisher", where),
                r.optional_text(raw, "url", where),
                r.optional_text(raw, "note", where),
            )
        )
    verify = r.strings(data, "verify", "workflow")
    notes = r.optional_text(data, "notes", "workflow")

    raw_stages = data["stages"]
    if not isinstance(raw_stages, list) or not raw_stages:
        raise r.fail("stages", "must be a non-empty list")
    stages: dict[str, Stage] = {}
    for index, raw in enumerate(raw_stages):
        where = f"stages[{index}]"
        r.keys(raw, _STAGE_KEYS, ("id", "label", "terminal"), where)
        stage_id = r.ident(raw, "id", where)
        where = f"stage {stage_id!r}"
        r.optional_text(raw, "notes", where)
        if stage_id in stages:
            raise r.fail(where, "duplicate stage id")
        terminal = raw["terminal"]
        if not isinstance(terminal, bool):
            raise r.fail(where, "'terminal' must be true or false")
        deadline = _parse_deadline(r, raw.get("deadline"), f"{where} deadline")
        if terminal and deadline is not None:
            raise r.fail(where, "a terminal stage has no deadline")
        stages[stage_id] = Stage(stage_id, r.text(raw, "label", where), terminal, deadline)

    initial = r.text(data, "initial_stage", "workflow")
    if initial not in stages:
        raise r.fail("initial_stage", f"unknown stage {initial!r} (stages: {', '.join(stages)})")

    raw_transitions = data["transitions"]
    if not isinstance(raw_transitions, list) or not raw_transitions:
        raise r.fail("transitions", "must be a non-empty list")
    transitions: dict[str, Transition] = {}
    for index, raw in enumerate(raw_transitions):
        where = f"transitions[{index}]"
        r.keys(
            raw,
            _TRANSITION_KEYS,
            ("id", "label", "from", "to", "permission", "required_fields", "consent"),
            where,
        )
        transition_id = r.ident(raw, "id", where)
        where = f"transition {transition_id!r}"
        r.optional_text(raw, "notes", where)
        if transition_id in transitions:
            raise r.fail(where, "duplicate transition id")
        from_stages = r.strings(raw, "from", where)
        if not from_stages:
            raise r.fail(where, "'from' must name at least one stage")
        to = r.text(raw, "to", where)
        for stage_id in (*from_stages, to):
            if stage_id not in stages:
                raise r.fail(where, f"unknown stage {stage_id!r} (stages: {', '.join(stages)})")
        permission = r.text(raw, "permission", where)
        if not _PERMISSION.match(permission):
            raise r.fail(where, f"permission {permission!r} must be a 'resource:action' string")
        consent = raw["consent"]
        if consent not in CONSENT_RULES:
            raise r.fail(where, f"consent {consent!r} is not one of {list(CONSENT_RULES)}")
        allowed_before_minimum = raw.get("allowed_before_minimum", False)
        if not isinstance(allowed_before_minimum, bool):
            raise r.fail(where, "'allowed_before_minimum' must be true or false")
        transitions[transition_id] = Transition(
            id=transition_id,
            label=r.text(raw, "label", where),
            from_stages=from_stages,
            to=to,
            permission=permission,
            required_fields=r.strings(raw, "required_fields", where, _FIELD),
            consent=consent,
            decision=_parse_decision(r, raw.get("decision"), f"{where} decision"),
            notify=r.strings(raw, "notify", where, _FIELD),
            allowed_before_minimum=allowed_before_minimum,
        )

    _check_graph(r, initial, stages, transitions)
    return Workflow(
        id=workflow_id,
        version=version,
        name=r.text(data, "name", "workflow"),
        jurisdiction=jurisdiction,
        calendar=calendar,
        source=tuple(sources),
        initial_stage=initial,
        stages=stages,
        transitions=transitions,
        verify=verify,
        notes=notes,
    )


def _check_graph(
    r: _Reader, initial: str, stages: dict[str, Stage], transitions: dict[str, Transition]
) -> None:
    """Every stage is reachable from the initial one; every non-terminal stage has a way out."""
    reached = {initial}
    frontier = [initial]
    while frontier:
        here = frontier.pop()
        for t in transitions.values():
            if here in t.from_stages and t.to not in reached:
                reached.add(t.to)
                frontier.append(t.to)
    unreachable = [s for s in stages if s not in reached]
    if unreachable:
        raise r.fail("stages", f"not reachable from {initial!r}: {', '.join(unreachable)}")
    for stage in stages.values():
        if stage.terminal:
            continue
        if not any(stage.id in t.from_stages for t in transitions.values()):
            raise r.fail(f"stage {stage.id!r}", "is not terminal but no transition leaves it")


def load_workflow_file(path: str | Path) -> Workflow:
    """Load and validate one workflow file (e.g. a copied template being edited)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise WorkflowDefinitionError(f"{path.name}: not valid JSON: {error}") from None
    return parse_workflow(data, path.name)


@cache
def _load_all() -> tuple[Workflow, ...]:
    folder = resources.files(_DATA_PACKAGE).joinpath(*_DATA_FOLDER)
    loaded: dict[str, tuple[str, Workflow]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise WorkflowDefinitionError(f"{entry.name}: not valid JSON: {error}") from None
        item = parse_workflow(data, entry.name)
        if item.id in loaded:
            raise WorkflowDefinitionError(
                f"{entry.name}: workflow id {item.id!r} is also used by {loaded[item.id][0]}"
            )
        loaded[item.id] = (entry.name, item)
    return tuple(sorted((w for _, w in loaded.values()), key=lambda w: w.id))


def workflows() -> list[Workflow]:
    """Every built-in workflow, validated, sorted by id (loaded once)."""
    return list(_load_all())


def workflow(workflow_id: str) -> Workflow:
    for item in _load_all():
        if item.id == workflow_id:
            return item
    known = ", ".join(w.id for w in _load_all())
    raise UnknownWorkflowError(f"unknown workflow {workflow_id!r} (known: {known})")


# --- transitions and deadlines --------------------------------------------------------------


def _date_field(fields: Mapping[str, object], key: str, transition: str) -> dt.date | None:
    value = fields.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise TransitionRefused(
        f"'{key}' must be a date (YYYY-MM-DD) for '{transition}'", transition=transition
    )


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return len(value) == 0
    return False


def earliest_exit(workflow: Workflow, stage_id: str, entered_on: dt.date) -> dt.date | None:
    """The first day a stage with a minimum period may be left, or None if it has none."""
    stage = workflow.stage(stage_id)
    if stage.deadline is None or stage.deadline.kind != "minimum":
        return None
    return deadline_date(entered_on, stage.deadline, workflow.calendar)


def _check_minimum_period(
    workflow: Workflow, stage: Stage, transition: Transition, fields: Mapping[str, object]
) -> None:
    """Refuse leaving ``stage`` before its minimum period ends (when the dates are known)."""
    deadline = stage.deadline
    if deadline is None or deadline.kind != "minimum":
        return
    entered = _date_field(fields, "stage_entered_on", transition.id)
    on = None
    for key in _ON_FIELDS:
        on = _date_field(fields, key, transition.id)
        if on is not None:
            break
    if entered is None or on is None:
        return
    try:
        earliest = deadline_date(entered, deadline, workflow.calendar)
    except UnknownCalendarError as error:
        raise TransitionRefused(
            f"cannot check the minimum period of '{stage.label}': {error}",
            transition=transition.id,
        ) from error
    if on < earliest:
        raise TransitionRefused(
            f"'{transition.label}' cannot be taken before {earliest.isoformat()}: "
            f"'{deadline.label}' lasts at least {deadline.days} {deadline.unit} days from "
            f"{entered.isoformat()}",
            transition=transition.id,
        )


def check_transition(
    workflow: Workflow,
    transition_id: str,
    current_stage: str,
    permissions: frozenset[str],
    fields: Mapping[str, object],
    consent_given: bool | None,
    is_child: bool | None,
) -> Transition:
    """The transition, if it may be taken now; else :class:`TransitionRefused` with a reason.

    Refused when the transition is unknown, does not leave ``current_stage``, needs a
    permission the caller lacks, lacks a required field, needs consent that was not given
    (rule "adult": unless ``is_child`` is True — an unknown age counts as an adult), or would
    leave a stage before its minimum period ends. The last check runs when ``fields`` carries
    the stage's ``stage_entered_on`` and the transition's date as ``on`` (or ``decided_on``).
    Reasons never quote field values (they may identify a person).
    """
    transition = workflow.transitions.get(transition_id)
    if transition is None:
        raise TransitionRefused(
            f"'{workflow.name}' has no step '{transition_id}' "
            f"(steps: {', '.join(workflow.transitions)})",
            transition=transition_id,
        )
    if current_stage not in workflow.stages:
        raise TransitionRefused(
            f"the referral's stage '{current_stage}' is not a stage of '{workflow.name}'",
            transition=transition_id,
        )
    stage = workflow.stages[current_stage]
    if current_stage not in transition.from_stages:
        allowed = workflow.transitions_from(current_stage)
        allowed_text = ", ".join(f"'{t.id}' ({t.label})" for t in allowed) if allowed else "none"
        raise TransitionRefused(
            f"'{transition.label}' cannot be taken at stage '{stage.id}' ({stage.label}); "
            f"allowed from this stage: {allowed_text}",
            transition=transition_id,
        )
    if transition.permission not in permissions:
        raise TransitionRefused(
            f"your role does not allow '{transition.label}' "
            f"(it needs the permission '{transition.permission}')",
            transition=transition_id,
        )
    missing = [name for name in transition.required_fields if _blank(fields.get(name))]
    if missing:
        raise TransitionRefused(
            f"'{transition.label}' needs {', '.join(repr(m) for m in missing)}: "
            f"{'it is' if len(missing) == 1 else 'they are'} missing or blank",
            transition=transition_id,
        )
    needs_consent = transition.consent == "always" or (
        transition.consent == "adult" and is_child is not True
    )
    if needs_consent and consent_given is not True:
        who = (
            "the person"
            if transition.consent == "always"
            else "an adult (or a person whose age is not known)"
        )
        raise TransitionRefused(
            f"'{transition.label}' needs the consent of {who}: record their informed consent first",
            transition=transition_id,
        )
    if not transition.allowed_before_minimum:
        _check_minimum_period(workflow, stage, transition, fields)
    return transition


def due_on(workflow: Workflow, stage_id: str, entered_on: dt.date) -> dt.date | None:
    """The date of the stage's deadline for a stage entered on ``entered_on`` (None if it
    has no deadline). For a "minimum" deadline this is the day the minimum period ends."""
    stage = workflow.stage(stage_id)
    if stage.deadline is None:
        return None
    return deadline_date(entered_on, stage.deadline, workflow.calendar)
