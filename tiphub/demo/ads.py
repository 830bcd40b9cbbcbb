"""Job ads for the demo hub's online-detection screens: generated (templated networks mixed
with unrelated ads, fictional contacts only), stored for the demo labour inspectorate and
screened, so the review queue, clusters and weekly statistics have something to show."""

from __future__ import annotations

from sqlalchemy import Engine

from tiphub.cases.access import Principal

DEMO_ADS = 400
DEMO_ADS_SEED = 7
DEMO_ADS_ORGANISATION = "demo-labour"


def load_demo_ads(engine: Engine, operator: Principal) -> int:
    """Store and screen the demo ads once; returns how many were stored (0 when the demo
    organisation already has ads)."""
    from tiphub.online.generator import generate_ads
    from tiphub.online.hub import ingest_ads, stored_ads
    from tiphub.online.pipeline import screen_stored

    if any(ad.organisation == DEMO_ADS_ORGANISATION for ad in stored_ads(engine, operator)):
        return 0
    generated = generate_ads(DEMO_ADS, seed=DEMO_ADS_SEED)
    outcome = ingest_ads(engine, operator, generated.ads, organisation=DEMO_ADS_ORGANISATION)
    screen_stored(engine, operator)
    return outcome.stored
