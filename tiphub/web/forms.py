"""Form fields generated from the case schema, and parsing of what a browser submits.

The specs come from the pydantic models by introspection: a new field in
``tiphub.cases.schema`` appears in the forms without a change here, with a code list's
codes as options. Only the wording (labels, hints) is written by hand, so that it can be
translated; a field without wording gets a label made from its name.

Error messages never repeat what was submitted: the value may be a survivor's name typed
into the wrong box, and error texts end up in logs and screenshots.
"""

from __future__ import annotations

import datetime as dt
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union

from annotated_types import Ge, Gt, Le, Lt, MaxLen
from pydantic import AfterValidator, BaseModel, ValidationError, WithJsonSchema
from pydantic.fields import FieldInfo

from tiphub.cases.canonical import IDENTITY_FIELDS
from tiphub.cases.schema import (
    CaseRecord,
    ConsentRecord,
    Note,
    PersonRecord,
    Referral,
    StatusAssertion,
    VictimContext,
)
from tiphub.standard.codelists import (
    codelist,
    codelists,
    country_codes,
    country_name,
    normalise_country,
    normalise_language,
)
from tiphub.web.i18n import translations

FieldKind = Literal["text", "textarea", "date", "number", "select", "multiselect", "boolean"]
FormData = Mapping[str, str | list[str]]


def N_(message: str) -> str:  # noqa: N802 - the gettext convention extractors look for
    """Marks a message for extraction; it is translated where it is shown."""
    return message


# Text longer than this gets a multi-line box (ShortText allows 1,000, LongText 100,000).
TEXTAREA_FROM_LENGTH = 1_001
# A number typed into a form is short; anything longer is not worth parsing.
MAX_NUMBER_CHARS = 32
YES_WORDS = frozenset({"yes", "true", "1", "on"})
NO_WORDS = frozenset({"no", "false", "0", "off"})
UNKNOWN_WORDS = frozenset({"", "unknown"})


@dataclass(frozen=True)
class FieldSpec:
    """One form field. ``label`` and ``hint`` are English msgids, translated when shown."""

    name: str
    label: str
    kind: FieldKind
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False
    hint: str | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    code_list: str | None = None
    identity: bool = False

    @property
    def option_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.options)

    @property
    def step(self) -> str:
        return "1" if self.integer else "any"


# --- wording ----------------------------------------------------------------------------

# Keyed "Model.field" where a name means different things in different models.
FIELD_LABELS: dict[str, str] = {
    "external_id": N_("Reference"),
    "organisation": N_("Organisation"),
    "CaseRecord.status": N_("Case status"),
    "reason_for_closure": N_("Reason for closure"),
    "case_owner": N_("Case owner"),
    "opened_on": N_("Opened on"),
    "salutation": N_("Salutation"),
    "first_name": N_("First name"),
    "middle_name": N_("Middle name"),
    "family_name": N_("Family name"),
    "title": N_("Title"),
    "birth_date": N_("Date of birth"),
    "email": N_("Email address"),
    "home_phone": N_("Home phone"),
    "mobile_phone": N_("Mobile phone"),
    "mailing_street": N_("Street"),
    "mailing_city": N_("City"),
    "mailing_state": N_("State or province"),
    "mailing_postal_code": N_("Postal code"),
    "mailing_country": N_("Country of address"),
    "mailing_latitude": N_("Latitude of address"),
    "mailing_longitude": N_("Longitude of address"),
    "gender": N_("Gender"),
    "citizenship": N_("Citizenship"),
    "primary_language": N_("Primary language"),
    "secondary_language": N_("Secondary language"),
    "marital_status": N_("Marital status"),
    "education": N_("Highest level of education"),
    "number_of_children": N_("Number of children"),
    "deceased": N_("Deceased"),
    "StatusAssertion.status": N_("Trafficking status"),
    "decided_by_type": N_("Decided by (type of organisation)"),
    "asserted_by": N_("Assessed by"),
    "asserted_on": N_("Assessed on"),
    "recruitment_methods": N_("Methods of recruitment"),
    "recruitment_websites": N_("Websites and apps used for recruitment"),
    "location_of_recruitment": N_("Place of recruitment"),
    "means_of_control": N_("Means of control"),
    "exploitation_types": N_("Types of exploitation"),
    "sex_exploitation_types": N_("Types of sexual exploitation"),
    "industry": N_("Industry (forced labour)"),
    "location_of_exploitation": N_("Place of exploitation"),
    "exploitation_websites": N_("Websites and apps used for exploitation"),
    "age_when_trafficked": N_("Age when trafficked"),
    "relationship_to_trafficker": N_("Relationship to trafficker"),
    "vulnerabilities": N_("Vulnerabilities"),
    "purpose": N_("Purpose of consent"),
    "given": N_("Consent given"),
    "recorded_on": N_("Recorded on"),
    "recorded_by": N_("Recorded by"),
    "direction": N_("Direction"),
    "from_organisation": N_("From organisation"),
    "to_organisation": N_("To organisation"),
    "referred_on": N_("Referred on"),
    "reason": N_("Reason for referral"),
    "details": N_("Details"),
    "services": N_("Services"),
    "Referral.status": N_("Referral status"),
    "referring_case_worker": N_("Referring caseworker"),
    "referred_case_worker": N_("Receiving caseworker"),
    "text": N_("Note"),
    "author": N_("Author"),
    "written_on": N_("Written on"),
}

