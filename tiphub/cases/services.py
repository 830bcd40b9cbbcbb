"""The service directory: who offers which services to whom and where, and referrals of a
case's people to them, answered accepted, declined (with a reason) or completed.

A provider is a directory entry kept by one organisation (its ``service:manage`` users);
everyone who reads cases may search the whole directory, which holds no personal data.
A referral to a provider is a row of the case's ``referrals`` (``provider`` set, no
``mechanism``) written through ``CaseStore.update_case``: one transaction, scoped, versioned
and audited as ``service.refer`` / ``service.respond``. An adult is referred only with their
consent to referral; a refused referral writes nothing. Each referral opens a follow-up task
(naming the provider and services, never the person) that the provider's answer closes.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from tiphub.cases import audit
from tiphub.cases.access import (
    NotFoundError,
    PermissionDeniedError,
    Principal,
    own_scope_condition,
)
from tiphub.cases.api import CaseStore, CaseView
from tiphub.cases.schema import CaseRecord
from tiphub.cases.tasks import open_task
from tiphub.cases.workflows import (
    consent_to_referral,
    date_or_none,
    is_child,
    iso_or_none,
    referral_rows,
)
from tiphub.delimited import detect_in
from tiphub.standard.codelists import codelist, normalise_country, normalise_language
from tiphub.store import models as m
from tiphub.store.db import reading
from tiphub.store.models import new_id, table_of, utcnow

FOLLOW_UP_DAYS = 5
# Mean Earth radius (IUGG): great-circle distances within about 0.5 % of the ellipsoid's.
EARTH_RADIUS_KM = 6371.0088
MAX_AGE = 120
FREE_TEXT_LENGTH = 100_000
SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
# The words frontline workers (and the issue) use for the service_type codes.
SERVICE_ALIASES = {
    "shelter": "Accommodation",
    "accommodation": "Accommodation",
    "housing": "Accommodation",
    "medical": "Medical",
    "health": "Medical",
    "legal": "Legal",
    "psychological": "Psychological",
    "counselling": "Psychological",
    "interpretation": "Interpretation",
    "interpreter": "Interpretation",
    "repatriation": "Repatriation",
    "return": "Repatriation",
    "employment": "Employment",
}
# A person's recorded gender as the provider's ``sex`` rule understands it. Other genders
# (transgender, unknown) are not held against the person: the provider decides, and can
# decline with a reason.
GENDER_TO_SEX = {"Feminine": "Female", "Masculine": "Male", "NonConforming": "Other"}
# How a referral may move, and the referral states that end it.
MOVES: dict[str, tuple[str, ...]] = {
    "Requested": ("Accepted", "Declined"),
    "Accepted": ("Completed",),
}
LIST_FIELDS = ("services", "sexes", "nationalities", "exploitation_types", "languages")
PROVIDER_FIELDS = (
    "slug",
    "name",
    "organisation",
    "hub_organisation",
    *LIST_FIELDS,
    "min_age",
    "max_age",
    "capacity",
    "places_free",
    "country",
    "city",
    "latitude",
    "longitude",
    "contact",
    "active",
)


class ProviderFieldError(ValueError):
    """A provider field that does not validate; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(f"{field_name}: {message}")


