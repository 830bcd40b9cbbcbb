"""Screening instruments as data and their scoring rules, checked exhaustively against
re-statements of the published rules written here, not taken from the implementation."""

from __future__ import annotations

import copy
import itertools
import json
from importlib import resources
from typing import Any

import pytest

from tiphub.screening.instruments import (
    AnswersError,
    Instrument,
    InstrumentDataError,
    UnknownInstrumentError,
    available_languages,
    catalogue,
    instrument,
    instrument_from_dict,
    instruments,
    parse_answers,
    score,
)

EC = "ilo-ec-2009-adult-labour"
RECRUITMENT = (
    "deceptive_recruitment",
    "coercive_recruitment",
    "recruitment_abuse_of_vulnerability",
)
DESTINATION = ("coercion_at_destination", "abuse_of_vulnerability_at_destination")
EC_DIMENSIONS = (*RECRUITMENT, "exploitative_conditions", *DESTINATION)
REQUIRED_RESULT_KEYS = {
    "instrument",
    "version",
    "dimensions",
    "positive",
    "indicators_present",
    "unverified_items_used",
    "explanation",
}


def raw_instrument(instrument_id: str) -> dict[str, Any]:
    path = resources.files("tiphub.screening").joinpath(
        "data", "instruments", f"{instrument_id}.json"
    )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def ilo_ec_dimension_rule(strong: int, medium: int, weak: int) -> bool:
    """The brochure's rule as the notes state it: at least 2 strong; or 1 strong + 1 medium
    or weak; or 3 medium; or 2 medium + 1 weak."""
    return (
        strong >= 2
        or (strong >= 1 and medium + weak >= 1)
        or medium >= 3
        or (medium >= 2 and weak >= 1)
    )


def ilo_ec_overall_rule(verdicts: dict[str, bool]) -> bool:
    return (
        any(verdicts[d] for d in RECRUITMENT)
        and verdicts["exploitative_conditions"]
        and any(verdicts[d] for d in DESTINATION)
    )


def items_by_grade(chosen: Instrument, dimension: str, grade: str) -> list[str]:
    return [i.id for i in chosen.items_of(dimension) if i.strength == grade]


def dimension_answers(
    chosen: Instrument, dimension: str, strong: int, medium: int, weak: int
) -> dict[str, bool]:
    """Every item of the dimension answered: the first n of each grade yes, the rest no."""
    yes = set(
        items_by_grade(chosen, dimension, "strong")[:strong]
        + items_by_grade(chosen, dimension, "medium")[:medium]
        + items_by_grade(chosen, dimension, "weak")[:weak]
    )
    assert len(yes) == strong + medium + weak
    return {item.id: item.id in yes for item in chosen.items_of(dimension)}


# -- the data ----------------------------------------------------------------------------------


def test_the_shipped_instruments_load_and_are_consistent() -> None:
    loaded = {item.id: item for item in instruments()}
    assert set(loaded) >= {
        "palermo-amp",
        "us-amp",
        "ilo-11",
        EC,
        "qyit",
        "sscst",
        "unodc-forced-criminality",
    }
    for chosen in loaded.values():
        assert chosen.language == "en"
        assert chosen.verified == all(item.verified for item in chosen.indicators), chosen.id
        ids = [item.id for item in chosen.indicators]
        assert len(ids) == len(set(ids)), chosen.id
        for item in chosen.indicators:
            assert item.id.startswith(f"{item.dimension}."), item.id
            assert item.answers == ("yes", "no")
            assert item.strength in (None, "strong", "medium", "weak")


