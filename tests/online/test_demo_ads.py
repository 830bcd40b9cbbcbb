"""The demo hub's job ads: stored once for the labour inspectorate, screened, clustered."""

from __future__ import annotations

from sqlalchemy import Engine

from tiphub.cases import accounts
from tiphub.cases.access import local_operator
from tiphub.demo.ads import DEMO_ADS, DEMO_ADS_ORGANISATION, load_demo_ads
from tiphub.online.hub import stored_ads, stored_clusters, weekly_statistics


def test_demo_ads_are_stored_once_and_give_the_screens_something_to_show(engine: Engine) -> None:
    operator = local_operator("operator:test")
    accounts.add_organisation(engine, operator, DEMO_ADS_ORGANISATION, "Labour", None, None)
    assert load_demo_ads(engine, operator) == DEMO_ADS
    assert load_demo_ads(engine, operator) == 0
    ads = stored_ads(engine, operator)
    assert len(ads) == DEMO_ADS
    flagged = [ad for ad in ads if ad.flagged]
    assert 0 < len(flagged) < DEMO_ADS
    assert all(ad.indicators for ad in flagged)
    assert stored_clusters(engine, operator)
    assert any(row["dimension"] == "indicator" for row in weekly_statistics(engine, operator))