class ProviderImportError(ValueError):
    """A directory file with problems; nothing was written. ``problems`` lists each one as
    ``file, row N, column C: message``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"{len(problems)} problem(s), nothing imported: {shown}{more}")


class ReferralRefusedError(ValueError):
    """A referral or an answer that the rules do not allow; nothing was written."""


# -- the directory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderInfo:
    id: uuid.UUID
    slug: str
    name: str
    organisation: str
    hub_organisation: str | None
    services: tuple[str, ...]
    sexes: tuple[str, ...]
    min_age: int | None
    max_age: int | None
    nationalities: tuple[str, ...]
    exploitation_types: tuple[str, ...]
    languages: tuple[str, ...]
    capacity: int | None
    places_free: int | None
    country: str | None
    city: str | None
    latitude: float | None
    longitude: float | None
    contact: str | None
    active: bool
    updated_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "organisation": self.organisation,
            "hub_organisation": self.hub_organisation,
            "services": list(self.services),
            "sexes": list(self.sexes),
            "min_age": self.min_age,
            "max_age": self.max_age,
            "nationalities": list(self.nationalities),
            "exploitation_types": list(self.exploitation_types),
            "languages": list(self.languages),
            "capacity": self.capacity,
            "places_free": self.places_free,
            "country": self.country,
            "city": self.city,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "contact": self.contact,
            "active": self.active,
        }


@dataclass(frozen=True)
class ProviderMatch:
    """A provider that fits a search, why it fits, and how far away it is (if asked)."""

    provider: ProviderInfo
    distance_km: float | None
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.provider.to_dict(),
            "distance_km": None if self.distance_km is None else round(self.distance_km, 1),
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class ProviderImport:
    created: tuple[str, ...]
    updated: tuple[str, ...]


def normalise_service(value: str) -> str:
    """A service_type code from its code, label or a common word (``shelter``)."""
    alias = SERVICE_ALIASES.get(" ".join(value.split()).casefold())
    return alias or codelist("service_type").normalise(value)


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[|;,]", value) if part.strip()]
    if isinstance(value, Iterable):
        return [str(part).strip() for part in value if str(part).strip()]
    return [str(value)]


def _codes(name: str, value: object, normalise: Any) -> list[str]:
    codes: list[str] = []
    for part in _as_list(value):
        try:
            code = normalise(part)
        except ValueError as error:
            raise ProviderFieldError(name, str(error)) from None
        if code not in codes:
            codes.append(code)
    return codes


def _integer(name: str, value: object, low: int, high: int | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ProviderFieldError(name, "must be a whole number")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ProviderFieldError(name, "must be a whole number") from None
    if number < low or (high is not None and number > high):
        bounds = f"{low}..{high}" if high is not None else f"{low} or more"
        raise ProviderFieldError(name, f"must be {bounds}")
    return number


def _coordinate(name: str, value: object, limit: float) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ProviderFieldError(name, "must be a number")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ProviderFieldError(name, "must be a number") from None
    if not -limit <= number <= limit:
        raise ProviderFieldError(name, f"must be between -{limit:g} and {limit:g}")
    return number


def _text(name: str, value: object, limit: int, required: bool = False) -> str | None:
    text = None if value is None else " ".join(str(value).split())
    if not text:
        if required:
            raise ProviderFieldError(name, "is required")
        return None
    if len(text) > limit:
        raise ProviderFieldError(name, f"is longer than {limit} characters")
    return text


def _flag(name: str, value: object) -> bool:
    if value is None or isinstance(value, bool):
        return value is not False
    text = str(value).strip().casefold()
    if text in {"", "1", "true", "yes", "y"}:
        return True
    if text in {"0", "false", "no", "n"}:
        return False
    raise ProviderFieldError(name, "must be yes or no")


def validate_provider(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The provider's column values, normalised; ``ProviderFieldError`` naming the first
    field that does not validate (an unknown field included)."""
    unknown = sorted(set(fields) - set(PROVIDER_FIELDS))
    if unknown:
        raise ProviderFieldError(unknown[0], f"unknown field; known: {', '.join(PROVIDER_FIELDS)}")
    slug = _text("slug", fields.get("slug"), 100, required=True)
    if slug is None or not SLUG.match(slug):
        raise ProviderFieldError("slug", "lower-case letters, digits, '-', '_' or '.'")
    values: dict[str, Any] = {
        "slug": slug,
        "name": _text("name", fields.get("name"), 300, required=True),
        "services": _codes("services", fields.get("services"), normalise_service),
        "sexes": _codes("sexes", fields.get("sexes"), codelist("sex").normalise),
        "min_age": _integer("min_age", fields.get("min_age"), 0, MAX_AGE),
        "max_age": _integer("max_age", fields.get("max_age"), 0, MAX_AGE),
        "nationalities": _codes("nationalities", fields.get("nationalities"), normalise_country),
        "exploitation_types": _codes(
            "exploitation_types",
            fields.get("exploitation_types"),
            codelist("exploitation_type").normalise,
        ),
        "languages": _codes("languages", fields.get("languages"), normalise_language),
        "capacity": _integer("capacity", fields.get("capacity"), 0, None),
        "places_free": _integer("places_free", fields.get("places_free"), 0, None),
        "country": None,
        "city": _text("city", fields.get("city"), 200),
        "latitude": _coordinate("latitude", fields.get("latitude"), 90),
        "longitude": _coordinate("longitude", fields.get("longitude"), 180),
        "contact": _text("contact", fields.get("contact"), 300),
        "hub_organisation": _text("hub_organisation", fields.get("hub_organisation"), 100),
        "active": _flag("active", fields.get("active")),
    }
    if not values["services"]:
        raise ProviderFieldError("services", "name at least one service (code list service_type)")
    country = _text("country", fields.get("country"), 100)
    if country is not None:
        try:
            values["country"] = normalise_country(country)
        except ValueError as error:
            raise ProviderFieldError("country", str(error)) from None
    if (
        values["min_age"] is not None
        and values["max_age"] is not None
        and values["min_age"] > values["max_age"]
    ):
        raise ProviderFieldError("max_age", "is below min_age")
    if (values["latitude"] is None) != (values["longitude"] is None):
        missing = "longitude" if values["longitude"] is None else "latitude"
        raise ProviderFieldError(missing, "give latitude and longitude together")
    if (
        values["capacity"] is not None
        and values["places_free"] is not None
        and values["places_free"] > values["capacity"]
    ):
        raise ProviderFieldError("places_free", "is more than the capacity")
    return values