def test_ilo_ec_has_the_67_graded_indicators_in_six_dimensions() -> None:
    chosen = instrument(EC)
    assert chosen.version == "2009.09-tiphub.1"
    assert [d.id for d in chosen.dimensions] == list(EC_DIMENSIONS)
    sizes = [len(chosen.items_of(d)) for d in EC_DIMENSIONS]
    assert sizes == [10, 10, 16, 9, 15, 7]
    assert len(chosen.indicators) == 67
    assert all(item.strength in ("strong", "medium", "weak") for item in chosen.indicators)
    # The whole table and its rule are [verify] in the notes.
    assert not chosen.verified
    assert not any(item.verified for item in chosen.indicators)
    assert not chosen.rule.verified
    grades = {item.id: item.strength for item in chosen.indicators}
    for slug in (
        "confiscation_of_documents",
        "debt_bondage",
        "isolation_confinement_or_surveillance",
    ):
        assert grades[f"coercive_recruitment.{slug}"] == "medium"
        assert grades[f"coercion_at_destination.{slug}"] == "strong"
    for slug in ("difficulties_in_the_past", "difficulty_to_organise_travel"):
        disputed = chosen.indicator(f"recruitment_abuse_of_vulnerability.{slug}")
        assert disputed.strength == "weak" and disputed.note and "medium" in disputed.note
    counts = {
        dimension: tuple(
            len(items_by_grade(chosen, dimension, g)) for g in ("strong", "medium", "weak")
        )
        for dimension in EC_DIMENSIONS
    }
    assert counts == {
        "deceptive_recruitment": (1, 8, 1),
        "coercive_recruitment": (1, 9, 0),
        "recruitment_abuse_of_vulnerability": (0, 12, 4),
        "exploitative_conditions": (1, 7, 1),
        "coercion_at_destination": (4, 10, 1),
        "abuse_of_vulnerability_at_destination": (0, 5, 2),
    }


def test_the_ilo_ec_rule_is_data_in_the_file() -> None:
    rule = raw_instrument(EC)["rule"]
    assert rule["type"] == "ilo_ec_dimensions"
    assert rule["verified"] is False
    assert len(rule["dimension_positive_when"]) == 4
    assert "all_of" in rule["positive_when"]


def test_a_revised_threshold_is_a_data_change() -> None:
    data = raw_instrument(EC)
    answers = {
        "deceptive_recruitment.nature_of_job_location_or_employer": True,
        "deceptive_recruitment.wages_earnings": True,
    }
    assert score(instrument_from_dict(data), answers).dimensions["deceptive_recruitment"]
    stricter = copy.deepcopy(data)
    stricter["rule"]["dimension_positive_when"] = [[{"grades": ["strong"], "at_least": 2}]]
    assert not score(instrument_from_dict(stricter), answers).dimensions["deceptive_recruitment"]


def test_other_instruments_are_marked_as_the_notes_say() -> None:
    assert instrument("ilo-11").verified and len(instrument("ilo-11").indicators) == 11
    palermo = instrument("palermo-amp")
    assert not palermo.indicator("age.under_18").verified
    assert palermo.rule.means_not_needed_verified is False
    assert all(i.verified for i in palermo.indicators if i.dimension != "age")
    assert [len(palermo.items_of(d)) for d in ("act", "means", "purpose")] == [5, 8, 5]
    for unverified in ("qyit", "sscst", "unodc-forced-criminality"):
        chosen = instrument(unverified)
        assert not chosen.verified and not any(i.verified for i in chosen.indicators)
    assert "publication" in instrument("qyit").source
    assert len(instrument("qyit").indicators) == 4
    assert len(instrument("sscst").indicators) == 6
    assert not instrument("unodc-forced-criminality").rule.verified


def test_unknown_instrument_names_the_id_and_the_known_ones() -> None:
    with pytest.raises(UnknownInstrumentError) as caught:
        instrument("ilo-99")
    assert isinstance(caught.value, ValueError)
    assert "ilo-99" in str(caught.value) and "palermo-amp" in str(caught.value)


# -- ILO/EC rules, exhaustively ---------------------------------------------------------------


def test_ilo_ec_dimension_rule_on_every_count_combination_of_the_shipped_rule() -> None:
    """The shipped rule on a dimension with enough items of each grade for the whole grid."""
    data = raw_instrument(EC)
    grid_items = [
        {
            "id": f"grid.{grade}_{n}",
            "dimension": "grid",
            "strength": grade,
            "text": f"{grade} {n}",
            "verified": False,
            "answers": ["yes", "no"],
        }
        for grade, size in (("strong", 3), ("medium", 4), ("weak", 3))
        for n in range(size)
    ]
    grid = {
        **data,
        "dimensions": [{"id": "grid", "label": "Grid"}],
        "indicators": grid_items,
        "rule": {**data["rule"], "positive_when": {"dimension": "grid"}},
    }
    chosen = instrument_from_dict(grid)
    checked = 0
    for strong, medium, weak in itertools.product(range(4), range(5), range(4)):
        answers = dimension_answers(chosen, "grid", strong, medium, weak)
        result = score(chosen, answers)
        expected = ilo_ec_dimension_rule(strong, medium, weak)
        assert result.dimensions["grid"] is expected, (strong, medium, weak)
        assert result.positive is expected
        checked += 1
    assert checked == 4 * 5 * 4


