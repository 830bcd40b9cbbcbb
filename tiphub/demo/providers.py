"""A synthetic service directory for the demo: fictional providers in the demo countries.

Every name is invented and marked "(demo)"; the coordinates are city centres, the contacts
placeholders on reserved domains. ``load_demo_providers`` adds the ones not yet present,
kept by the demo NGO (or the principal's own organisation).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from tiphub.cases import services
from tiphub.cases.access import Principal

DEMO_KEEPER = "demo-ngo"

DEMO_PROVIDERS: tuple[dict[str, Any], ...] = (
    {
        "slug": "demo-safe-harbour-london",
        "name": "Safe Harbour Shelter (demo)",
        "services": ["Accommodation", "Psychological"],
        "sexes": ["Female"],
        "min_age": 18,
        "languages": ["eng", "ron", "sqi"],
        "capacity": 24,
        "places_free": 3,
        "country": "GB",
        "city": "London",
        "latitude": 51.5074,
        "longitude": -0.1278,
    },
    {
        "slug": "demo-northern-light-manchester",
        "name": "Northern Light Men's House (demo)",
        "services": ["Accommodation", "Employment"],
        "sexes": ["Male"],
        "min_age": 18,
        "exploitation_types": ["ForcedLabour", "ForcedCriminality"],
        "languages": ["eng", "pol", "vie"],
        "capacity": 12,
        "places_free": 0,
        "country": "GB",
        "city": "Manchester",
        "latitude": 53.4808,
        "longitude": -2.2426,
    },
    {
        "slug": "demo-open-door-legal-birmingham",
        "name": "Open Door Legal Clinic (demo)",
        "services": ["Legal", "Interpretation"],
        "languages": ["eng", "ara", "vie", "sqi"],
        "country": "GB",
        "city": "Birmingham",
        "latitude": 52.4862,
        "longitude": -1.8904,
    },
    {
        "slug": "demo-young-anchor-glasgow",
        "name": "Young Anchor Children's Service (demo)",
        "services": ["Accommodation", "Psychological", "Education"],
        "max_age": 17,
        "capacity": 8,
        "places_free": 2,
        "country": "GB",
        "city": "Glasgow",
        "latitude": 55.8642,
        "longitude": -4.2518,
    },
    {
        "slug": "demo-casa-lumina-bucuresti",
        "name": "Casa Lumina (demo)",
        "services": ["Accommodation", "Medical", "Psychological"],
        "sexes": ["Female"],
        "languages": ["ron", "eng"],
        "capacity": 16,
        "places_free": 5,
        "country": "RO",
        "city": "București",
        "latitude": 44.4268,
        "longitude": 26.1025,
    },
    {
        "slug": "demo-drum-acasa-iasi",
        "name": "Drum Acasă Reintegration Centre (demo)",
        "services": ["Repatriation", "Employment", "FamilyTracing"],
        "nationalities": ["RO", "MD"],
        "languages": ["ron", "rus"],
        "country": "RO",
        "city": "Iași",
        "latitude": 47.1585,
        "longitude": 27.6014,
    },
    {
        "slug": "demo-brueckenhaus-berlin",
        "name": "Brückenhaus Beratung (demo)",
        "services": ["Legal", "Psychological", "Interpretation"],
        "languages": ["deu", "eng", "bul", "ron"],
        "country": "DE",
        "city": "Berlin",
        "latitude": 52.5200,
        "longitude": 13.4050,
    },
    {
        "slug": "demo-hafenwohnung-hamburg",
        "name": "Hafenwohnung Schutzhaus (demo)",
        "services": ["Accommodation", "Medical"],
        "sexes": ["Female"],
        "exploitation_types": ["SexualExploitation"],
        "languages": ["deu", "eng"],
        "capacity": 10,
        "places_free": 1,
        "country": "DE",
        "city": "Hamburg",
        "latitude": 53.5511,
        "longitude": 9.9937,
    },
    {
        "slug": "demo-rifugio-aurora-napoli",
        "name": "Rifugio Aurora (demo)",
        "services": ["Accommodation", "Legal", "Medical"],
        "languages": ["ita", "eng", "fra"],
        "capacity": 20,
        "places_free": 4,
        "country": "IT",
        "city": "Napoli",
        "latitude": 40.8518,
        "longitude": 14.2681,
    },
    {
        "slug": "demo-campi-liberi-foggia",
        "name": "Campi Liberi Outreach (demo)",
        "services": ["Legal", "Employment", "Medical"],
        "exploitation_types": ["ForcedLabour"],
        "languages": ["ita", "eng", "fra", "ara"],
        "country": "IT",
        "city": "Foggia",
        "latitude": 41.4622,
        "longitude": 15.5446,
    },
    {
        "slug": "demo-nadiya-odesa",
        "name": "Nadiya Support Point (demo)",
        "services": ["Psychological", "Medical", "Repatriation"],
        "languages": ["ukr", "rus"],
        "country": "UA",
        "city": "Odesa",
        "latitude": 46.4825,
        "longitude": 30.7233,
    },
    {
        "slug": "demo-veilige-haven-amsterdam",
        "name": "Veilige Haven Opvang (demo)",
        "services": ["Accommodation", "Psychological", "Legal"],
        "min_age": 18,
        "languages": ["nld", "eng"],
        "capacity": 14,
        "places_free": 0,
        "country": "NL",
        "city": "Amsterdam",
        "latitude": 52.3676,
        "longitude": 4.9041,
    },
    {
        "slug": "demo-new-dawn-benin-city",
        "name": "New Dawn Return Centre (demo)",
        "services": ["Repatriation", "Accommodation", "Employment", "FamilyTracing"],
        "nationalities": ["NG"],
        "languages": ["eng", "yor", "ibo"],
        "capacity": 30,
        "places_free": 9,
        "country": "NG",
        "city": "Benin City",
        "latitude": 6.3350,
        "longitude": 5.6037,
    },
    {
        "slug": "demo-baan-rom-bangkok",
        "name": "Baan Rom Shelter (demo)",
        "services": ["Accommodation", "Medical", "Interpretation"],
        "languages": ["tha", "mya", "khm", "eng"],
        "capacity": 40,
        "places_free": 6,
        "country": "TH",
        "city": "Bangkok",
        "latitude": 13.7563,
        "longitude": 100.5018,
    },
    {
        "slug": "demo-sea-crew-samut-sakhon",
        "name": "Sea Crew Legal Aid (demo)",
        "services": ["Legal", "Repatriation"],
        "sexes": ["Male"],
        "exploitation_types": ["ForcedLabour"],
        "languages": ["tha", "mya", "khm"],
        "country": "TH",
        "city": "Samut Sakhon",
        "latitude": 13.5475,
        "longitude": 100.2745,
    },
)


def load_demo_providers(
    engine: Engine, principal: Principal, organisation: str = DEMO_KEEPER
) -> list[str]:
    """Add the demo providers not yet in the directory; return the slugs added. The local
    operator files them under ``organisation`` (which must exist, e.g. after
    ``tiphub.demo.hub.ensure_demo_hub``); a user under their own organisation."""
    present = {p.slug for p in services.list_providers(engine, principal, include_inactive=True)}
    added: list[str] = []
    for entry in DEMO_PROVIDERS:
        if entry["slug"] in present:
            continue
        fields = dict(entry, contact=f"intake@{entry['slug']}.example")
        if principal.operator:
            fields["organisation"] = organisation
        services.add_provider(engine, principal, **fields)
        added.append(entry["slug"])
    return added