def _provider_query() -> Any:
    provider = table_of(m.ServiceProvider)
    org = table_of(m.Organisation)
    return select(provider, org.c.slug.label("organisation")).join(
        org, org.c.id == provider.c.organisation_id
    )


def _provider_info(row: Any) -> ProviderInfo:
    return ProviderInfo(
        row.id,
        row.slug,
        row.name,
        row.organisation,
        row.hub_organisation,
        tuple(row.services or ()),
        tuple(row.sexes or ()),
        row.min_age,
        row.max_age,
        tuple(row.nationalities or ()),
        tuple(row.exploitation_types or ()),
        tuple(row.languages or ()),
        row.capacity,
        row.places_free,
        row.country,
        row.city,
        row.latitude,
        row.longitude,
        row.contact,
        bool(row.active),
        row.updated_at,
    )


def _require_reader(principal: Principal) -> None:
    if not (principal.can("case:read") or principal.can("service:manage")):
        raise PermissionDeniedError("your role does not allow case:read")


def _owning_organisation(
    connection: Connection, principal: Principal, organisation: str | None
) -> tuple[uuid.UUID, str]:
    """The organisation a directory entry belongs to: the acting user's own (the local
    operator names one)."""
    org = table_of(m.Organisation)
    if not principal.operator:
        if organisation is not None and organisation != principal.organisation:
            raise PermissionDeniedError("you can only manage your own organisation's providers")
        if principal.organisation_id is None or principal.organisation is None:
            raise PermissionDeniedError("a provider belongs to an organisation")
        return principal.organisation_id, principal.organisation
    if not organisation:
        raise ProviderFieldError("organisation", "name the organisation keeping the entry")
    found = connection.execute(select(org.c.id).where(org.c.slug == organisation)).scalar()
    if found is None:
        raise ProviderFieldError("organisation", f"no organisation {organisation}")
    return found, organisation


def _check_hub_organisation(connection: Connection, slug: str | None) -> None:
    if slug is None:
        return
    org = table_of(m.Organisation)
    if connection.execute(select(org.c.id).where(org.c.slug == slug)).first() is None:
        raise ProviderFieldError("hub_organisation", f"no organisation {slug} on the hub")


def _insert_provider(
    connection: Connection, organisation_id: uuid.UUID, values: dict[str, Any]
) -> None:
    connection.execute(
        table_of(m.ServiceProvider)
        .insert()
        .values(id=new_id(), organisation_id=organisation_id, updated_at=utcnow(), **values)
    )


def _provider_row(connection: Connection, slug: str) -> Any:
    provider = table_of(m.ServiceProvider)
    return connection.execute(_provider_query().where(provider.c.slug == slug)).first()