def test_ilo_ec_dimension_rule_in_every_real_dimension() -> None:
    chosen = instrument(EC)
    for dimension in EC_DIMENSIONS:
        available = [
            len(items_by_grade(chosen, dimension, g)) for g in ("strong", "medium", "weak")
        ]
        for strong, medium, weak in itertools.product(range(4), range(5), range(4)):
            if strong > available[0] or medium > available[1] or weak > available[2]:
                continue
            answers = dimension_answers(chosen, dimension, strong, medium, weak)
            verdict = score(chosen, answers).dimensions[dimension]
            assert verdict is ilo_ec_dimension_rule(strong, medium, weak), (
                dimension,
                strong,
                medium,
                weak,
            )


@pytest.mark.parametrize(
    ("dimension", "counts", "expected"),
    [
        ("coercion_at_destination", (1, 0, 1), True),  # strong + weak counts
        ("recruitment_abuse_of_vulnerability", (0, 2, 1), True),
        ("recruitment_abuse_of_vulnerability", (0, 1, 2), False),
        ("recruitment_abuse_of_vulnerability", (0, 0, 3), False),
        ("coercion_at_destination", (1, 0, 0), False),  # one strong alone does not
        ("coercion_at_destination", (2, 0, 0), True),
        ("coercive_recruitment", (0, 3, 0), True),
        ("coercive_recruitment", (0, 2, 0), False),
    ],
)
def test_ilo_ec_dimension_boundaries(
    dimension: str, counts: tuple[int, int, int], expected: bool
) -> None:
    chosen = instrument(EC)
    answers = dimension_answers(chosen, dimension, *counts)
    assert score(chosen, answers).dimensions[dimension] is expected


def test_ilo_ec_overall_rule_on_all_64_dimension_verdicts() -> None:
    chosen = instrument(EC)
    for verdicts in itertools.product((False, True), repeat=6):
        wanted = dict(zip(EC_DIMENSIONS, verdicts, strict=True))
        answers: dict[str, bool] = {}
        for dimension, positive in wanted.items():
            # Positive: 3 medium; negative: 1 medium, short of every alternative.
            answers |= dimension_answers(chosen, dimension, 0, 3 if positive else 1, 0)
        result = score(chosen, answers)
        assert result.dimensions == wanted
        assert result.positive is ilo_ec_overall_rule(wanted), wanted


def test_ilo_ec_explanation_names_dimensions_indicators_and_grades() -> None:
    chosen = instrument(EC)
    answers = {
        "deceptive_recruitment.nature_of_job_location_or_employer": True,
        "deceptive_recruitment.wages_earnings": True,
        "exploitative_conditions.excessive_working_days_or_hours": True,
        "exploitative_conditions.hazardous_work": True,
        "coercion_at_destination.confiscation_of_documents": True,
        "coercion_at_destination.debt_bondage": True,
    }
    result = score(chosen, answers)
    assert result.positive
    text = result.explanation
    assert (
        "Deceptive recruitment is positive: 1 strong (deceived about the nature of the job, "
        "location or employer) and 1 medium (deceived about wages/earnings)." in text
    )
    assert (
        "Coercion at destination is positive: 2 strong (confiscation of documents; debt bondage)"
        in text
    )
    assert "presumed victim of trafficking for labour exploitation" in text
    assert "national referral mechanism" in text
    assert "not a legal determination or an identification decision" in text
    assert "Warning: 6 items used in this result have not been verified" in text
    assert "decision rule itself has not been verified" in text
    assert result.unverified_items_used == tuple(answers)


def test_ilo_ec_negative_explanation_says_what_is_missing_and_what_was_not_asked() -> None:
    chosen = instrument(EC)
    answers = {"coercive_recruitment.confiscation_of_documents": True}
    result = score(chosen, answers)
    assert not result.positive
    text = result.explanation
    assert "Coercive recruitment is not positive: only 1 medium (confiscation of documents)" in text
    assert "answers to them could make it positive" in text
    assert "could change the result to positive" in text
    assert "does not rule out trafficking" in text
    assert (
        "not met: a recruitment dimension, exploitative conditions of work and a dimension at destination"
        in text
    )

    every_item_no = {item.id: False for item in chosen.indicators} | answers
    complete = score(chosen, every_item_no)
    assert not complete.positive and complete.not_asked == ()
    assert "not asked" not in complete.explanation
    assert "could change" not in complete.explanation


