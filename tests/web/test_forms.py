"""Form specs follow the case schema; parsing gives model values and never echoes input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from tiphub.cases import schema
from tiphub.standard.codelists import codelist
from tiphub.web import forms
from tiphub.web.forms import FieldSpec, parse_form

ALL_SPEC_SETS = {
    "case": forms.case_fields,
    "person": lambda: forms.person_fields(include_identity=True),
    "victim": forms.victim_fields,
    "status": forms.status_fields,
    "consent": forms.consent_fields,
    "referral": forms.referral_fields,
    "note": forms.note_fields,
}


def _code_list_fields(model: type[BaseModel]) -> dict[str, str]:
    """Field -> code list, read from the published JSON schema (independent of forms.py)."""
    found: dict[str, str] = {}
    json_schema = model.model_json_schema()
    for name, prop in json_schema["properties"].items():
        candidates = [prop, prop.get("items", {}), *prop.get("anyOf", [])]
        for candidate in candidates:
            description = candidate.get("description", "")
            if description.startswith("code list "):
                found[name] = description.removeprefix("code list ")
    return found


MODELS: dict[str, type[BaseModel]] = {
    "case": schema.CaseRecord,
    "person": schema.PersonRecord,
    "victim": schema.VictimContext,
    "status": schema.StatusAssertion,
    "consent": schema.ConsentRecord,
    "referral": schema.Referral,
    "note": schema.Note,
}


@pytest.mark.parametrize("form_name", sorted(MODELS))
def test_code_list_fields_offer_exactly_their_codes(form_name: str) -> None:
    specs = {spec.name: spec for spec in ALL_SPEC_SETS[form_name]()}
    expected = _code_list_fields(MODELS[form_name])
    assert expected or form_name == "note"
    for name, list_name in expected.items():
        spec = specs[name]
        assert spec.kind in ("select", "multiselect")
        assert spec.code_list == list_name
        assert list(spec.option_codes) == list(codelist(list_name).codes)


def test_list_fields_are_multiselects_and_single_codes_selects() -> None:
    victim = {spec.name: spec for spec in forms.victim_fields()}
    assert victim["exploitation_types"].kind == "multiselect"
    assert victim["industry"].kind == "select"
    assert victim["age_when_trafficked"].kind == "number"
    assert victim["age_when_trafficked"].maximum == 120


def test_kinds_follow_the_annotations() -> None:
    case = {spec.name: spec for spec in forms.case_fields()}
    assert case["opened_on"].kind == "date"
    assert case["reason_for_closure"].kind == "textarea"
    assert case["case_owner"].kind == "text"
    assert case["case_owner"].max_length == 1_000
    assert "schema_version" not in case and "participants" not in case
    consent = {spec.name: spec for spec in forms.consent_fields()}
    assert consent["given"].kind == "boolean" and consent["given"].required
    assert consent["purpose"].required
    person = {spec.name: spec for spec in forms.person_fields(include_identity=True)}
    assert person["citizenship"].kind == "multiselect"
    assert ("FR", "France") in person["citizenship"].options


def test_identity_fields_only_when_asked_for() -> None:
    with_identity = {spec.name for spec in forms.person_fields(include_identity=True)}
    without = {spec.name for spec in forms.person_fields(include_identity=False)}
    identity = {"first_name", "family_name", "birth_date", "email", "mobile_phone"}
    assert identity <= with_identity
    assert not identity & without
    assert not forms.identity_field_names() & without
    assert {"gender", "citizenship", "deceased"} <= without


def test_new_schema_fields_appear_without_changes() -> None:
    class Extended(schema.Referral):
        follow_up_on: dt.date | None = None
        urgency: schema.Code("case_status") | None = None  # type: ignore[valid-type]

    specs = {spec.name: spec for spec in forms.model_fields(Extended)}
    assert specs["follow_up_on"].kind == "date"
    assert specs["follow_up_on"].label == "Follow up on"
    assert specs["urgency"].option_codes == codelist("case_status").codes


def _spec(name: str) -> FieldSpec:
    specs = {spec.name: spec for make in ALL_SPEC_SETS.values() for spec in make()}
    return specs[name]


def test_parse_round_trips_into_the_models() -> None:
    specs = [*forms.person_fields(include_identity=True)]
    values, errors = parse_form(
        specs,
        {
            "birth_date": "1990-02-28",
            "citizenship": ["FR", "SN", "FR"],
            "deceased": "no",
            "number_of_children": "2",
            "gender": "Feminine",
            "first_name": "  Awa ",
            "mailing_latitude": "14.7",
        },
    )
    assert errors == {}
    assert values["birth_date"] == dt.date(1990, 2, 28)
    assert values["citizenship"] == ["FR", "SN"]
    assert values["deceased"] is False
    assert values["number_of_children"] == 2
    assert values["first_name"] == "Awa"
    assert values["mailing_latitude"] == pytest.approx(14.7)
    assert values["email"] is None
    person = schema.PersonRecord(external_id="p1", **values)
    assert person.birth_date == dt.date(1990, 2, 28)


@pytest.mark.parametrize(
    ("submitted", "expected"), [("yes", True), ("no", False), ("unknown", None), ("", None)]
)
def test_booleans(submitted: str, expected: bool | None) -> None:
    values, errors = parse_form([_spec("deceased")], {"deceased": submitted})
    assert errors == {}
    assert values["deceased"] is expected


def test_required_boolean_needs_an_answer() -> None:
    _, errors = parse_form(forms.consent_fields(), {"purpose": "Interview"})
    assert set(errors) == {"given"}


BAD_INPUTS: list[tuple[str, Any]] = [
    ("birth_date", "Amina Diallo 12/03/1990"),
    ("birth_date", "2024-02-30"),
    ("number_of_children", "Amina"),
    ("number_of_children", "99"),
    ("gender", "Amina Diallo"),
    ("citizenship", ["FR", "Amina Diallo"]),
    ("deceased", "Amina Diallo"),
    ("first_name", "Amina\x00Diallo"),
]


@pytest.mark.parametrize(("name", "submitted"), BAD_INPUTS)
@pytest.mark.parametrize("locale", ["en", "fr"])
def test_errors_never_repeat_the_input(name: str, submitted: Any, locale: str) -> None:
    values, errors = parse_form(
        forms.person_fields(include_identity=True), {name: submitted}, locale
    )
    assert set(errors) == {name}
    message = errors[name]
    assert message
    for word in ("Amina", "Diallo", "1990", "02-30", "99"):
        assert word not in message
    assert values[name] in (None, [])


def test_date_error_is_translated() -> None:
    _, english = parse_form([_spec("birth_date")], {"birth_date": "31/03/2024"}, "en")
    _, french = parse_form([_spec("birth_date")], {"birth_date": "31/03/2024"}, "fr")
    assert "YYYY-MM-DD" in english["birth_date"]
    assert "AAAA-MM-JJ" in french["birth_date"]
    assert "31/03" not in english["birth_date"] + french["birth_date"]


def test_text_longer_than_the_schema_allows() -> None:
    _, errors = parse_form([_spec("case_owner")], {"case_owner": "x" * 1_001})
    assert "1000" in errors["case_owner"] or "1,000" in errors["case_owner"]


def test_required_fields_and_repeated_values() -> None:
    _, errors = parse_form(forms.note_fields(), {"text": "  "})
    assert set(errors) == {"text"}
    _, errors = parse_form([_spec("opened_on")], {"opened_on": ["2024-01-01", "2024-01-02"]})
    assert set(errors) == {"opened_on"}


def test_validation_errors_do_not_quote_input() -> None:
    secret = "Amina Diallo"
    with pytest.raises(ValidationError) as caught:
        schema.Note(text=secret, written_on=dt.date(2999, 1, 1))
    messages = forms.validation_errors(caught.value, forms.note_fields(), "fr")
    assert set(messages) == {"written_on"}
    assert secret not in "".join(messages.values())
    assert "2999" not in "".join(messages.values())