def add_provider(engine: Engine, principal: Principal, **fields: Any) -> ProviderInfo:
    """Add a directory entry (``service:manage``). Fields as the ``service_provider`` table;
    lists may be given as lists or ``|``/``,``-separated text; the local operator names the
    keeping ``organisation``."""
    principal.require("service:manage")
    organisation = fields.pop("organisation", None)
    values = validate_provider(fields)
    with engine.begin() as connection:
        organisation_id, slug = _owning_organisation(connection, principal, organisation)
        _check_hub_organisation(connection, values["hub_organisation"])
        if _provider_row(connection, values["slug"]) is not None:
            raise ProviderFieldError("slug", f"a provider {values['slug']} already exists")
        _insert_provider(connection, organisation_id, values)
        audit.record(
            connection,
            principal,
            "service.provider.add",
            "service_provider",
            values["slug"],
            organisation=slug,
            details={"services": values["services"]},
        )
        return _provider_info(_provider_row(connection, values["slug"]))


def _editable_row(connection: Connection, principal: Principal, slug: str) -> Any:
    row = _provider_row(connection, slug)
    if row is None:
        raise NotFoundError(f"no provider {slug}")
    if not principal.operator and row.organisation_id != principal.organisation_id:
        raise PermissionDeniedError("only the organisation keeping an entry may change it")
    return row


def _current_fields(row: Any) -> dict[str, Any]:
    return {
        key: getattr(row, key)
        for key in PROVIDER_FIELDS
        if key not in ("organisation",) and hasattr(row, key)
    }


def update_provider(engine: Engine, principal: Principal, slug: str, **fields: Any) -> ProviderInfo:
    """Change some fields of an entry (``None`` clears one); the whole entry is validated
    again. Only the keeping organisation (or the local operator) may."""
    principal.require("service:manage")
    if "slug" in fields and fields["slug"] != slug:
        raise ProviderFieldError("slug", "a provider's slug cannot change")
    if "organisation" in fields:
        raise ProviderFieldError("organisation", "the keeping organisation cannot change")
    provider = table_of(m.ServiceProvider)
    with engine.begin() as connection:
        row = _editable_row(connection, principal, slug)
        values = validate_provider({**_current_fields(row), **fields})
        _check_hub_organisation(connection, values["hub_organisation"])
        connection.execute(
            update(provider)
            .where(provider.c.id == row.id)
            .values(**{k: v for k, v in values.items() if k != "slug"}, updated_at=utcnow())
        )
        audit.record(
            connection,
            principal,
            "service.provider.update",
            "service_provider",
            slug,
            organisation=row.organisation,
            details={"fields": sorted(fields)},
        )
        return _provider_info(_provider_row(connection, slug))


def get_provider(engine: Engine, principal: Principal, slug: str) -> ProviderInfo:
    _require_reader(principal)
    with reading(engine) as connection:
        row = _provider_row(connection, slug)
    if row is None:
        raise NotFoundError(f"no provider {slug}")
    return _provider_info(row)


def list_providers(
    engine: Engine, principal: Principal, include_inactive: bool = False
) -> list[ProviderInfo]:
    """The whole directory (it holds no personal data), by name."""
    _require_reader(principal)
    provider = table_of(m.ServiceProvider)
    query = _provider_query().order_by(provider.c.name, provider.c.slug)
    if not include_inactive:
        query = query.where(provider.c.active.is_(True))
    with reading(engine) as connection:
        return [_provider_info(row) for row in connection.execute(query)]