# -- act–means–purpose ----------------------------------------------------------------------


@pytest.mark.parametrize("instrument_id", ["palermo-amp", "unodc-forced-criminality"])
def test_palermo_child_rule_exhaustively(instrument_id: str) -> None:
    chosen = instrument(instrument_id)
    first = {d: chosen.items_of(d)[0].id for d in ("act", "means", "purpose")}
    for act, means, purpose in itertools.product((False, True), repeat=3):
        for child in (False, True, None):
            answers = {first["act"]: act, first["means"]: means, first["purpose"]: purpose}
            if child is not None:
                answers["age.under_18"] = child
            result = score(chosen, answers)
            expected = act and purpose and (means or child is True)
            assert result.positive is expected, (act, means, purpose, child)
            assert result.dimensions["act"] is act
            assert result.dimensions["means"] is means


def test_palermo_child_rule_is_reported_as_unverified() -> None:
    chosen = instrument("palermo-amp")
    result = score(
        chosen, {"act.recruitment": True, "purpose.forced_labour": True, "age.under_18": True}
    )
    assert result.positive
    assert result.unverified_items_used == ("age.under_18",)
    assert (
        "Means are not required here because the person is a child (under 18)" in result.explanation
    )
    assert "the rule that no means are needed here has not been verified" in result.explanation

    adult = score(
        chosen,
        {"act.recruitment": True, "means.deception": True, "purpose.forced_labour": True},
    )
    assert adult.positive and adult.unverified_items_used == ()
    assert "Warning" not in adult.explanation
    assert "act, means and purpose (exploitation) are all present" in adult.explanation


def test_palermo_says_when_the_unasked_age_could_change_the_result() -> None:
    chosen = instrument("palermo-amp")
    result = score(chosen, {"act.recruitment": True, "purpose.forced_labour": True})
    assert not result.positive
    assert (
        "Means would not be required if the person is a child (under 18), which was not asked"
        in result.explanation
    )
    asked = score(
        chosen,
        {"act.recruitment": True, "purpose.forced_labour": True, "age.under_18": False}
        | {item.id: False for item in chosen.items_of("means")},
    )
    assert not asked.positive
    assert "which was not asked" not in asked.explanation
    assert "missing: means" in asked.explanation


def test_us_amp_minor_rule_exhaustively() -> None:
    chosen = instrument("us-amp")
    for action, means, sex, labour in itertools.product((False, True), repeat=4):
        for minor in (False, True, None):
            answers = {
                "action.recruits": action,
                "means.coercion": means,
                "purpose.commercial_sex": sex,
                "purpose.labor_or_services": labour,
            }
            if minor is not None:
                answers["age.minor"] = minor
            expected = action and (sex or labour) and (means or (minor is True and sex))
            assert score(chosen, answers).positive is expected, answers


# -- counting rules ------------------------------------------------------------------------


@pytest.mark.parametrize(("instrument_id", "n"), [("qyit", 1), ("sscst", 2)])
def test_count_rules_on_every_subset(instrument_id: str, n: int) -> None:
    chosen = instrument(instrument_id)
    ids = [item.id for item in chosen.indicators]
    for yes in itertools.product((False, True), repeat=len(ids)):
        answers = dict(zip(ids, yes, strict=True))
        result = score(chosen, answers)
        assert result.positive is (sum(yes) >= n), answers
        assert list(result.indicators_present) == [i for i, y in answers.items() if y]


def test_sscst_boundary_one_yes_negative_two_yes_positive() -> None:
    chosen = instrument("sscst")
    ids = [item.id for item in chosen.indicators]
    one = score(chosen, {ids[0]: True} | {i: False for i in ids[1:]})
    two = score(chosen, {ids[0]: True, ids[3]: True})
    assert not one.positive and two.positive
    assert "at least 2 items answered yes" in one.explanation
    assert "Screening result: negative" in one.explanation
    assert two.unverified_items_used == (ids[0], ids[3])