FIELD_HINTS: dict[str, str] = {
    "primary_language": N_("ISO 639 language code, for example fra or en."),
    "secondary_language": N_("ISO 639 language code, for example fra or en."),
    "mailing_latitude": N_("Decimal degrees, from -90 to 90."),
    "mailing_longitude": N_("Decimal degrees, from -180 to 180."),
    "citizenship": N_("Choose every citizenship the person holds."),
    "age_when_trafficked": N_("In years, when the exploitation began."),
    "reason_for_closure": N_("Only when the case is closed."),
}
DATE_HINT = N_("For example 2024-03-31.")
MULTISELECT_HINT = N_("Choose all that apply.")

MESSAGES = {
    "required": N_("This field is required."),
    "choose_yes_no": N_("Choose yes or no."),
    "too_long": N_("This text is too long: use at most %(count)s characters."),
    "control": N_("This text contains characters that cannot be stored."),
    "date": N_("Enter a real date as YYYY-MM-DD, for example 2024-03-31."),
    "number": N_("Enter a number."),
    "whole_number": N_("Enter a whole number."),
    "range": N_("Enter a number from %(minimum)s to %(maximum)s."),
    "option": N_("Choose one of the listed options."),
    "one_value": N_("Give only one value."),
    "invalid": N_("This value is not valid."),
}


def humanise(name: str) -> str:
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _label(model: type[BaseModel], name: str) -> str:
    return FIELD_LABELS.get(f"{model.__name__}.{name}") or FIELD_LABELS.get(name) or humanise(name)


# --- introspection ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    base: Any
    many: bool
    optional: bool
    metadata: tuple[Any, ...]


def _flatten_metadata(items: Iterable[Any]) -> list[Any]:
    flat: list[Any] = []
    for item in items:
        if isinstance(item, FieldInfo):
            flat.extend(_flatten_metadata(item.metadata))
        else:
            flat.append(item)
    return flat