def import_providers(
    engine: Engine, principal: Principal, path: Path | str, organisation: str | None = None
) -> ProviderImport:
    """Load a directory from CSV (one provider a row; a header naming the fields; lists
    separated by ``|``). A known slug updates its entry. All or nothing: any bad value means
    nothing is written, and ``ProviderImportError`` names file, row and column of each."""
    principal.require("service:manage")
    source = Path(path)
    problems: list[str] = []
    rows: list[tuple[int, dict[str, Any], str | None]] = []
    try:
        with source.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=detect_in(handle).separator)
            columns = [name.strip() for name in reader.fieldnames or []]
            for name in columns:
                if name not in PROVIDER_FIELDS:
                    problems.append(f"{source.name}, row 1, column {name}: unknown column")
            for required in ("slug", "name", "services"):
                if required not in columns:
                    problems.append(f"{source.name}, row 1, column {required}: missing column")
            if problems:
                raise ProviderImportError(problems)
            seen: dict[str, int] = {}
            for number, raw in enumerate(reader, start=2):
                fields = {
                    (key or "").strip(): (value or "").strip()
                    for key, value in raw.items()
                    if key is not None
                }
                if None in raw:
                    problems.append(f"{source.name}, row {number}: more values than columns")
                    continue
                owner = fields.pop("organisation", "") or organisation
                try:
                    values = validate_provider({k: v or None for k, v in fields.items()})
                except ProviderFieldError as error:
                    problems.append(f"{source.name}, row {number}, column {error}")
                    continue
                if values["slug"] in seen:
                    problems.append(
                        f"{source.name}, row {number}, column slug: already on row "
                        f"{seen[values['slug']]}"
                    )
                    continue
                seen[values["slug"]] = number
                rows.append((number, values, owner))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ProviderImportError([f"{source.name}: cannot read it ({error})"]) from None
    created: list[str] = []
    updated: list[str] = []
    provider = table_of(m.ServiceProvider)
    with engine.begin() as connection:
        for number, values, owner in rows:
            try:
                organisation_id, _ = _owning_organisation(connection, principal, owner)
                _check_hub_organisation(connection, values["hub_organisation"])
                existing = _provider_row(connection, values["slug"])
                if existing is not None and existing.organisation_id != organisation_id:
                    raise ProviderFieldError(
                        "slug", "a provider with this slug is kept by another organisation"
                    )
            except (ProviderFieldError, PermissionDeniedError) as error:
                column = error.field if isinstance(error, ProviderFieldError) else "organisation"
                message = str(error).removeprefix(f"{column}: ")
                problems.append(f"{source.name}, row {number}, column {column}: {message}")
                continue
            if existing is None:
                _insert_provider(connection, organisation_id, values)
                created.append(values["slug"])
            else:
                connection.execute(
                    update(provider)
                    .where(provider.c.id == existing.id)
                    .values(**{k: v for k, v in values.items() if k != "slug"}, updated_at=utcnow())
                )
                updated.append(values["slug"])
        if problems:
            # Raising inside the transaction rolls every row of the file back.
            raise ProviderImportError(problems)
        audit.record(
            connection,
            principal,
            "service.provider.import",
            "service_provider",
            None,
            details={"created": len(created), "updated": len(updated)},
        )
    return ProviderImport(tuple(created), tuple(updated))


# -- search ----------------------------------------------------------------------------------


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points in degrees."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Eligibility:
    """What is known of the person; an empty or None dimension is not checked."""

    sex: str | None = None
    age: int | None = None
    nationalities: tuple[str, ...] = ()
    exploitation_types: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


def _check(provider: ProviderInfo, person: Eligibility) -> tuple[list[str], list[str]]:
    """(why the provider fits, the eligibility rules the person is outside of)."""
    fits: list[str] = []
    breaks: list[str] = []

    def among(label: str, wanted: Sequence[str], accepted: Sequence[str]) -> None:
        if not wanted:
            return
        if not accepted:
            fits.append(f"{label}: no restriction")
        elif set(wanted) & set(accepted):
            fits.append(f"{label}: accepts {', '.join(w for w in wanted if w in accepted)}")
        else:
            breaks.append(f"{label} (it accepts {', '.join(accepted)} only)")

    among("sex", [person.sex] if person.sex else [], provider.sexes)
    if person.age is not None:
        low = provider.min_age if provider.min_age is not None else 0
        high = provider.max_age if provider.max_age is not None else MAX_AGE
        if provider.min_age is None and provider.max_age is None:
            fits.append("age: no restriction")
        elif low <= person.age <= high:
            fits.append(f"age: within {low}–{high}")
        else:
            breaks.append(f"age (it accepts ages {low}–{high} only)")
    among("nationality", person.nationalities, provider.nationalities)
    among("exploitation type", person.exploitation_types, provider.exploitation_types)
    among("language", person.languages, provider.languages)
    return fits, breaks


def _needs(need: str | Sequence[str]) -> list[str]:
    wanted = _as_list(need)
    if not wanted:
        raise ProviderFieldError("need", "name at least one service")
    return _codes("need", wanted, normalise_service)