def test_qyit_one_yes_is_positive() -> None:
    chosen = instrument("qyit")
    ids = [item.id for item in chosen.indicators]
    assert not score(chosen, dict.fromkeys(ids, False)).positive
    assert score(chosen, {ids[-1]: True}).positive


def test_ilo_11_lists_the_indicators_present_and_sets_no_numeric_rule() -> None:
    chosen = instrument("ilo-11")
    answers = {
        "forced_labour.debt_bondage": True,
        "forced_labour.deception": True,
        "forced_labour.isolation": False,
    }
    result = score(chosen, answers).to_dict()
    assert result["positive"] is True
    assert result["no_numeric_rule"] is True
    # Instrument order, not answer order.
    assert result["indicators_present"] == ["forced_labour.deception", "forced_labour.debt_bondage"]
    assert "The ILO sets no numeric rule" in result["explanation"]
    assert "2 of the 11 indicators are present: deception; debt bondage" in result["explanation"]
    assert "judgement of a trained person" in result["explanation"]
    none = score(chosen, {"forced_labour.isolation": False}).to_dict()
    assert none["positive"] is False and none["no_numeric_rule"] is True
    assert score(instrument("qyit"), {}).to_dict()["no_numeric_rule"] is False


# -- results -------------------------------------------------------------------------------


def test_result_dict_shape() -> None:
    chosen = instrument("palermo-amp")
    result = score(chosen, {"act.recruitment": True}).to_dict()
    assert set(result) >= REQUIRED_RESULT_KEYS
    assert result["instrument"] == "palermo-amp" and result["version"] == chosen.version
    assert set(result["dimensions"]) == {"act", "means", "purpose", "age"}
    assert result["positive"] is False
    assert result["indicators_present"] == ["act.recruitment"]
    assert result["unverified_items_used"] == []
    assert len(result["not_asked"]) == len(chosen.indicators) - 1
    assert json.loads(json.dumps(result)) == result
    assert score(chosen, {"act.recruitment": True}).to_dict() == result


def test_score_leaves_out_answers_to_items_of_another_version() -> None:
    chosen = instrument("ilo-11")
    result = score(chosen, {"forced_labour.deception": True, "forced_labour.retired_item": True})
    assert result.indicators_present == ("forced_labour.deception",)
    assert result.ignored_items == ("forced_labour.retired_item",)


def test_score_refuses_a_value_that_is_not_a_boolean() -> None:
    with pytest.raises(AnswersError, match=r"forced_labour\.deception"):
        score(instrument("ilo-11"), {"forced_labour.deception": 1})  # type: ignore[dict-item]


# -- parse_answers -------------------------------------------------------------------------


def test_parse_answers_accepts_booleans_and_treats_missing_as_not_asked() -> None:
    chosen = instrument("ilo-11")
    parsed = parse_answers(
        chosen, {"forced_labour.deception": True, "forced_labour.isolation": False}
    )
    assert parsed == {"forced_labour.deception": True, "forced_labour.isolation": False}
    assert parse_answers(chosen, {}) == {}


def test_parse_answers_names_an_unknown_item_and_the_source() -> None:
    with pytest.raises(AnswersError) as caught:
        parse_answers(instrument("ilo-11"), {"forced_labour.decepton": True}, source="visit.json")
    message = str(caught.value)
    assert message.startswith("visit.json: ")
    assert "'forced_labour.decepton' is not an item of instrument ilo-11" in message
    assert "did you mean 'forced_labour.deception'" in message
    assert caught.value.item == "forced_labour.decepton"


def test_parse_answers_does_not_quote_a_key_that_is_not_an_id() -> None:
    with pytest.raises(AnswersError) as caught:
        parse_answers(instrument("ilo-11"), {"Ana Maria Popescu, born 1990": True})
    assert "Popescu" not in str(caught.value)
    assert "not shown" in str(caught.value)


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, 1.0, [], {}, "Ana Popescu"])
def test_parse_answers_refuses_values_that_are_not_booleans(value: object) -> None:
    with pytest.raises(AnswersError) as caught:
        parse_answers(instrument("ilo-11"), {"forced_labour.deception": value}, source="a.json")
    message = str(caught.value)
    assert "'forced_labour.deception' must be true or false" in message
    assert "Popescu" not in message
    assert caught.value.item == "forced_labour.deception"


