"""The identification and referral workflow engine and the jurisdictions' workflow files.

Expected dates are counted by hand in the comments (day 0 is the day the stage is entered).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tiphub.screening.deadlines import UnknownCalendarError
from tiphub.screening.workflow import (
    DECISION_OUTCOMES,
    DECISION_TYPES,
    TransitionRefused,
    UnknownStageError,
    UnknownWorkflowError,
    Workflow,
    WorkflowDefinitionError,
    check_transition,
    due_on,
    earliest_exit,
    load_workflow_file,
    parse_workflow,
    workflow,
    workflows,
)

D = dt.date
REFER = frozenset({"workflow:refer"})
DECIDE = frozenset({"workflow:decide"})
EVERYTHING = frozenset({"workflow:refer", "workflow:decide", "workflow:withdraw"})
DECISION = {"grounds": "objective indicators", "decided_by": "SCA", "decided_on": "2027-01-05"}
REFERRAL = {"referred_by": "first responder", "referred_on": "2026-12-24"}
FOLDER = Path(str(resources.files("tiphub.screening").joinpath("data", "workflows")))


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FOLDER / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def uk() -> Workflow:
    return workflow("uk-nrm")


@pytest.fixture(scope="module")
def ro() -> Workflow:
    return workflow("ro-nmir")


# --- the files ----------------------------------------------------------------------------


def test_every_workflow_file_loads() -> None:
    files = sorted(p.name for p in FOLDER.glob("*.json"))
    assert files == ["generic.json", "ro-nmir.json", "uk-nrm.json"]
    for name in files:
        loaded = load_workflow_file(FOLDER / name)
        assert loaded.id == name.removesuffix(".json")
        assert loaded.source, name
    assert [w.id for w in workflows()] == ["generic", "ro-nmir", "uk-nrm"]
    assert (FOLDER / "README.md").is_file()


def test_workflows_are_cached_and_frozen(uk: Workflow) -> None:
    assert workflow("uk-nrm") is uk
    with pytest.raises(dataclasses.FrozenInstanceError):
        uk.calendar = "RO"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        uk.stage("referred").terminal = True  # type: ignore[misc]


def test_jurisdictions_and_calendars() -> None:
    assert (workflow("uk-nrm").jurisdiction, workflow("uk-nrm").calendar) == ("GB", "GB-ENG")
    assert (workflow("ro-nmir").jurisdiction, workflow("ro-nmir").calendar) == ("RO", "RO")
    generic = workflow("generic")
    assert generic.jurisdiction is None
    assert generic.is_template
    assert not workflow("uk-nrm").is_template


def test_jurisdiction_files_mark_what_must_be_verified() -> None:
    for workflow_id in ("uk-nrm", "ro-nmir", "generic"):
        assert workflow(workflow_id).verify, workflow_id
    titles = " ".join(s.title for s in workflow("uk-nrm").source)
    assert "Modern Slavery: Statutory Guidance for England and Wales" in titles
    ro_titles = " ".join(s.title for s in workflow("ro-nmir").source)
    assert "678/2001" in ro_titles
    assert "335/2007" in ro_titles


def test_permissions_decisions_and_consent_rules_are_from_the_contract() -> None:
    for item in workflows():
        for t in item.transitions.values():
            assert t.permission in EVERYTHING, (item.id, t.id)
            assert t.consent in ("adult", "always", "never"), (item.id, t.id)
            if t.decision is not None:
                assert t.decision[0] in DECISION_TYPES
                assert t.decision[1] in DECISION_OUTCOMES


def test_uk_stages_and_decisions(uk: Workflow) -> None:
    assert uk.initial_stage == "potential_victim"
    assert uk.transitions["refer"].consent == "adult"
    assert uk.transitions["rg_positive"].decision == ("ReasonableGrounds", "Positive")
    assert uk.transitions["rg_negative"].decision == ("ReasonableGrounds", "Negative")
    assert uk.transitions["cg_positive"].decision == ("ConclusiveGrounds", "Positive")
    assert uk.transitions["cg_negative"].decision == ("ConclusiveGrounds", "Negative")
    assert uk.transitions["rg_positive"].required_fields == ("grounds", "decided_by", "decided_on")
    referred = uk.stage("referred").deadline
    assert referred is not None
    assert (referred.days, referred.unit, referred.kind) == (5, "working", "target")
    recovery = uk.stage("recovery_period").deadline
    assert recovery is not None
    assert (recovery.days, recovery.unit, recovery.kind) == (30, "calendar", "minimum")
    assert uk.stage("conclusive_positive").terminal
    assert not uk.stage("referred").terminal
    assert "withdrawn" in uk.stages
    assert uk.transitions["withdraw"].required_fields[0] == "reason"


def test_romania_notifies_the_national_register(ro: Workflow) -> None:
    assert ro.transitions["identify_presumed"].notify == ("national_register",)
    assert ro.transitions["identify_victim"].notify == ("national_register",)
    assert ro.transitions["identify_presumed"].to == "presumed_victim"
    assert ro.transitions["identify_victim"].to == "identified_victim"
    reflection = ro.stage("presumed_victim").deadline
    assert reflection is not None
    assert (reflection.days, reflection.unit, reflection.kind) == (90, "calendar", "minimum")


def test_an_unknown_workflow_names_the_known_ones() -> None:
    with pytest.raises(UnknownWorkflowError, match="generic, ro-nmir, uk-nrm"):
        workflow("fr-mnr")


def test_an_unknown_stage_names_the_known_ones(uk: Workflow) -> None:
    with pytest.raises(UnknownStageError, match="recovery_period"):
        uk.stage("limbo")
    with pytest.raises(UnknownStageError):
        uk.transitions_from("limbo")


# --- which transitions a user sees ---------------------------------------------------------


def test_transitions_from_a_stage_filtered_by_permission(uk: Workflow) -> None:
    assert [t.id for t in uk.transitions_from("referred")] == [
        "rg_positive",
        "rg_negative",
        "withdraw",
    ]
    assert [t.id for t in uk.transitions_from("referred", DECIDE)] == [
        "rg_positive",
        "rg_negative",
    ]
    assert uk.transitions_from("referred", REFER) == []
    assert [t.id for t in uk.transitions_from("potential_victim", REFER)] == [
        "refer",
        "notify_without_referral",
    ]
    assert uk.transitions_from("conclusive_positive") == []


# --- check_transition ----------------------------------------------------------------------


def test_referral_allowed_with_permission_and_consent(uk: Workflow) -> None:
    taken = check_transition(uk, "refer", "potential_victim", REFER, REFERRAL, True, False)
    assert taken.to == "referred"


def test_refused_without_the_permission(uk: Workflow) -> None:
    with pytest.raises(TransitionRefused, match="your role does not allow") as refused:
        check_transition(uk, "rg_positive", "referred", REFER, DECISION, None, None)
    assert "workflow:decide" in str(refused.value)
    # The same call with the permission passes.
    assert check_transition(uk, "rg_positive", "referred", DECIDE, DECISION, None, None)


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_missing_required_field_is_named(uk: Workflow, blank: str | None) -> None:
    fields: dict[str, object] = {**DECISION}
    if blank is None:
        del fields["grounds"]
    else:
        fields["grounds"] = blank
    with pytest.raises(TransitionRefused, match="'grounds'") as refused:
        check_transition(uk, "rg_positive", "referred", DECIDE, fields, None, None)
    assert "decided_by" not in str(refused.value)


def test_every_missing_field_is_named(uk: Workflow) -> None:
    with pytest.raises(TransitionRefused) as refused:
        check_transition(uk, "rg_negative", "referred", DECIDE, {}, None, None)
    for name in ("grounds", "decided_by", "decided_on"):
        assert f"'{name}'" in str(refused.value)


def test_an_adult_without_consent_is_not_referred(uk: Workflow) -> None:
    for consent in (False, None):
        with pytest.raises(TransitionRefused, match="consent"):
            check_transition(uk, "refer", "potential_victim", REFER, REFERRAL, consent, False)


def test_a_child_is_referred_without_consent(uk: Workflow) -> None:
    taken = check_transition(uk, "refer", "potential_victim", REFER, REFERRAL, False, True)
    assert taken.id == "refer"
    assert check_transition(uk, "refer", "potential_victim", REFER, REFERRAL, None, True)


def test_a_person_of_unknown_age_counts_as_an_adult(uk: Workflow) -> None:
    with pytest.raises(TransitionRefused, match="age is not known"):
        check_transition(uk, "refer", "potential_victim", REFER, REFERRAL, None, None)
    assert check_transition(uk, "refer", "potential_victim", REFER, REFERRAL, True, None)


def test_decisions_need_no_consent(uk: Workflow) -> None:
    assert check_transition(uk, "rg_negative", "referred", DECIDE, DECISION, False, False)


def test_a_transition_from_the_wrong_stage_names_the_allowed_ones(uk: Workflow) -> None:
    with pytest.raises(TransitionRefused) as refused:
        check_transition(uk, "cg_positive", "referred", EVERYTHING, DECISION, True, False)
    reason = str(refused.value)
    assert "'referred'" in reason
    for allowed in ("'rg_positive'", "'rg_negative'", "'withdraw'"):
        assert allowed in reason
    assert "'cg_negative'" not in reason


def test_a_terminal_stage_allows_nothing(uk: Workflow) -> None:
    with pytest.raises(TransitionRefused, match="allowed from this stage: none"):
        check_transition(uk, "withdraw", "conclusive_positive", EVERYTHING, {}, True, False)


def test_an_unknown_transition_or_stage_is_refused(uk: Workflow) -> None:
    with pytest.raises(TransitionRefused, match="no step 'escalate'"):
        check_transition(uk, "escalate", "referred", EVERYTHING, {}, True, False)
    with pytest.raises(TransitionRefused, match="'limbo' is not a stage"):
        check_transition(uk, "refer", "limbo", EVERYTHING, REFERRAL, True, False)


def test_conclusive_grounds_inside_the_recovery_period_is_refused(uk: Workflow) -> None:
    # Positive RG on Mon 1 Mar 2027 (day 0): day 30 of the recovery period is Wed 31 Mar
    # (1 Mar + 30 calendar days), the first day a CG decision may be recorded.
    fields: dict[str, object] = {**DECISION, "stage_entered_on": D(2027, 3, 1)}
    with pytest.raises(TransitionRefused, match="2027-03-31") as refused:
        check_transition(
            uk,
            "cg_positive",
            "recovery_period",
            DECIDE,
            {**fields, "on": D(2027, 3, 30)},
            None,
            None,
        )
    assert "Recovery period" in str(refused.value)
    with pytest.raises(TransitionRefused, match="2027-03-31"):
        check_transition(
            uk,
            "cg_negative",
            "recovery_period",
            DECIDE,
            {**fields, "on": D(2027, 3, 2)},
            None,
            None,
        )
    assert check_transition(
        uk, "cg_positive", "recovery_period", DECIDE, {**fields, "on": D(2027, 3, 31)}, None, None
    )
    # Moving on to "awaiting conclusive grounds" waits for the period too.
    with pytest.raises(TransitionRefused, match="2027-03-31"):
        check_transition(
            uk,
            "recovery_period_ended",
            "recovery_period",
            DECIDE,
            {"stage_entered_on": D(2027, 3, 1), "on": D(2027, 3, 15)},
            None,
            None,
        )


def test_the_decision_date_is_used_when_no_on_date_is_given(uk: Workflow) -> None:
    fields = {**DECISION, "stage_entered_on": "2027-03-01", "decided_on": "2027-03-15"}
    with pytest.raises(TransitionRefused, match="2027-03-31"):
        check_transition(uk, "cg_positive", "recovery_period", DECIDE, fields, None, None)
    fields["decided_on"] = "2027-04-01"
    assert check_transition(uk, "cg_positive", "recovery_period", DECIDE, fields, None, None)


def test_a_malformed_date_is_refused_without_quoting_it(uk: Workflow) -> None:
    fields = {**DECISION, "stage_entered_on": "first of March", "on": D(2027, 3, 31)}
    with pytest.raises(TransitionRefused, match="'stage_entered_on' must be a date") as refused:
        check_transition(uk, "cg_positive", "recovery_period", DECIDE, fields, None, None)
    assert "first of March" not in str(refused.value)


def test_withdrawal_is_allowed_during_the_recovery_period(uk: Workflow) -> None:
    fields = {
        "reason": "the person asked to leave",
        "withdrawn_on": "2027-03-02",
        "stage_entered_on": D(2027, 3, 1),
        "on": D(2027, 3, 2),
    }
    taken = check_transition(uk, "withdraw", "recovery_period", EVERYTHING, fields, None, None)
    assert taken.to == "withdrawn"


def test_romanian_reflection_period(ro: Workflow) -> None:
    # Presumed victim on Thu 1 Oct 2026 (day 0): 1 Oct + 30 = 31 Oct, + 30 = 30 Nov,
    # + 30 = 30 Dec 2026.
    assert due_on(ro, "presumed_victim", D(2026, 10, 1)) == D(2026, 12, 30)
    fields = {**DECISION, "stage_entered_on": D(2026, 10, 1), "on": D(2026, 11, 2)}
    with pytest.raises(TransitionRefused, match="2026-12-30"):
        check_transition(ro, "not_identified", "presumed_victim", DECIDE, fields, None, None)
    # A positive identification does not wait for the end of the reflection period.
    taken = check_transition(ro, "identify_victim", "presumed_victim", DECIDE, fields, None, None)
    assert taken.notify == ("national_register",)


# --- due dates -----------------------------------------------------------------------------


def test_reasonable_grounds_due_five_working_days_after_referral(uk: Workflow) -> None:
    # Referred Mon 2 Mar 2026: Tue 3 (1), Wed 4 (2), Thu 5 (3), Fri 6 (4), Mon 9 Mar (5).
    assert due_on(uk, "referred", D(2026, 3, 2)) == D(2026, 3, 9)
    # Referred Thu 24 Dec 2026: Fri 25 Christmas, weekend, Mon 28 Boxing Day substitute;
    # Tue 29 (1), Wed 30 (2), Thu 31 (3), Fri 1 Jan holiday, weekend, Mon 4 (4), Tue 5 Jan (5).
    assert due_on(uk, "referred", D(2026, 12, 24)) == D(2027, 1, 5)
    # Referred Wed 24 Mar 2027: Thu 25 (1), Good Friday, weekend, Easter Monday skipped,
    # Tue 30 (2), Wed 31 (3), Thu 1 Apr (4), Fri 2 Apr (5).
    assert due_on(uk, "referred", D(2027, 3, 24)) == D(2027, 4, 2)


def test_recovery_period_end_and_stages_without_deadline(uk: Workflow) -> None:
    # 1 Mar 2027 + 30 calendar days = 31 Mar 2027.
    assert due_on(uk, "recovery_period", D(2027, 3, 1)) == D(2027, 3, 31)
    assert earliest_exit(uk, "recovery_period", D(2027, 3, 1)) == D(2027, 3, 31)
    assert earliest_exit(uk, "referred", D(2027, 3, 1)) is None  # a target, not a minimum
    assert due_on(uk, "potential_victim", D(2027, 3, 1)) is None
    assert due_on(uk, "conclusive_positive", D(2027, 3, 1)) is None


def test_the_generic_template_refuses_deadlines_until_its_calendar_is_set() -> None:
    generic = workflow("generic")
    with pytest.raises(UnknownCalendarError, match="placeholder"):
        due_on(generic, "referred", D(2026, 6, 9))
    fields = {**DECISION, "stage_entered_on": D(2026, 6, 9), "on": D(2026, 9, 1)}
    with pytest.raises(TransitionRefused, match="placeholder"):
        check_transition(
            generic, "final_positive", "preliminary_positive", DECIDE, fields, None, None
        )


def test_a_copy_of_the_generic_template_works_once_configured() -> None:
    data = raw("generic.json")
    data.update(id="pt-test", jurisdiction="PT", calendar="PT", name="Portugal (test copy)")
    copied = parse_workflow(data, "pt-test.json")
    assert not copied.is_template
    # Portugal Day Wed 10 Jun 2026. From Tue 9 Jun: Thu 11 (1), Fri 12 (2), Mon 15 (3),
    # Tue 16 (4), Wed 17 (5).
    assert due_on(copied, "referred", D(2026, 6, 9)) == D(2026, 6, 17)


# --- validation at load ---------------------------------------------------------------------


def _broken(change: Any) -> str:
    data = copy.deepcopy(raw("uk-nrm.json"))
    change(data)
    with pytest.raises(WorkflowDefinitionError) as error:
        parse_workflow(data, "broken.json")
    message = str(error.value)
    assert message.startswith("broken.json: ")
    return message


def _stage(data: dict[str, Any], stage_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in data["stages"] if s["id"] == stage_id)
    return found


def _transition(data: dict[str, Any], transition_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in data["transitions"] if t["id"] == transition_id)
    return found


def test_load_refuses_an_unknown_stage_reference() -> None:
    message = _broken(lambda d: _transition(d, "rg_positive").update(to="nowhere"))
    assert "'rg_positive'" in message
    assert "'nowhere'" in message
    message = _broken(lambda d: _transition(d, "withdraw")["from"].append("limbo"))
    assert "'limbo'" in message
    message = _broken(lambda d: d.update(initial_stage="start"))
    assert "initial_stage" in message
    assert "'start'" in message


def test_load_refuses_duplicate_ids() -> None:
    message = _broken(lambda d: d["stages"].append(copy.deepcopy(d["stages"][0])))
    assert "duplicate stage id" in message
    message = _broken(lambda d: d["transitions"].append(copy.deepcopy(d["transitions"][0])))
    assert "duplicate transition id" in message


def test_load_refuses_bad_deadlines() -> None:
    message = _broken(lambda d: _stage(d, "referred")["deadline"].update(unit="weeks"))
    assert "'weeks'" in message
    assert "stage 'referred'" in message
    assert "kind" in _broken(lambda d: _stage(d, "referred")["deadline"].update(kind="maximum"))
    assert "days" in _broken(lambda d: _stage(d, "referred")["deadline"].update(days=0))
    message = _broken(
        lambda d: _stage(d, "withdrawn").update(deadline=_stage(d, "referred")["deadline"])
    )
    assert "terminal stage has no deadline" in message


def test_load_refuses_bad_transition_rules() -> None:
    assert "consent" in _broken(lambda d: _transition(d, "refer").update(consent="sometimes"))
    assert "resource:action" in _broken(
        lambda d: _transition(d, "refer").update(permission="refer")
    )
    message = _broken(
        lambda d: _transition(d, "rg_positive")["decision"].update(decision_type="Hunch")
    )
    assert "'Hunch'" in message


def test_load_refuses_unknown_keys_and_calendars() -> None:
    assert "'permisson'" in _broken(lambda d: _transition(d, "refer").update(permisson="x"))
    assert "'XX-YY'" in _broken(lambda d: d.update(calendar="XX-YY"))


def test_load_refuses_unreachable_and_dead_end_stages() -> None:
    def orphan(d: dict[str, Any]) -> None:
        d["stages"].append({"id": "orphan", "label": "Orphan", "terminal": True})

    assert "not reachable" in _broken(orphan)

    def dead_end(d: dict[str, Any]) -> None:
        _stage(d, "withdrawn")["terminal"] = False

    assert "no transition leaves it" in _broken(dead_end)


def test_a_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "xx-test.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(WorkflowDefinitionError, match=r"xx-test\.json"):
        load_workflow_file(path)