def search_providers(
    engine: Engine,
    principal: Principal,
    need: str | list[str],
    *,
    sex: str | None = None,
    age: int | None = None,
    nationality: str | None = None,
    exploitation_type: str | None = None,
    language: str | None = None,
    near: tuple[float, float] | None = None,
    within_km: float | None = None,
    only_with_places: bool = False,
) -> list[ProviderMatch]:
    """Active providers offering every needed service whose rules admit the person.

    A provider with no rule on a dimension accepts everyone on it; a criterion left out is
    not checked. With ``near`` the matches come nearest first (those without coordinates
    last, or left out under ``within_km``); otherwise by name. ``only_with_places`` keeps
    the providers reporting a free place.
    """
    _require_reader(principal)
    services = _needs(need)
    person = Eligibility(
        sex=(
            None
            if sex is None
            else GENDER_TO_SEX.get(sex) or _codes("sex", sex, codelist("sex").normalise)[0]
        ),
        age=_integer("age", age, 0, MAX_AGE),
        nationalities=tuple(_codes("nationality", nationality, normalise_country)),
        exploitation_types=tuple(
            _codes("exploitation_type", exploitation_type, codelist("exploitation_type").normalise)
        ),
        languages=tuple(_codes("language", language, normalise_language)),
    )
    origin = None
    if near is not None:
        try:
            latitude, longitude = near
        except (TypeError, ValueError):
            raise ProviderFieldError("near", "give latitude,longitude") from None
        checked = (_coordinate("latitude", latitude, 90), _coordinate("longitude", longitude, 180))
        if checked[0] is None or checked[1] is None:
            raise ProviderFieldError("near", "give latitude,longitude")
        origin = (checked[0], checked[1])
    if within_km is not None:
        if origin is None:
            raise ProviderFieldError("within_km", "needs a place to measure from (near)")
        if not within_km >= 0:
            raise ProviderFieldError("within_km", "must be 0 or more")
    matches: list[ProviderMatch] = []
    for provider in list_providers(engine, principal):
        if not set(services) <= set(provider.services):
            continue
        if only_with_places and not (provider.places_free or 0) > 0:
            continue
        fits, breaks = _check(provider, person)
        if breaks:
            continue
        reasons = [f"offers {', '.join(services)}", *fits]
        if only_with_places:
            reasons.append(f"{provider.places_free} place(s) free")
        distance = None
        if origin is not None and provider.latitude is not None and provider.longitude is not None:
            distance = haversine_km(origin, (provider.latitude, provider.longitude))
            reasons.append(f"{distance:.1f} km away")
        if within_km is not None and (distance is None or distance > within_km):
            continue
        matches.append(ProviderMatch(provider, distance, tuple(reasons)))
    matches.sort(
        key=lambda match: (
            match.distance_km is None,
            match.distance_km or 0.0,
            match.provider.name.casefold(),
            match.provider.slug,
        )
    )
    return matches


# -- referrals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralInfo:
    """A referral of one person of a case to a directory provider."""

    case_id: uuid.UUID
    organisation: str
    case_external_id: str
    reference: str
    provider: str
    provider_name: str | None
    person_external_id: str | None
    services: tuple[str, ...]
    status: str
    referred_on: dt.date | None
    responded_on: dt.date | None = None
    decline_reason: str | None = None
    follow_up_task_id: uuid.UUID | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": str(self.case_id),
            "organisation": self.organisation,
            "case_external_id": self.case_external_id,
            "reference": self.reference,
            "provider": self.provider,
            "provider_name": self.provider_name,
            "person_external_id": self.person_external_id,
            "services": list(self.services),
            "status": self.status,
            "referred_on": iso_or_none(self.referred_on),
            "responded_on": iso_or_none(self.responded_on),
            "decline_reason": self.decline_reason,
        }


def _find(document: dict[str, Any], reference: str) -> tuple[int, dict[str, Any]]:
    for index, referral in enumerate(document.get("referrals", [])):
        if (
            referral.get("reference") == reference
            and referral.get("provider")
            and not referral.get("mechanism")
        ):
            return index, referral
    raise ReferralRefusedError(f"the case has no service referral {reference}")


def _referral_info(
    view: CaseView, reference: str, task_id: uuid.UUID | None = None
) -> ReferralInfo:
    _, referral = _find(view.document, reference)
    return ReferralInfo(
        view.id,
        view.organisation,
        view.document["external_id"],
        reference,
        referral["provider"],
        referral.get("to_organisation"),
        referral.get("person_external_id"),
        tuple(referral.get("services") or ()),
        referral.get("status") or "Requested",
        date_or_none(referral.get("referred_on")),
        date_or_none(referral.get("responded_on")),
        referral.get("decline_reason"),
        task_id,
    )