@pytest.mark.parametrize("raw", [[], "forced_labour.deception", None, 3])
def test_parse_answers_refuses_anything_but_an_object(raw: object) -> None:
    with pytest.raises(AnswersError, match="must be a JSON object"):
        parse_answers(instrument("ilo-11"), raw)


# -- translations --------------------------------------------------------------------------


def test_french_texts_and_english_fallback() -> None:
    palermo = instrument("palermo-amp")
    assert palermo.indicator_text("act.recruitment", "fr") == "Recrutement de la personne"
    assert palermo.indicator_text("act.recruitment", "fr-CA") == "Recrutement de la personne"
    assert palermo.indicator_text("act.recruitment", "de") == "Recruitment of the person"
    assert palermo.indicator_text("act.recruitment") == "Recruitment of the person"
    assert palermo.dimension_label("means", "fr") == "Moyens"
    ec = instrument(EC)
    # No French for ILO/EC yet: English, never blank.
    item = ec.indicators[0]
    assert ec.indicator_text(item.id, "fr") == item.text
    listed = palermo.to_dict("fr")
    assert listed["indicators"][0]["text"] == "Recrutement de la personne"
    assert "fr" in listed["translations"]


@pytest.mark.parametrize("language", ["fr", "ro"])
def test_catalogues_translate_palermo_and_ilo_11_completely(language: str) -> None:
    texts = catalogue(language)
    for instrument_id in ("palermo-amp", "ilo-11"):
        chosen = instrument(instrument_id)
        for item in chosen.indicators:
            key = f"{instrument_id}:{item.id}"
            assert key in texts
            assert chosen.indicator_text(item.id, language) == texts[key]


def test_every_catalogue_key_names_a_known_item_or_dimension() -> None:
    known = set()
    for chosen in instruments():
        known |= {f"{chosen.id}:{item.id}" for item in chosen.indicators}
        known |= {f"{chosen.id}:dimension:{d.id}" for d in chosen.dimensions}
    assert set(available_languages()) >= {"fr", "ro"}
    for language in available_languages():
        unknown = set(catalogue(language)) - known
        assert unknown == set(), language


def test_a_language_code_never_opens_a_file_outside_the_catalogues() -> None:
    assert catalogue("../instruments/ilo-11") == {}
    assert instrument("ilo-11").indicator_text("forced_labour.deception", "../../x") == "Deception"


# -- instrument data checks ----------------------------------------------------------------


def _broken(change: str) -> dict[str, Any]:
    data = raw_instrument(EC)
    if change == "verified":
        data["verified"] = True
    elif change == "overlap":
        data["rule"]["dimension_positive_when"][1][1]["grades"] = ["strong", "medium"]
    elif change == "unknown_dimension":
        data["rule"]["positive_when"]["all_of"][1] = {"dimension": "nowhere"}
    elif change == "id_without_dimension":
        data["indicators"][0]["id"] = "nature_of_job"
    elif change == "duplicate":
        data["indicators"][1]["id"] = data["indicators"][0]["id"]
    elif change == "grade":
        data["indicators"][0]["strength"] = "very strong"
    elif change == "answers":
        data["indicators"][0]["answers"] = ["yes", "no", "maybe"]
    elif change == "rule_type":
        data["rule"]["type"] = "vibes"
    elif change == "extra_key":
        data["indicators"][0]["weight"] = 3
    elif change == "ungraded":
        data["indicators"][0]["strength"] = None
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("verified", "some items are not verified"),
        ("overlap", "must not overlap"),
        ("unknown_dimension", "no dimension 'nowhere'"),
        ("id_without_dimension", "id must be 'deceptive_recruitment.<slug>'"),
        ("duplicate", "given twice"),
        ("grade", "strength must be one of"),
        ("answers", "answers must be"),
        ("rule_type", "type must be one of"),
        ("extra_key", "unknown key(s) weight"),
        ("ungraded", "every item needs a grade"),
    ],
)
def test_instrument_data_errors_name_the_problem(change: str, message: str) -> None:
    with pytest.raises(InstrumentDataError) as caught:
        instrument_from_dict(_broken(change), "broken.json")
    assert str(caught.value).startswith("broken.json")
    assert message in str(caught.value)