def _shape(field: FieldInfo) -> _Shape:
    annotation: Any = field.annotation
    metadata = _flatten_metadata(field.metadata)
    many = optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = typing.get_args(annotation)
            metadata.extend(_flatten_metadata(extra))
        elif origin in (Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                break
            optional = True
            annotation = members[0]
        elif origin in (list, tuple, set, frozenset) and not many:
            many = True
            annotation = typing.get_args(annotation)[0]
        else:
            break
    return _Shape(annotation, many, optional, tuple(metadata))


def _validators(shape: _Shape) -> list[Callable[..., Any]]:
    return [item.func for item in shape.metadata if isinstance(item, AfterValidator)]


def _code_list_name(shape: _Shape) -> str | None:
    for item in shape.metadata:
        if isinstance(item, WithJsonSchema) and isinstance(item.json_schema, dict):
            description = str(item.json_schema.get("description", ""))
            name = description.removeprefix("code list ").strip()
            if description.startswith("code list ") and name in codelists():
                return name
    return None


@cache
def _country_options() -> tuple[tuple[str, str], ...]:
    return tuple(sorted(((code, country_name(code)) for code in country_codes()), key=_by_label))


def _by_label(option: tuple[str, str]) -> str:
    return option[1].casefold()


def _limits(shape: _Shape) -> tuple[int | None, float | None, float | None]:
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    for item in shape.metadata:
        if isinstance(item, MaxLen):
            max_length = item.max_length
        elif isinstance(item, Ge | Gt):
            minimum = float(item.ge if isinstance(item, Ge) else item.gt)  # type: ignore[arg-type]
        elif isinstance(item, Le | Lt):
            maximum = float(item.le if isinstance(item, Le) else item.lt)  # type: ignore[arg-type]
    return max_length, minimum, maximum


@cache
def identity_field_names() -> frozenset[str]:
    """Person fields kept in the separately protected identity table of the store."""
    return frozenset(name for name in IDENTITY_FIELDS if name in PersonRecord.model_fields) - {
        "identifiers"
    }


def _spec(model: type[BaseModel], name: str, field: FieldInfo) -> FieldSpec | None:
    shape = _shape(field)
    base = shape.base
    required = field.is_required() and not shape.optional
    max_length, minimum, maximum = _limits(shape)
    common: dict[str, Any] = {
        "name": name,
        "label": _label(model, name),
        "required": required,
        "hint": FIELD_HINTS.get(f"{model.__name__}.{name}") or FIELD_HINTS.get(name),
        "identity": model is PersonRecord and name in identity_field_names(),
    }
    kind: FieldKind
    list_name = _code_list_name(shape)
    validators = _validators(shape)
    if list_name is not None or normalise_country in validators:
        options = (
            tuple((code, codelist(list_name).label(code)) for code in codelist(list_name).codes)
            if list_name is not None
            else _country_options()
        )
        kind = "multiselect" if shape.many else "select"
        if kind == "multiselect" and common["hint"] is None:
            common["hint"] = MULTISELECT_HINT
        return FieldSpec(kind=kind, options=options, code_list=list_name, **common)
    if shape.many or typing.get_origin(base) is Literal:
        return None  # lists of free text and fixed values are not edited in a form
    if isinstance(base, type) and issubclass(base, BaseModel):
        return None  # nested records get forms of their own
    if base is bool:
        return FieldSpec(kind="boolean", **common)
    if base is dt.date:
        return FieldSpec(kind="date", **{**common, "hint": common["hint"] or DATE_HINT})
    if base is int or base is float:
        return FieldSpec(
            kind="number", minimum=minimum, maximum=maximum, integer=base is int, **common
        )
    if base is str:
        if normalise_language in validators:
            max_length = 3
        long_text = max_length is not None and max_length >= TEXTAREA_FROM_LENGTH
        return FieldSpec(kind="textarea" if long_text else "text", max_length=max_length, **common)
    return None


def model_fields(model: type[BaseModel], exclude: Iterable[str] = ()) -> list[FieldSpec]:
    """Specs for every field of ``model`` that a form can edit, in the model's order."""
    skipped = set(exclude)
    specs = (
        _spec(model, name, field)
        for name, field in model.model_fields.items()
        if name not in skipped
    )
    return [spec for spec in specs if spec is not None]


def _reference_fields(model: type[BaseModel]) -> set[str]:
    # The app assigns identifiers and picks the participant a record refers to.
    return {name for name in model.model_fields if name.endswith("external_id")}


def case_fields() -> list[FieldSpec]:
    """The case's own fields; the organisation comes from the signed-in user."""
    return model_fields(CaseRecord, exclude={"organisation", *_reference_fields(CaseRecord)})


def person_fields(include_identity: bool) -> list[FieldSpec]:
    specs = model_fields(PersonRecord, exclude=_reference_fields(PersonRecord))
    return [spec for spec in specs if include_identity or not spec.identity]


def victim_fields() -> list[FieldSpec]:
    """The victim context; its trafficking status assessments are ``status_fields()``."""
    return model_fields(VictimContext, exclude=_reference_fields(VictimContext))


def status_fields() -> list[FieldSpec]:
    return model_fields(StatusAssertion, exclude=_reference_fields(StatusAssertion))


def consent_fields() -> list[FieldSpec]:
    return model_fields(ConsentRecord, exclude=_reference_fields(ConsentRecord))


def referral_fields() -> list[FieldSpec]:
    return model_fields(Referral, exclude=_reference_fields(Referral))


def note_fields() -> list[FieldSpec]:
    return model_fields(Note, exclude=_reference_fields(Note))


def message_ids() -> set[str]:
    """Every English text this module can show, for the translation completeness check."""
    specs = [
        *case_fields(),
        *person_fields(include_identity=True),
        *victim_fields(),
        *status_fields(),
        *consent_fields(),
        *referral_fields(),
        *note_fields(),
    ]
    texts = {spec.label for spec in specs} | {spec.hint for spec in specs if spec.hint}
    return texts | set(MESSAGES.values()) | {DATE_HINT, MULTISELECT_HINT}


# --- parsing ----------------------------------------------------------------------------


class _FieldError(ValueError):
    def __init__(self, key: str, **variables: Any) -> None:
        super().__init__(key)
        self.key = key
        self.variables = variables


def _values(form: FormData, name: str) -> list[str]:
    raw = form.get(name)
    if raw is None:
        return []
    return [raw] if isinstance(raw, str) else [str(item) for item in raw]


def _single(form: FormData, name: str) -> str:
    values = [value for value in _values(form, name) if value.strip()]
    if len(values) > 1:
        raise _FieldError("one_value")
    return values[0].strip() if values else ""


def _check_text(spec: FieldSpec, text: str) -> str:
    allowed = {"\t", "\n", "\r"} if spec.kind == "textarea" else {"\t"}
    if any((ord(char) < 32 and char not in allowed) or ord(char) == 127 for char in text):
        raise _FieldError("control")
    if spec.max_length is not None and len(text) > spec.max_length:
        raise _FieldError("too_long", count=spec.max_length)
    return text


def _parse_date(text: str) -> dt.date:
    # fromisoformat also takes 20240331 and week dates; a form field takes one spelling.
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise _FieldError("date")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _FieldError("date") from None


def _parse_number(spec: FieldSpec, text: str) -> int | float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _FieldError("number")
    try:
        number = float(text)
    except ValueError:
        raise _FieldError("whole_number" if spec.integer else "number") from None
    if not math.isfinite(number):
        raise _FieldError("number")
    if spec.integer and not number.is_integer():
        raise _FieldError("whole_number")
    too_low = spec.minimum is not None and number < spec.minimum
    too_high = spec.maximum is not None and number > spec.maximum
    if too_low or too_high:
        raise _FieldError("range", minimum=_plain(spec.minimum), maximum=_plain(spec.maximum))
    return int(number) if spec.integer else number


def _plain(limit: float | None) -> str:
    if limit is None:
        return "…"
    return str(int(limit)) if limit.is_integer() else str(limit)


def _parse_boolean(spec: FieldSpec, text: str) -> bool | None:
    word = text.casefold()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    if word in UNKNOWN_WORDS:
        if spec.required:
            raise _FieldError("choose_yes_no")
        return None
    raise _FieldError("option")


def _parse_field(spec: FieldSpec, form: FormData) -> Any:
    if spec.kind == "multiselect":
        chosen: list[str] = []
        for value in _values(form, spec.name):
            code = value.strip()
            if not code:
                continue
            if code not in spec.option_codes:
                raise _FieldError("option")
            if code not in chosen:
                chosen.append(code)
        if spec.required and not chosen:
            raise _FieldError("required")
        return chosen
    if spec.kind == "boolean":
        return _parse_boolean(spec, _single(form, spec.name))
    text = _single(form, spec.name)
    if not text:
        if spec.required:
            raise _FieldError("required")
        return None
    if spec.kind == "date":
        return _parse_date(text)
    if spec.kind == "number":
        return _parse_number(spec, text)
    if spec.kind == "select":
        if text not in spec.option_codes:
            raise _FieldError("option")
        return text
    return _check_text(spec, text)


def error_message(key: str, locale: str = "en", **variables: Any) -> str:
    """A translated message from :data:`MESSAGES`, with only our own numbers filled in."""
    translated = str(translations(locale).gettext(MESSAGES[key]))
    return translated % variables if variables else translated


def parse_form(
    specs: Sequence[FieldSpec], form: FormData, locale: str = "en"
) -> tuple[dict[str, Any], dict[str, str]]:
    """Model-ready values for every spec (``None``/``[]`` when empty) and errors per field.

    ``form`` maps a field name to its submitted string, or to all its strings for a
    repeated name (e.g. ``dict`` of Starlette's ``FormData.multi_items()`` grouped, or
    ``{key: form.getlist(key) for key in form}``).
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        try:
            values[spec.name] = _parse_field(spec, form)
        except _FieldError as problem:
            values[spec.name] = [] if spec.kind == "multiselect" else None
            errors[spec.name] = error_message(problem.key, locale, **problem.variables)
    return values, errors


_PYDANTIC_ERROR_KEYS = {
    "missing": "required",
    "string_too_long": "too_long",
    "date_from_datetime_parsing": "date",
    "date_parsing": "date",
    "date_type": "date",
    "int_parsing": "whole_number",
    "int_from_float": "whole_number",
    "float_parsing": "number",
}


def validation_errors(
    error: ValidationError, specs: Sequence[FieldSpec], locale: str = "en"
) -> dict[str, str]:
    """Per-field messages for a model's ValidationError, without pydantic's quoted input.

    Errors not about one of ``specs`` (e.g. a rule across fields) are keyed ``""``.
    """
    names = {spec.name for spec in specs}
    by_name = {spec.name: spec for spec in specs}
    messages: dict[str, str] = {}
    for detail in error.errors(include_input=False, include_url=False):
        location = detail.get("loc", ())
        name = str(location[0]) if location else ""
        key = _PYDANTIC_ERROR_KEYS.get(detail.get("type", ""), "invalid")
        variables: dict[str, Any] = {}
        if key == "too_long":
            spec = by_name.get(name)
            if spec is None or spec.max_length is None:
                key = "invalid"
            else:
                variables["count"] = spec.max_length
        field = name if name in names else ""
        messages.setdefault(field, error_message(key, locale, **variables))
    return messages