def _free_text(name: str, value: str | None) -> str | None:
    """Checked here rather than by the case schema, whose error would quote the text."""
    text = (value or "").strip()
    if len(text) > FREE_TEXT_LENGTH:
        raise ReferralRefusedError(f"{name}: at most {FREE_TEXT_LENGTH} characters")
    return text or None


def _age(birth_date: object, on: dt.date) -> int | None:
    born = date_or_none(birth_date)
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def person_eligibility(
    document: dict[str, Any], person_external_id: str, on: dt.date
) -> Eligibility:
    """What the case says about the person that a provider's rules look at. Language is
    left out: an interpreter can bridge it, so it narrows a search but refuses no referral."""
    for participant in document["participants"]:
        person = participant["person"]
        if person["external_id"] != person_external_id:
            continue
        victim = participant.get("victim") or {}
        return Eligibility(
            sex=GENDER_TO_SEX.get(person.get("gender") or ""),
            age=_age(person.get("birth_date"), on),
            nationalities=tuple(person.get("citizenship") or ()),
            exploitation_types=tuple(victim.get("exploitation_types") or ()),
        )
    raise ReferralRefusedError("the person is not a participant of this case")


def _active_provider(engine: Engine, slug: str) -> ProviderInfo:
    with reading(engine) as connection:
        row = _provider_row(connection, slug)
    if row is None or not row.active:
        raise NotFoundError(f"no active provider {slug} in the directory")
    return _provider_info(row)


def refer_to_provider(
    engine: Engine,
    principal: Principal,
    case_id: uuid.UUID,
    provider_slug: str,
    person_external_id: str,
    services: str | Sequence[str],
    details: str | None = None,
    if_match: str | None = None,
) -> ReferralInfo:
    """Refer a person of the case to a provider for some of its services.

    Refused (``ReferralRefusedError`` with the reason; nothing written) when the provider does not
    offer a service, the person is outside one of its eligibility rules, or the person is an
    adult (or of unknown age) whose latest answer on consent to referral is not a yes.
    Opens a follow-up task due in ``FOLLOW_UP_DAYS`` days.
    """
    principal.require("service:refer")
    provider = _active_provider(engine, provider_slug)
    wanted = _codes("services", services, normalise_service)
    if not wanted:
        raise ProviderFieldError("services", "name at least one service")
    missing = [service for service in wanted if service not in provider.services]
    if missing:
        raise ReferralRefusedError(
            f"{provider.name} does not offer {', '.join(missing)} "
            f"(it offers {', '.join(provider.services)})"
        )
    details = _free_text("details", details)
    today = dt.date.today()
    reference = f"svc-{secrets.token_hex(4)}"
    task_ids: list[uuid.UUID] = []

    def change(current: dict[str, Any]) -> dict[str, Any]:
        person = person_eligibility(current, person_external_id, today)
        # A child is referred for protection whatever the answer; an unknown age counts
        # as an adult's, so consent is asked for whenever the age is not known.
        if (
            not is_child(current, person_external_id, today)
            and consent_to_referral(current, person_external_id) is not True
        ):
            raise ReferralRefusedError(
                "the person has not consented to referral (purpose Referral): record "
                "their consent first; only a child may be referred without it"
            )
        _, breaks = _check(provider, person)
        if breaks:
            raise ReferralRefusedError(
                f"the person is outside {provider.name}'s eligibility: {'; '.join(breaks)}"
            )
        referral = {
            "direction": "Outgoing",
            "person_external_id": person_external_id,
            "reference": reference,
            "provider": provider.slug,
            "from_organisation": current["organisation"],
            "to_organisation": provider.name,
            "referred_on": today.isoformat(),
            "reason": "AdditionalServicesRequired",
            "services": wanted,
            "status": "Requested",
            "referring_case_worker": principal.username,
            "details": details,
        }
        referral = {key: value for key, value in referral.items() if value is not None}
        return {"referrals": [*current.get("referrals", []), referral]}

    def then(connection: Connection, row: Any, case: CaseRecord) -> None:
        task_ids.append(
            open_task(
                connection,
                principal,
                row.organisation_id,
                "service_follow_up",
                f"Service referral to {provider.name} ({', '.join(wanted)}): follow up if "
                "there is no answer",
                case_id=row.id,
                team=row.team,
                due_on=today + dt.timedelta(days=FOLLOW_UP_DAYS),
                source=f"referral:{reference}",
            )
        )

    view = CaseStore(engine, principal).update_case(
        case_id,
        change,
        if_match=if_match,
        action="service.refer",
        details={"reference": reference, "provider": provider.slug, "services": wanted},
        then=then,
    )
    return _referral_info(view, reference, task_ids[-1] if task_ids else None)


