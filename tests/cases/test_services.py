"""The service directory and referrals to its providers, on the domain API (SQLite, or
PostgreSQL with TIPHUB_TEST_DATABASE_URL like the rest of the suite)."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.factories import case, role_principal, victim
from tiphub.cases import accounts, audit, services
from tiphub.cases.access import (
    NotFoundError,
    PermissionDeniedError,
    Principal,
    local_operator,
)
from tiphub.cases.api import CaseStore
from tiphub.cases.services import (
    ProviderFieldError,
    ProviderImportError,
    ReferralRefusedError,
    add_provider,
    due_follow_ups,
    import_providers,
    list_providers,
    refer_to_provider,
    respond_to_referral,
    search_providers,
    update_provider,
)
from tiphub.cases.tasks import tasks
from tiphub.demo.providers import DEMO_PROVIDERS, load_demo_providers
from tiphub.store import models as m
from tiphub.store.models import table_of

LONDON = (51.5074, -0.1278)
PARIS = (48.8566, 2.3522)
BIRMINGHAM = (52.4862, -1.8904)
MANCHESTER = (53.4808, -2.2426)
OXFORD = (51.7520, -1.2577)
TODAY = dt.date.today()
# The factories' invented victim: neither may ever reach a task, an error or the audit log.
NAMES = ("Ana", "Popescu")


def principal(engine: Engine, username: str, organisation: str, role: str) -> Principal:
    return role_principal(engine, username, organisation, role, team="frontline")


@dataclass
class Hub:
    engine: Engine
    worker: Principal
    supervisor: Principal
    analyst: Principal
    admin: Principal
    other_supervisor: Principal


@pytest.fixture
def hub(engine: Engine) -> Hub:
    operator = local_operator("operator:test")
    for slug in ("ngo-east", "ngo-west"):
        accounts.add_organisation(engine, operator, slug, slug)
    return Hub(
        engine,
        principal(engine, "worker@ngo-east", "ngo-east", "caseworker"),
        principal(engine, "super@ngo-east", "ngo-east", "supervisor"),
        principal(engine, "analyst@ngo-east", "ngo-east", "analyst"),
        principal(engine, "admin@ngo-east", "ngo-east", "admin"),
        principal(engine, "super@ngo-west", "ngo-west", "supervisor"),
    )


def provider(hub: Hub, slug: str, **fields: Any) -> services.ProviderInfo:
    values: dict[str, Any] = {"name": slug.replace("-", " ").title(), "services": ["shelter"]}
    values.update(fields)
    return add_provider(hub.engine, hub.supervisor, slug=slug, **values)


def at(point: tuple[float, float]) -> dict[str, float]:
    return {"latitude": point[0], "longitude": point[1]}


def cosine_law_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance by the spherical law of cosines: another formula than the
    module's haversine, so the two check each other."""
    lat1, lon1, lat2, lon2 = (math.radians(v) for v in (*a, *b))
    cosine = math.sin(lat1) * math.sin(lat2) + math.cos(lat1) * math.cos(lat2) * math.cos(
        lon2 - lon1
    )
    return 6371.0 * math.acos(max(-1.0, min(1.0, cosine)))


# -- the directory ---------------------------------------------------------------------------