def _close_follow_ups(
    connection: Connection, principal: Principal, case_id: uuid.UUID, reference: str
) -> None:
    task = table_of(m.Task)
    connection.execute(
        update(task)
        .where(
            task.c.case_id == case_id,
            task.c.source == f"referral:{reference}",
            task.c.kind == "service_follow_up",
            task.c.done_at.is_(None),
        )
        .values(done_by=principal.username, done_at=utcnow())
    )


def respond_to_referral(
    engine: Engine,
    principal: Principal,
    case_id: uuid.UUID,
    reference: str,
    status: str,
    reason: str | None = None,
    on: dt.date | None = None,
) -> ReferralInfo:
    """Record the provider's answer: Requested → Accepted or Declined (with a reason),
    Accepted → Completed. The owning organisation records it (a provider on the hub tells
    it through the case it was shared); any other move is refused, naming the allowed ones.
    Closes the referral's follow-up task."""
    principal.require("service:refer")
    try:
        target = codelist("referral_status").normalise(status)
    except ValueError:
        raise ReferralRefusedError("the status is one of accepted, declined or completed") from None
    reason = _free_text("reason", reason)
    if target == "Declined" and reason is None:
        raise ReferralRefusedError("a decline needs the provider's reason")
    if target != "Declined" and reason is not None:
        raise ReferralRefusedError("a reason goes with a decline only")
    day = on or dt.date.today()
    if day > dt.date.today():
        raise ReferralRefusedError("the date of an answer cannot be in the future")
    moves: list[str] = []

    def change(current: dict[str, Any]) -> dict[str, Any]:
        index, referral = _find(current, reference)
        now = referral.get("status") or "Requested"
        allowed = MOVES.get(now, ())
        if target not in allowed:
            raise ReferralRefusedError(
                f"a {now} referral can move to {' or '.join(allowed)} only"
                if allowed
                else f"a {now} referral is closed: no further answer can be recorded"
            )
        referred = date_or_none(referral.get("referred_on"))
        if referred is not None and day < referred:
            raise ReferralRefusedError("the answer cannot be dated before the referral")
        moves.append(now)
        answered = {**referral, "status": target, "responded_on": day.isoformat()}
        if reason is not None:
            answered["decline_reason"] = reason
        referrals = list(current["referrals"])
        referrals[index] = answered
        return {"referrals": referrals}

    def then(connection: Connection, row: Any, case: CaseRecord) -> None:
        _close_follow_ups(connection, principal, row.id, reference)

    view = CaseStore(engine, principal).update_case(
        case_id,
        change,
        action="service.respond",
        details={"reference": reference, "status": target},
        then=then,
    )
    return _referral_info(view, reference)


def due_follow_ups(
    engine: Engine,
    principal: Principal,
    today: dt.date | None = None,
    days: int = FOLLOW_UP_DAYS,
) -> list[ReferralInfo]:
    """Service referrals of the principal's own cases still unanswered ``days`` days after
    they were made (oldest first): the reminders to send."""
    principal.require("case:read")
    day = today or dt.date.today()
    referral = table_of(m.Referral)
    query = (
        referral_rows()
        .where(
            referral.c.provider.is_not(None),
            referral.c.mechanism.is_(None),
            referral.c.status == "Requested",
            referral.c.referred_on <= day - dt.timedelta(days=days),
            own_scope_condition(principal),
        )
        .order_by(referral.c.referred_on, referral.c.reference)
    )
    with reading(engine) as connection:
        return [
            ReferralInfo(
                row.case_id,
                row.slug,
                row.case_external_id,
                row.reference or "",
                row.provider,
                row.to_organisation,
                row.person_external_id,
                tuple(row.services or ()),
                row.status,
                row.referred_on,
            )
            for row in connection.execute(query)
        ]