def test_a_provider_is_stored_with_normalised_codes(hub: Hub) -> None:
    added = provider(
        hub,
        "harbour",
        name="Safe Harbour Shelter",
        services=[
            "shelter",
            "medical",
            "legal",
            "psychological",
            "interpretation",
            "repatriation",
            "employment",
        ],
        sexes=["female"],
        min_age=18,
        max_age=65,
        nationalities="ro|md",
        exploitation_types=["Sexual exploitation"],
        languages=["en", "ron"],
        capacity=10,
        places_free=2,
        country="GBR",
        city="London",
        **at(LONDON),
    )
    assert added.services == (
        "Accommodation",
        "Medical",
        "Legal",
        "Psychological",
        "Interpretation",
        "Repatriation",
        "Employment",
    )
    assert added.sexes == ("Female",)
    assert added.nationalities == ("RO", "MD")
    assert added.exploitation_types == ("SexualExploitation",)
    assert added.languages == ("eng", "ron")
    assert added.country == "GB" and added.organisation == "ngo-east"
    assert [p.slug for p in list_providers(hub.engine, hub.analyst)] == ["harbour"]
    [entry] = [e for e in audit.iter_entries(hub.engine) if e["action"] == "service.provider.add"]
    assert entry["resource_id"] == "harbour" and entry["organisation"] == "ngo-east"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"services": ["teleportation"]}, "services"),
        ({"services": []}, "services"),
        ({"sexes": ["Robot"]}, "sexes"),
        ({"min_age": 121}, "min_age"),
        ({"max_age": -1}, "max_age"),
        ({"min_age": 30, "max_age": 20}, "max_age"),
        ({"min_age": "adult"}, "min_age"),
        ({"nationalities": ["Atlantis"]}, "nationalities"),
        ({"exploitation_types": ["Gardening"]}, "exploitation_types"),
        ({"languages": ["klingonese"]}, "languages"),
        ({"capacity": -1}, "capacity"),
        ({"capacity": 2, "places_free": 3}, "places_free"),
        ({"latitude": 91, "longitude": 0}, "latitude"),
        ({"latitude": 0, "longitude": 181}, "longitude"),
        ({"latitude": 10}, "longitude"),
        ({"country": "Narnia"}, "country"),
        ({"name": " "}, "name"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_provider_fields_are_named(hub: Hub, fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: ") as caught:
        provider(hub, "bad", **fields)
    assert isinstance(caught.value, ProviderFieldError) and caught.value.field == field
    assert list_providers(hub.engine, hub.supervisor, include_inactive=True) == []


def test_bad_slug_and_duplicate_slug(hub: Hub) -> None:
    with pytest.raises(ProviderFieldError, match=r"^slug: "):
        provider(hub, "Not A Slug")
    provider(hub, "harbour")
    with pytest.raises(ProviderFieldError, match="already exists"):
        provider(hub, "harbour")


def test_who_may_manage_and_search_the_directory(hub: Hub) -> None:
    with pytest.raises(PermissionDeniedError):
        add_provider(hub.engine, hub.worker, slug="x", name="X", services=["Legal"])
    provider(hub, "harbour")
    with pytest.raises(PermissionDeniedError):
        update_provider(hub.engine, hub.other_supervisor, "harbour", places_free=1)
    with pytest.raises(PermissionDeniedError):
        search_providers(hub.engine, hub.admin, "shelter")
    # Everyone who reads cases searches the whole hub's directory.
    for reader in (hub.worker, hub.analyst, hub.other_supervisor):
        assert [m.provider.slug for m in search_providers(hub.engine, reader, "shelter")] == [
            "harbour"
        ]
    with pytest.raises(ProviderFieldError, match="organisation"):
        add_provider(hub.engine, local_operator(), slug="y", name="Y", services=["Legal"])


def test_update_revalidates_the_whole_entry(hub: Hub) -> None:
    provider(hub, "harbour", min_age=18, capacity=10, places_free=1)
    updated = update_provider(hub.engine, hub.supervisor, "harbour", places_free=4)
    assert updated.places_free == 4 and updated.min_age == 18
    with pytest.raises(ProviderFieldError, match=r"^max_age: "):
        update_provider(hub.engine, hub.supervisor, "harbour", max_age=10)
    with pytest.raises(ProviderFieldError, match=r"^places_free: "):
        update_provider(hub.engine, hub.supervisor, "harbour", places_free=11)
    assert list_providers(hub.engine, hub.supervisor)[0].places_free == 4
    cleared = update_provider(hub.engine, hub.supervisor, "harbour", min_age=None, active=False)
    assert cleared.min_age is None and not cleared.active
    assert list_providers(hub.engine, hub.supervisor) == []
    with pytest.raises(NotFoundError):
        update_provider(hub.engine, hub.supervisor, "nowhere", places_free=1)


# -- search ----------------------------------------------------------------------------------


def test_the_haversine_matches_known_city_pairs() -> None:
    assert services.haversine_km(LONDON, PARIS) == pytest.approx(344, abs=2)
    assert services.haversine_km(LONDON, LONDON) == 0
    for a, b in [(LONDON, PARIS), (BIRMINGHAM, MANCHESTER), (LONDON, (40.7128, -74.0060))]:
        assert services.haversine_km(a, b) == pytest.approx(cosine_law_km(a, b), rel=1e-3)


def test_matches_come_nearest_first_with_their_distance(hub: Hub) -> None:
    provider(hub, "paris", name="Paris shelter", **at(PARIS))
    provider(hub, "birmingham", name="Birmingham shelter", **at(BIRMINGHAM))
    provider(hub, "manchester", name="Manchester shelter", **at(MANCHESTER))
    provider(hub, "oxford", name="Oxford shelter", **at(OXFORD))
    provider(hub, "nowhere", name="A shelter without coordinates")
    provider(hub, "legal-only", name="Legal clinic", services=["Legal"], **at(LONDON))
    found = search_providers(hub.engine, hub.worker, "shelter", near=LONDON)
    places = {"paris": PARIS, "birmingham": BIRMINGHAM, "manchester": MANCHESTER, "oxford": OXFORD}
    expected = sorted(places, key=lambda slug: cosine_law_km(LONDON, places[slug]))
    assert [match.provider.slug for match in found] == [*expected, "nowhere"]
    for match in found[:-1]:
        distance = cosine_law_km(LONDON, places[match.provider.slug])
        assert match.distance_km == pytest.approx(distance, rel=2e-3)
        assert f"{match.distance_km:.1f} km away" in match.reasons
    assert found[-1].distance_km is None
    paris = next(match for match in found if match.provider.slug == "paris")
    assert paris.distance_km == pytest.approx(344, abs=2)
    within = search_providers(hub.engine, hub.worker, "shelter", near=LONDON, within_km=200)
    assert [match.provider.slug for match in within] == ["oxford", "birmingham"]
    # Without a place: by name.
    by_name = [m.provider.name for m in search_providers(hub.engine, hub.worker, "Accommodation")]
    assert by_name == sorted(by_name, key=str.casefold)


def test_equal_distances_are_ordered_by_name(hub: Hub) -> None:
    provider(hub, "b", name="Beta house", **at(OXFORD))
    provider(hub, "a", name="alpha house", **at(OXFORD))
    found = search_providers(hub.engine, hub.worker, "shelter", near=LONDON)
    assert [match.provider.name for match in found] == ["alpha house", "Beta house"]


def test_eligibility_filters(hub: Hub) -> None:
    provider(hub, "open", name="Open to all")
    provider(
        hub,
        "women",
        name="Women 18-60 from RO or MD, sexual exploitation, Romanian speaking",
        sexes=["Female"],
        min_age=18,
        max_age=60,
        nationalities=["RO", "MD"],
        exploitation_types=["SexualExploitation"],
        languages=["ron"],
    )
    provider(hub, "children", name="Children", max_age=17)

    def slugs(**criteria: Any) -> list[str]:
        return sorted(
            m.provider.slug for m in search_providers(hub.engine, hub.worker, "shelter", **criteria)
        )

    assert slugs() == ["children", "open", "women"]
    assert slugs(sex="Female") == ["children", "open", "women"]
    assert slugs(sex="Male") == ["children", "open"]
    assert slugs(sex="Feminine") == ["children", "open", "women"]
    assert slugs(age=30) == ["open", "women"]
    assert slugs(age=12) == ["children", "open"]
    assert slugs(age=60) == ["open", "women"]
    assert slugs(age=61) == ["open"]
    assert slugs(nationality="MDA") == ["children", "open", "women"]
    assert slugs(nationality="NG") == ["children", "open"]
    assert slugs(exploitation_type="Forced labour") == ["children", "open"]
    assert slugs(language="ro") == ["children", "open", "women"]
    assert slugs(language="de") == ["children", "open"]
    assert slugs(sex="Female", age=25, nationality="RO", language="ron") == ["open", "women"]
    [women] = [
        m
        for m in search_providers(hub.engine, hub.worker, "shelter", sex="Female", age=25)
        if m.provider.slug == "women"
    ]
    assert "sex: accepts Female" in women.reasons and "age: within 18–60" in women.reasons
    [open_one] = [
        m
        for m in search_providers(hub.engine, hub.worker, "shelter", sex="Female")
        if m.provider.slug == "open"
    ]
    assert "sex: no restriction" in open_one.reasons


def test_needs_places_and_bad_criteria(hub: Hub) -> None:
    provider(hub, "full", services=["shelter", "medical"], capacity=5, places_free=0)
    provider(hub, "free", services=["shelter"], capacity=5, places_free=2)
    provider(hub, "untracked", services=["shelter", "medical"])

    def slugs(need: str | list[str], **criteria: Any) -> list[str]:
        return sorted(
            m.provider.slug for m in search_providers(hub.engine, hub.worker, need, **criteria)
        )

    assert slugs(["shelter", "medical"]) == ["full", "untracked"]
    assert slugs("shelter,medical") == ["full", "untracked"]
    assert slugs("shelter", only_with_places=True) == ["free"]
    refused: list[tuple[str, dict[str, Any], str]] = [
        ("teleportation", {}, "need"),
        ("", {}, "need"),
        ("shelter", {"age": 200}, "age"),
        ("shelter", {"sex": "Robot"}, "sex"),
        ("shelter", {"within_km": 10}, "within_km"),
        ("shelter", {"near": (95.0, 0.0)}, "latitude"),
        ("shelter", {"near": LONDON, "within_km": -1}, "within_km"),
    ]
    for need, criteria, field in refused:
        with pytest.raises(ProviderFieldError) as caught:
            search_providers(hub.engine, hub.worker, need, **criteria)
        assert caught.value.field == field


# -- import ----------------------------------------------------------------------------------

GOOD_CSV = (
    "slug,name,services,sexes,min_age,max_age,nationalities,languages,capacity,places_free,"
    "country,city,latitude,longitude\n"
    "harbour,Safe Harbour,shelter|medical,Female,18,,,en|ro,10,2,GB,London,51.5074,-0.1278\n"
    "clinic,Legal Clinic,legal,,,,RO|MD,,,,GB,Birmingham,52.4862,-1.8904\n"
)


def test_import_loads_a_directory_and_updates_known_slugs(hub: Hub, tmp_path: Path) -> None:
    path = tmp_path / "providers.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    first = import_providers(hub.engine, hub.supervisor, path)
    assert first.created == ("harbour", "clinic") and first.updated == ()
    harbour = next(p for p in list_providers(hub.engine, hub.worker) if p.slug == "harbour")
    assert harbour.services == ("Accommodation", "Medical") and harbour.min_age == 18
    assert harbour.languages == ("eng", "ron") and harbour.latitude == pytest.approx(51.5074)
    path.write_text(GOOD_CSV.replace(",10,2,", ",10,7,"), encoding="utf-8")
    second = import_providers(hub.engine, hub.supervisor, path)
    assert second.created == () and second.updated == ("harbour", "clinic")
    assert (
        next(p for p in list_providers(hub.engine, hub.worker) if p.slug == "harbour").places_free
        == 7
    )


def test_a_bad_file_imports_nothing_and_names_file_row_and_column(hub: Hub, tmp_path: Path) -> None:
    path = tmp_path / "directory.csv"
    bad = GOOD_CSV + "young,Young,shelter,,,200,,,,,,,,\nodd,Odd,shelter,,,,,,,,,,95,0\n"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ProviderImportError) as caught:
        import_providers(hub.engine, hub.supervisor, path)
    assert caught.value.problems == [
        "directory.csv, row 4, column max_age: must be 0..120",
        "directory.csv, row 5, column latitude: must be between -90 and 90",
    ]
    assert list_providers(hub.engine, hub.supervisor, include_inactive=True) == []
    path.write_text("slug,name,services,colour\nx,X,legal,blue\n", encoding="utf-8")
    with pytest.raises(ProviderImportError, match="row 1, column colour: unknown column"):
        import_providers(hub.engine, hub.supervisor, path)
    # A slug kept by another organisation is refused, and with it the whole file.
    path.write_text(GOOD_CSV, encoding="utf-8")
    import_providers(hub.engine, hub.supervisor, path)
    path.write_text(GOOD_CSV + "new-one,New,legal,,,,,,,,,,,\n", encoding="utf-8")
    with pytest.raises(ProviderImportError, match=r"row 2, column slug: .*another organisation"):
        import_providers(hub.engine, hub.other_supervisor, path)
    assert "new-one" not in {p.slug for p in list_providers(hub.engine, hub.supervisor)}


# -- referrals -------------------------------------------------------------------------------


def referral_consent(given: bool, on: dt.date | None = None) -> dict[str, Any]:
    return {
        "person_external_id": "p1",
        "purpose": "Referral",
        "given": given,
        "recorded_on": (on or TODAY - dt.timedelta(days=3)).isoformat(),
    }


def new_case(hub: Hub, external_id: str = "case-1", **fields: Any) -> uuid.UUID:
    document = case(external_id, **fields)
    document["consents"] = [*document["consents"], *fields.get("extra_consents", [])]
    document.pop("extra_consents", None)
    store = CaseStore(hub.engine, hub.worker)
    store.create(document)
    case_id = store.case_id_of("ngo-east", external_id)
    assert case_id is not None
    return case_id


def consenting_case(hub: Hub, external_id: str = "case-1", **person: Any) -> uuid.UUID:
    return new_case(
        hub,
        external_id,
        participants=[victim(**person)],
        extra_consents=[referral_consent(True)],
    )


def harbour(hub: Hub, **fields: Any) -> services.ProviderInfo:
    values: dict[str, Any] = {
        "name": "Safe Harbour Shelter",
        "services": ["shelter", "medical", "legal"],
        "sexes": ["Female"],
        "min_age": 18,
    }
    values.update(fields)
    return provider(hub, "harbour", **values)


def document_of(hub: Hub, case_id: uuid.UUID) -> dict[str, Any]:
    return CaseStore(hub.engine, hub.worker).read(case_id, audited=False).document


def follow_up_tasks(hub: Hub, case_id: uuid.UUID) -> list[Any]:
    return [
        t
        for t in tasks(hub.engine, hub.worker, case_id=case_id, include_done=True)
        if t.kind == "service_follow_up"
    ]


def test_a_consenting_adult_is_referred_and_a_follow_up_task_opened(hub: Hub) -> None:
    harbour(hub)
    case_id = consenting_case(hub)
    referral = refer_to_provider(
        hub.engine, hub.worker, case_id, "harbour", "p1", ["shelter", "Medical care"]
    )
    assert referral.reference.startswith("svc-") and referral.status == "Requested"
    assert referral.services == ("Accommodation", "Medical")
    assert referral.referred_on == TODAY and referral.provider == "harbour"
    [stored] = document_of(hub, case_id)["referrals"]
    assert stored["direction"] == "Outgoing" and stored["provider"] == "harbour"
    assert stored["to_organisation"] == "Safe Harbour Shelter"
    assert stored["person_external_id"] == "p1" and stored["reference"] == referral.reference
    [task] = follow_up_tasks(hub, case_id)
    assert task.id == referral.follow_up_task_id
    assert task.due_on == TODAY + dt.timedelta(days=5) and task.done_at is None
    assert "Safe Harbour Shelter" in task.title and "Accommodation, Medical" in task.title
    assert not any(name in task.title for name in NAMES) and "p1" not in task.title
    [entry] = [e for e in audit.iter_entries(hub.engine) if e["action"] == "service.refer"]
    assert entry["details"]["reference"] == referral.reference
    assert entry["details"]["services"] == ["Accommodation", "Medical"]
    assert not any(name in str(entry) for name in NAMES)


def _nothing_written(hub: Hub, case_id: uuid.UUID, version_before: int) -> None:
    view = CaseStore(hub.engine, hub.worker).read(case_id, audited=False)
    assert view.version == version_before
    assert view.document.get("referrals", []) == []
    assert follow_up_tasks(hub, case_id) == []
    assert not [e for e in audit.iter_entries(hub.engine) if e["action"] == "service.refer"]


@pytest.mark.parametrize(
    "consents",
    [
        [],
        [referral_consent(False)],
        # The latest answer counts: a yes later withdrawn is a no.
        [
            referral_consent(True, TODAY - dt.timedelta(days=9)),
            referral_consent(False, TODAY - dt.timedelta(days=2)),
        ],
    ],
)
def test_an_adult_without_consent_is_not_referred(hub: Hub, consents: list[dict[str, Any]]) -> None:
    harbour(hub)
    case_id = new_case(hub, extra_consents=consents)
    version = CaseStore(hub.engine, hub.worker).read(case_id, audited=False).version
    with pytest.raises(ReferralRefusedError, match="consented to referral") as caught:
        refer_to_provider(hub.engine, hub.worker, case_id, "harbour", "p1", ["shelter"])
    assert not any(name in str(caught.value) for name in NAMES)
    _nothing_written(hub, case_id, version)


def test_unknown_age_counts_as_an_adult(hub: Hub) -> None:
    provider(hub, "open", name="Open shelter")
    case_id = new_case(hub, participants=[victim(birth_date=None)])
    with pytest.raises(ReferralRefusedError, match="consented"):
        refer_to_provider(hub.engine, hub.worker, case_id, "open", "p1", "shelter")


def test_a_child_is_referred_without_consent(hub: Hub) -> None:
    provider(hub, "young", name="Young Anchor", services=["shelter"], max_age=17)
    born = dt.date(TODAY.year - 15, 1, 1)
    case_id = new_case(hub, participants=[victim(birth_date=born.isoformat())])
    referral = refer_to_provider(hub.engine, hub.worker, case_id, "young", "p1", ["shelter"])
    assert referral.status == "Requested"
    assert len(follow_up_tasks(hub, case_id)) == 1


def test_the_provider_must_offer_the_service_and_admit_the_person(hub: Hub) -> None:
    harbour(hub, nationalities=["MD"])
    case_id = consenting_case(hub)
    version = CaseStore(hub.engine, hub.worker).read(case_id, audited=False).version
    with pytest.raises(ReferralRefusedError, match="does not offer Repatriation"):
        refer_to_provider(hub.engine, hub.worker, case_id, "harbour", "p1", ["repatriation"])
    with pytest.raises(ReferralRefusedError, match=r"eligibility: nationality \(it accepts MD"):
        refer_to_provider(hub.engine, hub.worker, case_id, "harbour", "p1", ["shelter"])
    _nothing_written(hub, case_id, version)

    male_case = consenting_case(hub, "case-2", gender="Masculine", citizenship=["MD"])
    with pytest.raises(ReferralRefusedError, match=r"sex \(it accepts Female only\)"):
        refer_to_provider(hub.engine, hub.worker, male_case, "harbour", "p1", ["shelter"])
    child = dt.date(TODAY.year - 10, 1, 1).isoformat()
    young_case = consenting_case(hub, "case-3", birth_date=child, citizenship=["MD"])
    with pytest.raises(ReferralRefusedError, match=r"age \(it accepts ages 18–120 only\)"):
        refer_to_provider(hub.engine, hub.worker, young_case, "harbour", "p1", ["shelter"])
    labour = provider(hub, "farm", services=["legal"], exploitation_types=["ForcedLabour"])
    with pytest.raises(ReferralRefusedError, match="exploitation type"):
        refer_to_provider(hub.engine, hub.worker, case_id, labour.slug, "p1", ["legal"])
    with pytest.raises(ReferralRefusedError, match="not a participant"):
        refer_to_provider(hub.engine, hub.worker, case_id, "harbour", "p9", ["shelter"])
    with pytest.raises(NotFoundError):
        refer_to_provider(hub.engine, hub.worker, case_id, "nowhere", "p1", ["shelter"])
    with pytest.raises(PermissionDeniedError):
        refer_to_provider(hub.engine, hub.analyst, case_id, "harbour", "p1", ["shelter"])


def test_decline_needs_a_reason_and_closes_the_follow_up(hub: Hub) -> None:
    harbour(hub)
    case_id = consenting_case(hub)
    reference = refer_to_provider(
        hub.engine, hub.worker, case_id, "harbour", "p1", ["shelter"]
    ).reference
    with pytest.raises(ReferralRefusedError, match="needs the provider's reason"):
        respond_to_referral(hub.engine, hub.worker, case_id, reference, "declined")
    with pytest.raises(ReferralRefusedError, match="needs the provider's reason"):
        respond_to_referral(hub.engine, hub.worker, case_id, reference, "Declined", reason="  ")
    assert follow_up_tasks(hub, case_id)[0].done_at is None
    declined = respond_to_referral(
        hub.engine, hub.worker, case_id, reference, "declined", reason="No bed until March"
    )
    assert declined.status == "Declined" and declined.responded_on == TODAY
    assert declined.decline_reason == "No bed until March"
    [task] = follow_up_tasks(hub, case_id)
    assert task.done_at is not None and task.done_by == "worker@ngo-east"
    [entry] = [e for e in audit.iter_entries(hub.engine) if e["action"] == "service.respond"]
    assert entry["details"]["status"] == "Declined" and "No bed" not in str(entry)
    # A declined referral is closed.
    with pytest.raises(ReferralRefusedError, match="Declined referral is closed"):
        respond_to_referral(hub.engine, hub.worker, case_id, reference, "accepted")


def test_accepted_then_completed_and_illegal_moves(hub: Hub) -> None:
    harbour(hub)
    case_id = consenting_case(hub)
    reference = refer_to_provider(
        hub.engine, hub.worker, case_id, "harbour", "p1", ["shelter"]
    ).reference
    with pytest.raises(
        ReferralRefusedError, match="Requested referral can move to Accepted or Declined only"
    ):
        respond_to_referral(hub.engine, hub.worker, case_id, reference, "completed")
    with pytest.raises(ReferralRefusedError, match="can move to Accepted or Declined only"):
        respond_to_referral(hub.engine, hub.worker, case_id, reference, "requested")
    with pytest.raises(ReferralRefusedError, match="accepted, declined or completed"):
        respond_to_referral(hub.engine, hub.worker, case_id, reference, "maybe")
    with pytest.raises(ReferralRefusedError, match="decline only"):
        respond_to_referral(hub.engine, hub.worker, case_id, reference, "accepted", reason="x")
    with pytest.raises(ReferralRefusedError, match="future"):
        respond_to_referral(
            hub.engine, hub.worker, case_id, reference, "accepted", on=TODAY + dt.timedelta(1)
        )
    with pytest.raises(ReferralRefusedError, match="no service referral"):
        respond_to_referral(hub.engine, hub.worker, case_id, "svc-00000000", "accepted")
    accepted = respond_to_referral(hub.engine, hub.worker, case_id, reference, "accepted")
    assert accepted.status == "Accepted" and follow_up_tasks(hub, case_id)[0].done_at is not None
    with pytest.raises(ReferralRefusedError, match="Accepted referral can move to Completed only"):
        respond_to_referral(hub.engine, hub.worker, case_id, reference, "declined", reason="x")
    completed = respond_to_referral(hub.engine, hub.worker, case_id, reference, "Completed")
    assert completed.status == "Completed" and completed.responded_on == TODAY
    with pytest.raises(ReferralRefusedError, match="closed"):
        respond_to_referral(hub.engine, hub.worker, case_id, reference, "completed")
    history = CaseStore(hub.engine, hub.worker).history_of(case_id)
    statuses = [v.data["referrals"][0]["status"] for v in history if v.data.get("referrals")]
    assert statuses == ["Requested", "Accepted", "Completed"]


def test_due_follow_ups_are_the_unanswered_referrals(hub: Hub) -> None:
    harbour(hub)
    first = consenting_case(hub, "case-1")
    second = consenting_case(hub, "case-2")
    answered = refer_to_provider(hub.engine, hub.worker, first, "harbour", "p1", ["shelter"])
    waiting = refer_to_provider(hub.engine, hub.worker, second, "harbour", "p1", ["legal"])
    assert due_follow_ups(hub.engine, hub.worker, today=TODAY + dt.timedelta(days=4)) == []
    respond_to_referral(hub.engine, hub.worker, first, answered.reference, "accepted")
    due = due_follow_ups(hub.engine, hub.worker, today=TODAY + dt.timedelta(days=5))
    assert [(r.reference, r.case_external_id, r.services) for r in due] == [
        (waiting.reference, "case-2", ("Legal",))
    ]
    assert due[0].person_external_id == "p1" and due[0].provider_name == "Safe Harbour Shelter"
    assert due_follow_ups(hub.engine, hub.worker, today=TODAY, days=0)[0].reference == (
        waiting.reference
    )
    # Another organisation's reminders are not this one's.
    assert due_follow_ups(hub.engine, hub.other_supervisor, today=TODAY + dt.timedelta(9)) == []


def test_a_case_shared_with_another_organisation_cannot_be_referred_by_it(hub: Hub) -> None:
    harbour(hub)
    case_id = consenting_case(hub)
    with pytest.raises(NotFoundError):
        refer_to_provider(hub.engine, hub.other_supervisor, case_id, "harbour", "p1", ["shelter"])
    referral = table_of(m.Referral)
    with hub.engine.connect() as connection:
        assert connection.execute(select(referral.c.id)).first() is None


# -- demo ------------------------------------------------------------------------------------


def test_demo_providers_load_once_and_are_searchable(hub: Hub) -> None:
    operator = local_operator("operator:test")
    added = load_demo_providers(hub.engine, operator, organisation="ngo-east")
    assert len(added) == len(DEMO_PROVIDERS) >= 15
    assert load_demo_providers(hub.engine, operator, organisation="ngo-east") == []
    assert all("(demo)" in p.name for p in list_providers(hub.engine, hub.worker))
    nearest = search_providers(hub.engine, hub.worker, "shelter", sex="Female", near=LONDON)
    assert nearest[0].provider.name == "Safe Harbour Shelter (demo)"


def test_over_long_free_text_is_refused_without_quoting_it(hub: Hub) -> None:
    harbour(hub)
    case_id = consenting_case(hub)
    text = "Ana Popescu " * 9_000
    with pytest.raises(ReferralRefusedError, match=r"^details: at most") as caught:
        refer_to_provider(hub.engine, hub.worker, case_id, "harbour", "p1", "shelter", text)
    assert "Popescu" not in str(caught.value)
    reference = refer_to_provider(hub.engine, hub.worker, case_id, "harbour", "p1", "shelter")
    with pytest.raises(ReferralRefusedError, match=r"^reason: at most") as caught:
        respond_to_referral(
            hub.engine, hub.worker, case_id, reference.reference, "declined", reason=text
        )
    assert "Popescu" not in str(caught.value)
